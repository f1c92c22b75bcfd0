"""Golden fixtures for whole models: one forward, the loss, one backward (tests/nn/test_models_golden.cpp).

Run with Debian's python3 (has python3-torch):  /usr/bin/python3 tools/golden/gen_models.py
Writes tests/fixtures/models.safetensors.

fastai is not installed, so each model is written here in plain torch from fastai's documented
architecture, with fastai's module tree so that the state-dict names are the ones kiln uses:
  simple_cnn   simple_cnn([1, 8, 16, 32, 2], bn=True), input [4, 1, 28, 28], cross_entropy, train mode
  xresnet      XResNet(expansion 1, layers [2, 2, 2, 2] (xresnet18's), widen 0.125, c_in 3, n_out 4),
               input [4, 3, 64, 64], cross_entropy, train mode. Smaller than xresnet18 in three ways, each
               measured: widen 0.125, not 0.25: at 0.25 the weights and their gradients alone take 5.9 MB,
               at 0.125 1.7 MB. Input 64x64 and batch 4, not 32x32 and batch 2: at 32x32 the last stage
               is 1x1, so its train-mode BatchNorms normalise B values per channel; with B = 2 the
               gradients are so ill-conditioned that PyTorch's own float32 run misses the float64 one
               by 0.3% of a tensor's largest value (up to 13000x the tests' tolerance), with B = 4 at
               32x32 by up to 36x the tolerance; at 64x64 (last stage 2x2) and B = 4 it is within
               0.4-0.7x of it (seeds 2-4).
  lstm         nn.LSTM(5, 7, num_layers 2, batch_first), input [3, 6, 5] and a given (h0, c0);
               loss = mse(output, t_out) + mse(h, t_h) + mse(c, t_c)
  tabular      TabularModel(emb_szs [(6, 3), (4, 2)], n_cont 3, out_sz 3, layers [20, 10],
               ps [0.1, 0.05], embed_p 0.04), batch 5, cross_entropy, eval mode
  dot_bias     EmbeddingDotBias(n_factors 5, n_users 7, n_items 9, y_range (0, 5.5)), batch 8, mse, eval
  emb_nn       EmbeddingNN(emb_szs [(7, 4), (9, 3)], layers [6], ps [0.2], y_range (0, 5.5)), batch 8,
               mse against [B, 1] targets, eval mode
Train mode where batch-norm statistics matter (simple_cnn, xresnet: batch statistics normalise and the
running statistics move, so the buffers after the forward are compared too), eval mode for the
models with dropout, so no randomness enters.

Every BatchNorm has random affine parameters and running statistics (fastai's init would make
BatchZero weights 0, which hides the gradient of the block's convolutions). The weights are drawn in
float32 and saved; the reference forward and backward run in float64 on those same values and the
results are rounded to float32, so the fixture holds the exact answer and a test's tolerance only
has to cover kiln's own float32 rounding. The script prints, per model, how far PyTorch's own
float32 run is from that reference in units of the tests' tolerance (max |error| / (1e-5 + 1e-4
|value|) over outputs, loss, gradients and buffers), as a yardstick: a float32 implementation as
accurate as PyTorch's passes when it is below 1.

Keys, for each model M:
  M/p/<name>   the state dict (parameters and buffers) before the forward, PyTorch names
  M/x..., M/target...   the inputs and targets (named per model below)
  M/y          the output; lstm also M/h, M/c (final states)
  M/loss       the loss (0-d, float64)
  M/g/<name>   the gradient of EVERY parameter (named_parameters) after loss.backward()
  M/b/<name>   every buffer after the forward (train-mode models only)
"""
import copy

import torch
import torch.nn as nn
import torch.nn.functional as F

import common
from xresnet_param_counts import conv_layer, xresnet

OUT = {}


# ---- models not in xresnet_param_counts.py

def simple_cnn(actns):
    """fastai's simple_cnn(actns, bn=True): ConvLayers (stride 2, ks 3, BN but on the last, ReLU on all)
    then pooling and flatten."""
    n = len(actns) - 1
    layers = [conv_layer(actns[i], actns[i + 1], 3, stride=2, bn=i < n - 1) for i in range(n)]
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten())


def lin_bn_drop(n_in, n_out, bn, p, act):
    """fastai's LinBnDrop with lin_first=True (TabularModel's default): Linear [act] [BN] [Dropout]."""
    layers = [nn.Linear(n_in, n_out, bias=not bn)]
    if act:
        layers.append(nn.ReLU())
    if bn:
        layers.append(nn.BatchNorm1d(n_out))
    if p != 0:
        layers.append(nn.Dropout(p))
    return nn.Sequential(*layers)


class SigmoidRange(nn.Module):
    def __init__(self, lo, hi):
        super().__init__()
        self.lo, self.hi = lo, hi

    def forward(self, x):
        return torch.sigmoid(x) * (self.hi - self.lo) + self.lo


class TabularModel(nn.Module):
    """fastai's TabularModel: embeddings -> emb_drop, bn_cont on the continuous columns, concatenated,
    then LinBnDrop layers (BN and ReLU on all but the last), then SigmoidRange when y_range."""

    def __init__(self, emb_szs, n_cont, out_sz, layers, ps, embed_p, y_range=None):
        super().__init__()
        self.embeds = nn.ModuleList([nn.Embedding(n, d) for n, d in emb_szs])
        self.emb_drop = nn.Dropout(embed_p)
        self.n_emb, self.n_cont = sum(d for _, d in emb_szs), n_cont
        if n_cont:
            self.bn_cont = nn.BatchNorm1d(n_cont)
        sizes = [self.n_emb + n_cont] + layers + [out_sz]
        n = len(sizes) - 1
        mods = [lin_bn_drop(sizes[i], sizes[i + 1], i < n - 1, ps[i] if i < n - 1 else 0.0, i < n - 1)
                for i in range(n)]
        if y_range is not None:
            mods.append(SigmoidRange(*y_range))
        self.layers = nn.Sequential(*mods)

    def forward(self, x_cat, x_cont=None):
        x = self.emb_drop(torch.cat([e(x_cat[:, i]) for i, e in enumerate(self.embeds)], 1))
        if self.n_cont:
            x = torch.cat([x, self.bn_cont(x_cont)], 1)
        return self.layers(x)


class EmbeddingDotBias(nn.Module):
    def __init__(self, n_factors, n_users, n_items, y_range):
        super().__init__()
        self.y_range = y_range
        self.u_weight, self.i_weight = nn.Embedding(n_users, n_factors), nn.Embedding(n_items, n_factors)
        self.u_bias, self.i_bias = nn.Embedding(n_users, 1), nn.Embedding(n_items, 1)

    def forward(self, x):
        u, i = x[:, 0], x[:, 1]
        res = (self.u_weight(u) * self.i_weight(i)).sum(1) + self.u_bias(u).squeeze(1) + self.i_bias(i).squeeze(1)
        lo, hi = self.y_range
        return torch.sigmoid(res) * (hi - lo) + lo


# ---- helpers

def randomise_bn(model):
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
                m.weight.uniform_(0.5, 1.5)
                m.bias.normal_(0, 0.3)
                m.running_mean.normal_(0, 0.3)
                m.running_var.uniform_(0.5, 2.0)
                m.num_batches_tracked.fill_(3)


def run(model, inputs, loss_fn, train):
    """Forward + loss + backward of a copy of `model` in float64 (or float32 when f32). Returns the outputs
    (a tuple), the loss, {name: grad} and {name: buffer after the forward}."""
    def go(dtype):
        m = copy.deepcopy(model).to(dtype)
        m.train(train)
        xs = [x.to(dtype) if x.is_floating_point() else x for x in inputs]
        out = m(*xs)
        out = out if isinstance(out, tuple) else (out,)
        loss = loss_fn(*out)
        loss.backward()
        grads = {n: p.grad.detach() for n, p in m.named_parameters()}
        bufs = {n: b.detach() for n, b in m.named_buffers()}
        return out, loss.detach(), grads, bufs
    return go(torch.float64), go(torch.float32)


def tol_ratio(a, b, rtol=1e-4, atol=1e-5):
    """max |a - b| / (atol + rtol |b|): at most 1 when a passes the tests' default tolerance against b."""
    a, b = a.double(), b.double()
    return float(((a - b).abs() / (atol + rtol * b.abs())).max())


def record(prefix, model, inputs, loss_fn, train, strip=""):
    """Saves the state dict, the gradients, the loss (and the buffers when train) under prefix, with
    `strip` removed from the front of every name; returns the outputs in float32."""
    def name(n):
        assert n.startswith(strip)
        return n[len(strip):]
    for k, v in model.state_dict().items():
        OUT[f"{prefix}/p/{name(k)}"] = v.detach().clone()
    (out, loss, grads, bufs), (out32, loss32, grads32, bufs32) = run(model, inputs, loss_fn, train)
    worst = max([tol_ratio(o32, o) for o32, o in zip(out32, out)] + [tol_ratio(loss32, loss)] +
                [tol_ratio(grads32[n], grads[n]) for n in grads] +
                [tol_ratio(bufs32[n], bufs[n]) for n in bufs if bufs[n].is_floating_point()])
    print(f"{prefix}: {len(grads)} parameter gradients, loss {float(loss):.6f}; torch float32 vs this float64 "
          f"reference: worst |error| / (1e-5 + 1e-4 |value|) = {worst:.3f}")
    for n, g in grads.items():
        OUT[f"{prefix}/g/{name(n)}"] = g.float()
    if train:
        for n, b in bufs.items():
            OUT[f"{prefix}/b/{name(n)}"] = b.float() if b.is_floating_point() else b
    OUT[f"{prefix}/loss"] = loss  # float64
    return [o.float() for o in out]


# ---- the models

def gen_simple_cnn():
    torch.manual_seed(1)
    model = simple_cnn([1, 8, 16, 32, 2])
    randomise_bn(model)
    x = torch.randn(4, 1, 28, 28)
    target = torch.tensor([0, 1, 1, 0])
    (y,) = record("simple_cnn", model, [x], lambda y: F.cross_entropy(y, target), train=True)
    OUT.update({"simple_cnn/x": x, "simple_cnn/target": target, "simple_cnn/y": y})


def gen_xresnet():
    torch.manual_seed(2)
    model = xresnet(1, [2, 2, 2, 2], c_in=3, n_out=4, widen=0.125)
    randomise_bn(model)
    x = torch.randn(4, 3, 64, 64)
    target = torch.tensor([3, 1, 0, 2])
    (y,) = record("xresnet", model, [x], lambda y: F.cross_entropy(y, target), train=True)
    OUT.update({"xresnet/x": x, "xresnet/target": target, "xresnet/y": y})


class LSTMWithState(nn.Module):
    """nn.LSTM at the top level (so the names are weight_ih_l0...), returning output, h and c."""

    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(5, 7, num_layers=2, batch_first=True)

    def forward(self, x, h0, c0):
        out, (h, c) = self.lstm(x, (h0, c0))
        return out, h, c


def gen_lstm():
    torch.manual_seed(3)
    wrapper = LSTMWithState()
    with torch.no_grad():  # larger than the default +-1/sqrt(7), so the gates are not all near 0.5
        for p in wrapper.parameters():
            p.mul_(2.0)
    x, h0, c0 = torch.randn(3, 6, 5), torch.randn(2, 3, 7) * 0.5, torch.randn(2, 3, 7) * 0.5
    t_out, t_h, t_c = torch.randn(3, 6, 7) * 0.5, torch.randn(2, 3, 7) * 0.5, torch.randn(2, 3, 7)

    def loss_fn(out, h, c):
        return F.mse_loss(out, t_out.to(out.dtype)) + F.mse_loss(h, t_h.to(h.dtype)) + F.mse_loss(c, t_c.to(c.dtype))

    # The saved names are nn.LSTM's own (the wrapper's "lstm." is removed).
    y, h, c = record("lstm", wrapper, [x, h0, c0], loss_fn, train=False, strip="lstm.")
    OUT.update({"lstm/x": x, "lstm/h0": h0, "lstm/c0": c0, "lstm/t_out": t_out, "lstm/t_h": t_h, "lstm/t_c": t_c,
                "lstm/y": y, "lstm/h": h, "lstm/c": c})


def gen_tabular():
    torch.manual_seed(4)
    model = TabularModel([(6, 3), (4, 2)], 3, 3, [20, 10], ps=[0.1, 0.05], embed_p=0.04)
    randomise_bn(model)
    with torch.no_grad():
        for e in model.embeds:
            e.weight.normal_(0, 0.5)
    x_cat = torch.stack([torch.randint(0, 6, (5,)), torch.randint(0, 4, (5,))], 1)
    x_cont = torch.randn(5, 3)
    target = torch.tensor([2, 0, 1, 2, 1])
    (y,) = record("tabular", model, [x_cat, x_cont], lambda y: F.cross_entropy(y, target), train=False)
    OUT.update({"tabular/x_cat": x_cat, "tabular/x_cont": x_cont, "tabular/target": target, "tabular/y": y})


def gen_dot_bias():
    torch.manual_seed(5)
    model = EmbeddingDotBias(5, 7, 9, (0.0, 5.5))
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0, 0.5)
    x = torch.stack([torch.randint(0, 7, (8,)), torch.randint(0, 9, (8,))], 1)
    target = torch.rand(8) * 5.0 + 0.25
    (y,) = record("dot_bias", model, [x], lambda y: F.mse_loss(y, target.to(y.dtype)), train=False)
    OUT.update({"dot_bias/x": x, "dot_bias/target": target, "dot_bias/y": y})


def gen_emb_nn():
    torch.manual_seed(6)
    model = TabularModel([(7, 4), (9, 3)], 0, 1, [6], ps=[0.2], embed_p=0.1, y_range=(0.0, 5.5))
    randomise_bn(model)
    with torch.no_grad():
        for e in model.embeds:
            e.weight.normal_(0, 0.5)
    x_cat = torch.stack([torch.randint(0, 7, (8,)), torch.randint(0, 9, (8,))], 1)
    target = torch.rand(8, 1) * 5.0 + 0.25
    (y,) = record("emb_nn", model, [x_cat], lambda y: F.mse_loss(y, target.to(y.dtype)), train=False)
    OUT.update({"emb_nn/x_cat": x_cat, "emb_nn/target": target, "emb_nn/y": y})


if __name__ == "__main__":
    gen_simple_cnn()
    gen_xresnet()
    gen_lstm()
    gen_tabular()
    gen_dot_bias()
    gen_emb_nn()
    common.save("models", OUT)
