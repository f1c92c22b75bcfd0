"""Golden fixtures for the nn layers and losses (nn/*.h).

Run with Debian's python3 (has python3-torch):  /usr/bin/python3 tools/golden/gen_nn_layers.py
Writes tests/fixtures/nn_layers.safetensors. Everything is float32 (the tests compare with f32
tolerances). Key scheme, for each case NAME:
  NAME/p/<param>   the module's state dict BEFORE the forward (parameters and buffers, PyTorch names)
  NAME/x           the input (NAME/x1, NAME/x2 ... for extra inputs)
  NAME/y           the output of the forward
  NAME/r           fixed random weights: the objective is (y * r).sum()
  NAME/dx          d objective / d x
  NAME/g/<param>   d objective / d parameter
  NAME/b/<buffer>  buffers AFTER the forward (running statistics)
Losses: NAME/input, NAME/target (NAME/weight, NAME/pos_weight), NAME/y and NAME/dx (with r for
reduction 'none'). The fastai-style modules that torch does not have (AdaptiveConcatPool2d,
PixelShuffle_ICNR, SigmoidRange, LinBnDrop, ConvLayer) are written here from plain torch modules
with fastai's structure and parameter names.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F

import common

torch.manual_seed(0)
OUT = {}


def run_module(name, m, inputs, train=True):
    """Records state, input(s), output, and gradients of (y * r).sum() for module m."""
    m.train(train)
    for k, v in m.state_dict().items():
        OUT[f"{name}/p/{k}"] = v.detach().clone()
    xs = [t.detach().clone().requires_grad_(t.is_floating_point()) for t in inputs]
    y = m(*xs)
    r = torch.randn_like(y)
    (y * r).sum().backward()
    for i, (t, x) in enumerate(zip(inputs, xs)):
        suffix = "" if i == 0 else str(i)
        OUT[f"{name}/x{suffix}"] = t
        if x.grad is not None:
            OUT[f"{name}/dx{suffix}"] = x.grad
    OUT[f"{name}/y"] = y.detach()
    OUT[f"{name}/r"] = r
    for k, p in m.named_parameters():
        if p.grad is not None:
            OUT[f"{name}/g/{k}"] = p.grad
    for k, b in m.named_buffers():
        OUT[f"{name}/b/{k}"] = b.detach().clone()


def randomize(m):
    """Non-trivial values for every floating parameter (BN gammas etc. start at 1/0)."""
    with torch.no_grad():
        for p in m.parameters():
            p.copy_(torch.randn_like(p) * 0.5)


def gen_linear_conv():
    run_module("linear", nn.Linear(5, 3), [torch.randn(4, 5)])
    run_module("linear3d", nn.Linear(5, 3), [torch.randn(2, 3, 5)])
    run_module("linear_nobias", nn.Linear(4, 2, bias=False), [torch.randn(3, 4)])
    run_module("conv1d", nn.Conv1d(3, 4, 3, stride=2, padding=1), [torch.randn(2, 3, 9)])
    run_module("conv2d", nn.Conv2d(3, 4, 3, stride=2, padding=1), [torch.randn(2, 3, 7, 7)])
    run_module("conv2d_grouped", nn.Conv2d(4, 6, 3, padding=2, dilation=2, groups=2, bias=False),
               [torch.randn(2, 4, 6, 5)])
    run_module("conv_transpose2d", nn.ConvTranspose2d(3, 4, 3, stride=2, padding=1, output_padding=1),
               [torch.randn(2, 3, 4, 5)])


def gen_norm():
    m = nn.BatchNorm1d(3)
    randomize(m)
    run_module("bn1d", m, [torch.randn(6, 3)])
    m = nn.BatchNorm1d(3, momentum=0.3)
    randomize(m)
    run_module("bn1d_3d", m, [torch.randn(4, 3, 5)])
    m = nn.BatchNorm2d(4)
    randomize(m)
    with torch.no_grad():
        m.running_mean.copy_(torch.randn(4) * 0.2)
        m.running_var.copy_(torch.rand(4) + 0.5)
    run_module("bn2d", m, [torch.randn(3, 4, 5, 5) * 2 + 1])
    m = nn.BatchNorm2d(4, eps=1e-3)
    randomize(m)
    with torch.no_grad():
        m.running_mean.copy_(torch.randn(4) * 0.2)
        m.running_var.copy_(torch.rand(4) + 0.5)
        m.num_batches_tracked.fill_(7)
    run_module("bn2d_eval", m, [torch.randn(2, 4, 3, 3)], train=False)
    run_module("bn2d_noaffine", nn.BatchNorm2d(4, affine=False), [torch.randn(2, 4, 3, 3)])
    m = nn.LayerNorm(5)
    randomize(m)
    run_module("layernorm", m, [torch.randn(3, 4, 5)])
    m = nn.LayerNorm([3, 4], eps=1e-4)
    randomize(m)
    run_module("layernorm2", m, [torch.randn(2, 3, 4)])
    m = nn.GroupNorm(2, 4)
    randomize(m)
    run_module("groupnorm", m, [torch.randn(2, 4, 3, 3)])


def gen_embedding_lstm():
    m = nn.Embedding(10, 4, padding_idx=0)
    idx = torch.tensor([[1, 0, 3], [3, 9, 0]])
    run_module("embedding", m, [idx])

    # LSTM, 2 layers, batch_first, given state; the objective also weights h_n and c_n.
    m = nn.LSTM(3, 5, num_layers=2, batch_first=True)
    m.train()
    for k, v in m.state_dict().items():
        OUT[f"lstm/p/{k}"] = v.detach().clone()
    x = torch.randn(2, 4, 3)
    h0, c0 = torch.randn(2, 2, 5), torch.randn(2, 2, 5)
    xs = [t.clone().requires_grad_(True) for t in (x, h0, c0)]
    y, (hn, cn) = m(xs[0], (xs[1], xs[2]))
    r, rh, rc = torch.randn_like(y), torch.randn_like(hn), torch.randn_like(cn)
    ((y * r).sum() + (hn * rh).sum() + (cn * rc).sum()).backward()
    for key, v in (("x", x), ("h0", h0), ("c0", c0), ("y", y), ("hn", hn), ("cn", cn), ("r", r), ("rh", rh),
                   ("rc", rc), ("dx", xs[0].grad), ("dh0", xs[1].grad), ("dc0", xs[2].grad)):
        OUT[f"lstm/{key}"] = v.detach()
    for k, p in m.named_parameters():
        OUT[f"lstm/g/{k}"] = p.grad
    # One layer, sequence first, zero state, no bias.
    run_module("lstm1", Seq0(nn.LSTM(4, 3, bias=False)), [torch.randn(5, 2, 4)])


class Seq0(nn.Module):
    """Keeps only the output sequence of an LSTM (parameters keep their names: no prefix)."""
    def __init__(self, lstm):
        super().__init__()
        self.lstm = lstm

    def state_dict(self, *a, **k):
        return self.lstm.state_dict(*a, **k)

    def named_parameters(self, *a, **k):
        return self.lstm.named_parameters(*a, **k)

    def forward(self, x):
        return self.lstm(x)[0]


class Apply(nn.Module):
    def __init__(self, f):
        super().__init__()
        self.f = f

    def forward(self, x):
        return self.f(x)


def gen_activations():
    x = torch.randn(3, 7) * 2
    for name, m in (("relu", nn.ReLU()), ("leaky_relu", nn.LeakyReLU(0.1)), ("gelu", nn.GELU()),
                    ("silu", nn.SiLU()), ("mish", nn.Mish()), ("sigmoid", nn.Sigmoid()), ("tanh", nn.Tanh()),
                    ("softmax", nn.Softmax(dim=1)), ("softmax0", nn.Softmax(dim=0))):
        run_module(name, m, [x])
    run_module("sigmoid_range", Apply(lambda t: torch.sigmoid(t) * (5.5 - 0.5) + 0.5), [x])


def gen_pool():
    x = torch.randn(2, 3, 7, 6)
    run_module("maxpool", nn.MaxPool2d(3, stride=2, padding=1), [x])
    run_module("avgpool", nn.AvgPool2d(2), [x])
    run_module("avgpool_pad", nn.AvgPool2d(3, stride=2, padding=1, count_include_pad=False), [x])
    run_module("adaptive_avgpool", nn.AdaptiveAvgPool2d((2, 3)), [x])
    run_module("adaptive_concat_pool",
               Apply(lambda t: torch.cat([F.adaptive_max_pool2d(t, 1), F.adaptive_avg_pool2d(t, 1)], 1)), [x])
    run_module("flatten", nn.Flatten(), [x])


def fastai_batchnorm(nf, ndim=2, zero=False):
    bn = nn.BatchNorm2d(nf) if ndim == 2 else nn.BatchNorm1d(nf)
    with torch.no_grad():
        bn.bias.fill_(1e-3)
        bn.weight.fill_(0.0 if zero else 1.0)
    return bn


def gen_fastai():
    # PixelShuffle_ICNR(4, 2, scale=2, blur=True, norm_type=None): ConvLayer(4, 8, ks=1) (conv + ReLU), shuffle,
    # ReplicationPad2d((1, 0, 1, 0)), AvgPool2d(2, stride=1). Parameters "0.0.weight", "0.0.bias".
    conv = nn.Sequential(nn.Conv2d(4, 8, 1), nn.ReLU())
    m = nn.Sequential(conv, nn.PixelShuffle(2), nn.ReplicationPad2d((1, 0, 1, 0)), nn.AvgPool2d(2, stride=1))
    run_module("pixel_shuffle_icnr", m, [torch.randn(2, 4, 3, 3)])
    m = nn.Sequential(nn.Sequential(nn.Conv2d(3, 12, 1), nn.ReLU()), nn.PixelShuffle(2))
    run_module("pixel_shuffle_noblur", m, [torch.randn(1, 3, 2, 3)])
    # LinBnDrop(6, 4, bn=True, p=0, act=ReLU, lin_first=False): BatchNorm1d(6), Linear(6, 4, bias=False), ReLU
    m = nn.Sequential(fastai_batchnorm(6, ndim=1), nn.Linear(6, 4, bias=False), nn.ReLU())
    run_module("lin_bn_drop", m, [torch.randn(5, 6)])
    # LinBnDrop(6, 4, bn=True, lin_first=True): Linear(6, 4, bias=False), BatchNorm1d(4)
    m = nn.Sequential(nn.Linear(6, 4, bias=False), fastai_batchnorm(4, ndim=1))
    run_module("lin_bn_drop_first", m, [torch.randn(5, 6)])
    # LinBnDrop(6, 4, bn=False): Linear(6, 4)
    run_module("lin_nobn", nn.Sequential(nn.Linear(6, 4)), [torch.randn(5, 6)])
    # ConvLayer(3, 5, ks=3, stride=2): Conv2d(3, 5, 3, stride 2, padding 1, no bias), BatchNorm2d, ReLU
    m = nn.Sequential(nn.Conv2d(3, 5, 3, stride=2, padding=1, bias=False), fastai_batchnorm(5), nn.ReLU())
    randomize(m[1])
    run_module("conv_layer", m, [torch.randn(2, 3, 6, 6)])
    # ConvLayer(3, 5, ks=1, norm_type=None): Conv2d(3, 5, 1, bias), ReLU
    run_module("conv_layer_nonorm", nn.Sequential(nn.Conv2d(3, 5, 1), nn.ReLU()), [torch.randn(2, 3, 4, 4)])


def loss_case(name, fn, inp, target, extra=None):
    x = inp.detach().clone().requires_grad_(True)
    y = fn(x, target)
    if y.dim() > 0:
        r = torch.randn_like(y)
        OUT[f"{name}/r"] = r
        (y * r).sum().backward()
    else:
        y.backward()
    OUT[f"{name}/input"], OUT[f"{name}/target"], OUT[f"{name}/y"], OUT[f"{name}/dx"] = inp, target, y.detach(), x.grad
    for k, v in (extra or {}).items():
        OUT[f"{name}/{k}"] = v


def gen_losses():
    logits = torch.randn(6, 5)
    tgt = torch.tensor([0, 3, 1, 4, 3, 2])
    tgt_ign = torch.tensor([0, 3, -100, 4, 3, 2])
    tgt_ign2 = torch.tensor([0, 2, 2, 4, 3, 2])
    w = torch.rand(5) + 0.5
    CE = F.cross_entropy
    loss_case("ce", lambda a, t: CE(a, t), logits, tgt)
    loss_case("ce_sum", lambda a, t: CE(a, t, reduction="sum"), logits, tgt)
    loss_case("ce_none", lambda a, t: CE(a, t, reduction="none"), logits, tgt)
    loss_case("ce_weight", lambda a, t: CE(a, t, weight=w), logits, tgt, {"weight": w})
    loss_case("ce_ignore", lambda a, t: CE(a, t), logits, tgt_ign)
    loss_case("ce_ignore2_weight", lambda a, t: CE(a, t, weight=w, ignore_index=2), logits, tgt_ign2, {"weight": w})
    loss_case("ce_ignore2_weight_none", lambda a, t: CE(a, t, weight=w, ignore_index=2, reduction="none"),
              logits, tgt_ign2, {"weight": w})
    loss_case("ce_smooth", lambda a, t: CE(a, t, label_smoothing=0.1), logits, tgt)
    loss_case("ce_smooth_weight_ignore", lambda a, t: CE(a, t, weight=w, label_smoothing=0.2, ignore_index=2),
              logits, tgt_ign2, {"weight": w})
    loss_case("ce_smooth_none", lambda a, t: CE(a, t, label_smoothing=0.3, reduction="none"), logits, tgt_ign)
    soft = torch.softmax(torch.randn(6, 5), 1)
    loss_case("ce_soft", lambda a, t: CE(a, t), logits, soft)
    loss_case("ce_soft_weight_smooth", lambda a, t: CE(a, t, weight=w, label_smoothing=0.1), logits, soft,
              {"weight": w})
    loss_case("ce_soft_none", lambda a, t: CE(a, t, reduction="none"), logits, soft)
    seg = torch.randn(2, 4, 3, 2)
    seg_t = torch.randint(0, 4, (2, 3, 2))
    seg_t[0, 1, 1] = -100
    loss_case("ce_spatial", lambda a, t: CE(a, t), seg, seg_t)
    loss_case("ce_spatial_none_smooth", lambda a, t: CE(a, t, reduction="none", label_smoothing=0.1), seg, seg_t)
    lp = torch.log_softmax(torch.randn(6, 5), 1)
    loss_case("nll", lambda a, t: F.nll_loss(a, t), lp, tgt_ign)
    loss_case("nll_weight_sum", lambda a, t: F.nll_loss(a, t, weight=w, reduction="sum"), lp, tgt, {"weight": w})
    bl = torch.randn(4, 3)
    bt = (torch.rand(4, 3) > 0.5).float()
    bw = torch.rand(4, 3)
    pw = torch.rand(3) + 0.5
    loss_case("bce", lambda a, t: F.binary_cross_entropy_with_logits(a, t), bl, bt)
    loss_case("bce_pos_weight", lambda a, t: F.binary_cross_entropy_with_logits(a, t, pos_weight=pw), bl, bt,
              {"pos_weight": pw})
    loss_case("bce_weight_none", lambda a, t: F.binary_cross_entropy_with_logits(a, t, weight=bw, reduction="none"),
              bl, bt, {"weight": bw})
    loss_case("bce_all_sum",
              lambda a, t: F.binary_cross_entropy_with_logits(a, t, weight=bw, pos_weight=pw, reduction="sum"),
              bl * 10, torch.rand(4, 3), {"weight": bw, "pos_weight": pw})
    ra, rb = torch.randn(3, 4), torch.randn(3, 4)
    loss_case("mse", lambda a, t: F.mse_loss(a, t), ra, rb)
    loss_case("mse_none", lambda a, t: F.mse_loss(a, t, reduction="none"), ra, rb)
    loss_case("l1", lambda a, t: F.l1_loss(a, t), ra, rb)
    loss_case("l1_sum", lambda a, t: F.l1_loss(a, t, reduction="sum"), ra, rb)
    loss_case("smooth_l1", lambda a, t: F.smooth_l1_loss(a, t), ra, rb)
    loss_case("smooth_l1_beta", lambda a, t: F.smooth_l1_loss(a, t, beta=0.5, reduction="none"), ra, rb)
    # fastai's flat losses: axis moved last and flattened.
    loss_case("ce_flat_axis", lambda a, t: CE(a.movedim(1, -1).reshape(-1, 4), t.reshape(-1)), seg,
              torch.randint(0, 4, (2, 3, 2)))


def gen_state_dict_models():
    torch.manual_seed(1)
    m = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2))
    run_module("seq_mlp", m, [torch.randn(5, 4)], train=False)
    m = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU())
    m.train()
    with torch.no_grad():
        for _ in range(3):
            m(torch.randn(2, 3, 5, 5) * 2 + 0.5)
    run_module("seq_conv_bn", m, [torch.randn(2, 3, 5, 5)], train=False)


gen_linear_conv()
gen_norm()
gen_embedding_lstm()
gen_activations()
gen_pool()
gen_fastai()
gen_losses()
gen_state_dict_models()
for k in list(OUT):
    if isinstance(OUT[k], torch.Tensor) and OUT[k].dtype == torch.float64:
        OUT[k] = OUT[k].float()
common.save("nn_layers", OUT)
