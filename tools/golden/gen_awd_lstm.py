"""Golden fixtures for fastai's AWD-LSTM language model and text classifier (nn/awd_lstm.h,
nn/text_classifier.h).

Run with Debian's python3 (has python3-torch):  /usr/bin/python3 tools/golden/gen_awd_lstm.py
Writes tests/fixtures/awd_lstm.safetensors.

fastai is not installed, so the models are written here in plain torch following fastai's
documented architecture (AWD_LSTM, LinearDecoder, SequentialRNN, SentenceEncoder,
PoolingLinearClassifier, LinBnDrop, pad_input_chunk) with the same module tree, so the state dict
names are fastai's ("0.encoder.weight", "0.encoder_dp.emb.weight", "0.rnns.1.weight_hh_l0_raw",
"0.rnns.1.module.weight_ih_l0", "1.decoder.bias", "0.module.encoder.weight", "1.layers.0.0.weight").
Everything runs in eval mode (the dropouts are the identity), so the outputs are deterministic.

Keys:
  lm/p/<name>       the LM's full state dict (with fastai's aliases encoder_dp.emb.weight and the
                    tied 1.decoder.weight)
  lm/x, lm/x2       two consecutive token batches [B, T] (the second call starts from the state
                    the first left)
  lm/y, lm/y2       their logits [B, T, V]
  lm/target         targets of the first batch; lm/loss = cross_entropy(y, target) and lm/g/<name>
                    the gradient of every parameter (eval mode, one backward from a reset state)
  clas/p/<name>     the classifier's state dict (BN running statistics randomised)
  clas/seqs, clas/lens  the raw token sequences (concatenated) and their lengths
  clas_first/x      pad_input_chunk(seqs, pad_first=True, seq_len=bptt); clas_last/x with pad_first=False
  clas_*/max_len    the SentenceEncoder's max_len for that case (0: none)
  clas_*/y          classifier logits; clas_*/target, clas_*/loss = cross_entropy(y, target) and
                    clas_*/g/<name>: the gradient of every parameter
  clas_*/enc, clas_*/mask   the SentenceEncoder's outputs and padding mask
"""
import torch
import torch.nn as nn
import torch.nn.functional as F

import common

torch.manual_seed(0)
OUT = {}

VOCAB, EMB, HID, LAYERS, PAD = 23, 6, 8, 3, 1
BPTT, N_CLASS, LIN = 5, 3, 7


# ---- the encoder (eval-mode semantics; the dropout modules hold their p only)

class RNNDropout(nn.Module):
    def __init__(self, p):
        super().__init__()
        self.p = p

    def forward(self, x):
        assert not self.training
        return x


class EmbeddingDropout(nn.Module):
    def __init__(self, emb, p):
        super().__init__()
        self.emb, self.embed_p = emb, p  # registers the embedding a second time, as fastai does

    def forward(self, words):
        assert not self.training
        return F.embedding(words, self.emb.weight, self.emb.padding_idx)


class WeightDropout(nn.Module):
    """An LSTM whose weight_hh_l0 lives here as weight_hh_l0_raw (fastai's parameter names)."""

    def __init__(self, lstm, p):
        super().__init__()
        self.module, self.weight_p = lstm, p
        w = lstm.weight_hh_l0
        del lstm._parameters["weight_hh_l0"]
        self.weight_hh_l0_raw = nn.Parameter(w.detach().clone())
        setattr(lstm, "weight_hh_l0", w.detach().clone())

    def forward(self, x, state):
        assert not self.training
        # RNNBase.__setattr__ routes this into the LSTM's flat weight list; the clone keeps the
        # graph back to the raw parameter.
        setattr(self.module, "weight_hh_l0", self.weight_hh_l0_raw.clone())
        return self.module(x, state)


class AWDLSTM(nn.Module):
    def __init__(self, vocab, emb, hid, layers, pad):
        super().__init__()
        self.emb_sz, self.n_hid, self.n_layers = emb, hid, layers
        self.encoder = nn.Embedding(vocab, emb, padding_idx=pad)
        self.encoder_dp = EmbeddingDropout(self.encoder, 0.05)
        self.rnns = nn.ModuleList(
            [WeightDropout(nn.LSTM(emb if l == 0 else hid, hid if l < layers - 1 else emb, 1, batch_first=True), 0.5)
             for l in range(layers)])
        self.input_dp = RNNDropout(0.4)
        self.hidden_dps = nn.ModuleList([RNNDropout(0.3) for _ in range(layers)])
        self.bs = 1
        self.reset()

    def width(self, l):
        return self.n_hid if l < self.n_layers - 1 else self.emb_sz

    def reset(self):
        self.hidden = [(torch.zeros(1, self.bs, self.width(l)), torch.zeros(1, self.bs, self.width(l)))
                       for l in range(self.n_layers)]

    def resize_hidden(self, bs):
        # A smaller batch keeps the first rows' states, a larger one adds zero states.
        new = []
        for l, (h, c) in enumerate(self.hidden):
            if bs <= self.bs:
                new.append((h[:, :bs].contiguous(), c[:, :bs].contiguous()))
            else:
                z = torch.zeros(1, bs - self.bs, self.width(l))
                new.append((torch.cat([h, z], 1), torch.cat([c, z], 1)))
        self.hidden, self.bs = new, bs

    def forward(self, tokens):
        if tokens.shape[0] != self.bs:
            self.resize_hidden(tokens.shape[0])
        x = self.input_dp(self.encoder_dp(tokens))
        states = []
        for l in range(self.n_layers):
            x, st = self.rnns[l](x, self.hidden[l])
            states.append(st)
            if l < self.n_layers - 1:
                x = self.hidden_dps[l](x)
        self.hidden = [(h.detach(), c.detach()) for h, c in states]
        return x


class LinearDecoder(nn.Module):
    def __init__(self, n_out, n_hid, tie):
        super().__init__()
        self.decoder = nn.Linear(n_hid, n_out)
        self.output_dp = RNNDropout(0.1)
        self.decoder.weight = tie.weight

    def forward(self, x):
        return self.decoder(self.output_dp(x))


class SequentialRNN(nn.Sequential):
    def reset(self):
        for c in self.children():
            if hasattr(c, "reset"):
                c.reset()


class SentenceEncoder(nn.Module):
    def __init__(self, bptt, module, pad_idx, max_len):
        super().__init__()
        self.bptt, self.module, self.pad_idx, self.max_len = bptt, module, pad_idx, max_len

    def reset(self):
        self.module.reset()

    def forward(self, tokens):
        bs, sl = tokens.shape
        self.reset()
        pad = tokens == self.pad_idx
        outs, masks = [], []
        for i in range(0, sl, self.bptt):
            j = min(i + self.bptt, sl)
            # rows not padded at the piece's first column (a batch sorted by length puts them first)
            n = int((tokens[:, i] != self.pad_idx).sum())
            o = self.module(tokens[:n, i:j])
            if self.max_len is None or sl - i <= self.max_len:
                if n < bs:
                    o = torch.cat([o, o.new_zeros(bs - n, *o.shape[1:])])
                outs.append(o)
                masks.append(pad[:, i:j])
        return torch.cat(outs, 1), torch.cat(masks, 1)


def concat_pool(out, mask, bptt):
    n_real = out.shape[1] - mask.long().sum(1)
    n_tail_pad = mask[:, -bptt:].long().sum(1)
    mean = out.masked_fill(mask[:, :, None], 0).sum(1) / n_real[:, None].to(out.dtype)
    mx = out.masked_fill(mask[:, :, None], float("-inf")).max(1)[0]
    last = out[torch.arange(out.shape[0]), -n_tail_pad - 1]
    return torch.cat([last, mx, mean], 1)


def fastai_bn1d(n):
    bn = nn.BatchNorm1d(n)
    with torch.no_grad():
        bn.bias.fill_(1e-3)
        bn.weight.fill_(1.0)
    return bn


def lin_bn_drop(n_in, n_out, p, act):
    layers = [fastai_bn1d(n_in)]
    if p != 0:
        layers.append(nn.Dropout(p))
    layers.append(nn.Linear(n_in, n_out, bias=False))
    if act:
        layers.append(nn.ReLU())
    return nn.Sequential(*layers)


class PoolingLinearClassifier(nn.Module):
    def __init__(self, dims, ps, bptt):
        super().__init__()
        self.bptt = bptt
        self.layers = nn.Sequential(*[lin_bn_drop(dims[i], dims[i + 1], ps[i], i + 2 < len(dims))
                                      for i in range(len(dims) - 1)])

    def forward(self, inp):
        out, mask = inp
        return self.layers(concat_pool(out, mask, self.bptt))


def pad_input_chunk(seqs, pad_idx, pad_first, seq_len):
    """fastai's layout: whole seq_len chunks of padding before (pad_first) or after the text, and
    the remainder after it."""
    n = max(len(s) for s in seqs)
    rows = []
    for s in seqs:
        missing = n - len(s)
        chunk = [pad_idx] * ((missing // seq_len) * seq_len)
        rest = [pad_idx] * (missing % seq_len)
        rows.append(chunk + s + rest if pad_first else s + chunk + rest)
    return torch.tensor(rows, dtype=torch.int64)


def grads(prefix, model):
    """The gradient of every parameter (named_parameters: tied and aliased weights once, under their
    first name)."""
    for n, p in model.named_parameters():
        OUT[f"{prefix}/g/{n}"] = p.grad.detach().clone()


def save_state(prefix, model):
    for k, v in model.state_dict().items():
        OUT[f"{prefix}/p/{k}"] = v.detach().clone()


def make_encoder():
    enc = AWDLSTM(VOCAB, EMB, HID, LAYERS, PAD)
    with torch.no_grad():  # larger than the default init, so the outputs are not near zero
        enc.encoder.weight.normal_(0, 0.5)
        for p in enc.rnns.parameters():
            p.mul_(2.0)
    return enc


def gen_lm():
    enc = make_encoder()
    lm = SequentialRNN(enc, LinearDecoder(VOCAB, EMB, enc.encoder))
    with torch.no_grad():
        lm[1].decoder.bias.normal_(0, 0.1)
    lm.eval()
    save_state("lm", lm)
    x = torch.randint(0, VOCAB, (3, 7))
    x2 = torch.randint(0, VOCAB, (3, 4))
    target = torch.randint(0, VOCAB, (3, 7))
    lm.reset()
    y = lm(x)
    loss = F.cross_entropy(y.reshape(-1, VOCAB), target.reshape(-1))
    loss.backward()
    y2 = lm(x2)
    OUT.update({"lm/x": x, "lm/x2": x2, "lm/y": y.detach(), "lm/y2": y2.detach(), "lm/target": target,
                "lm/loss": loss.detach()})
    grads("lm", lm)


def gen_clas():
    enc = make_encoder()
    head = PoolingLinearClassifier([3 * EMB, LIN, N_CLASS], [0.4, 0.1], BPTT)
    model = SequentialRNN(SentenceEncoder(BPTT, enc, PAD, None), head)
    with torch.no_grad():
        for m in head.modules():
            if isinstance(m, nn.BatchNorm1d):
                m.weight.uniform_(0.5, 1.5)
                m.bias.normal_(0, 0.2)
                m.running_mean.normal_(0, 0.2)
                m.running_var.uniform_(0.5, 2.0)
    model.eval()
    save_state("clas", model)
    # Sorted by decreasing length, as fastai's SortedDL batches them; no pad token inside the text.
    lens = [13, 11, 7, 3]
    seqs = [[int(v) for v in torch.randint(2, VOCAB, (n,))] for n in lens]
    OUT["clas/seqs"] = torch.tensor([v for s in seqs for v in s], dtype=torch.int64)
    OUT["clas/lens"] = torch.tensor(lens, dtype=torch.int64)
    # pad_first with max_len 8: the first bptt piece is run (it sets the state) but its outputs are
    # dropped; pad last with no max_len: the batch shrinks from piece to piece.
    for case, pad_first, max_len in (("clas_first", True, 8), ("clas_last", False, None)):
        x = pad_input_chunk(seqs, PAD, pad_first, BPTT)
        model[0].max_len = max_len
        model.zero_grad()
        out, mask = model[0](x)
        y = model[1]((out, mask))
        target = torch.randint(0, N_CLASS, (x.shape[0],))
        loss = F.cross_entropy(y, target)
        loss.backward()
        OUT.update({f"{case}/x": x, f"{case}/y": y.detach(), f"{case}/target": target, f"{case}/loss": loss.detach(),
                    f"{case}/enc": out.detach(), f"{case}/mask": mask,
                    f"{case}/max_len": torch.tensor(max_len or 0, dtype=torch.int64)})
        grads(case, model)


gen_lm()
gen_clas()
common.save("awd_lstm", OUT)
