"""Golden fixtures for the weight re-parametrisations and the layers built on them
(nn/weight_reparam.h, nn/self_attention.h, PixelShuffle_ICNR with weight norm).

Run with Debian's python3 (has python3-torch):  /usr/bin/python3 tools/golden/gen_nn_reparam.py
Writes tests/fixtures/nn_reparam.safetensors with gen_nn_layers.py's key scheme (NAME/p/<state>,
NAME/x, NAME/y, NAME/r, NAME/dx, NAME/g/<param>, NAME/b/<buffer> after the forward), every case run
in training mode (spectral norm does one power iteration per forward, updating weight_u / weight_v),
plus NAME/y_eval for spectral norm cases: a second forward of the same x in eval mode (no
iteration, the updated u, v).

The fastai layers (SimpleSelfAttention, SelfAttention, PixelShuffle_ICNR) are written here from
plain torch modules with fastai's structure and parameter names (fastai is not installed).
"""
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.utils import spectral_norm, weight_norm

import common

torch.manual_seed(0)
OUT = {}


def run_module(name, m, x, eval_again=False):
    m.train()
    for k, v in m.state_dict().items():
        OUT[f"{name}/p/{k}"] = v.detach().clone()
    xr = x.detach().clone().requires_grad_(True)
    y = m(xr)
    r = torch.randn_like(y)
    (y * r).sum().backward()
    OUT[f"{name}/x"] = x
    OUT[f"{name}/y"] = y.detach()
    OUT[f"{name}/r"] = r
    OUT[f"{name}/dx"] = xr.grad
    for k, p in m.named_parameters():
        if p.grad is not None:
            OUT[f"{name}/g/{k}"] = p.grad
    for k, b in m.named_buffers():
        OUT[f"{name}/b/{k}"] = b.detach().clone()
    if eval_again:
        m.eval()
        with torch.no_grad():
            OUT[f"{name}/y_eval"] = m(x)


class SimpleSelfAttention(nn.Module):
    """fastai's SimpleSelfAttention(n_in, ks=1, sym=False): a spectral-normalised Conv1d."""

    def __init__(self, n_in, ks=1):
        super().__init__()
        conv = nn.Conv1d(n_in, n_in, ks, padding=ks // 2, bias=False)
        nn.init.kaiming_normal_(conv.weight)
        self.conv = spectral_norm(conv)
        self.gamma = nn.Parameter(torch.tensor([0.7]))  # non-zero, so the attention term counts

    def forward(self, x):
        shape = x.shape
        xf = x.reshape(shape[0], shape[1], -1)
        o = torch.bmm(torch.bmm(xf, xf.transpose(1, 2)), self.conv(xf))
        return (self.gamma * o + xf).reshape(shape)


class SelfAttention(nn.Module):
    """fastai's SelfAttention(n_channels): query / key / value are ConvLayer(ks=1, ndim=1,
    norm_type=Spectral, act_cls=None, bias=False), i.e. Sequential(spectral_norm(Conv1d))."""

    def __init__(self, c):
        super().__init__()
        self.query = nn.Sequential(spectral_norm(nn.Conv1d(c, c // 8, 1, bias=False)))
        self.key = nn.Sequential(spectral_norm(nn.Conv1d(c, c // 8, 1, bias=False)))
        self.value = nn.Sequential(spectral_norm(nn.Conv1d(c, c, 1, bias=False)))
        self.gamma = nn.Parameter(torch.tensor([0.6]))

    def forward(self, x):
        shape = x.shape
        xf = x.reshape(shape[0], shape[1], -1)
        f, g, h = self.query(xf), self.key(xf), self.value(xf)
        beta = F.softmax(torch.bmm(f.transpose(1, 2), g), dim=1)
        return (self.gamma * torch.bmm(h, beta) + xf).reshape(shape)


def gen_spectral():
    run_module("spectral_conv1d", spectral_norm(nn.Conv1d(4, 6, 3, padding=1)), torch.randn(2, 4, 7), True)
    run_module("spectral_linear_3it", spectral_norm(nn.Linear(5, 3), n_power_iterations=3), torch.randn(4, 5), True)
    # ConvTranspose2d: PyTorch normalises along dim 1 (the output channels)
    run_module("spectral_conv_transpose2d", spectral_norm(nn.ConvTranspose2d(3, 4, 3, stride=2)),
               torch.randn(2, 3, 3, 4), True)


def gen_weight_norm():
    run_module("weight_norm_conv2d", weight_norm(nn.Conv2d(3, 4, 3, padding=1)), torch.randn(2, 3, 5, 4))
    run_module("weight_norm_linear_none", weight_norm(nn.Linear(4, 3), dim=None), torch.randn(5, 4))
    run_module("weight_norm_linear_dim1", weight_norm(nn.Linear(4, 3), dim=1), torch.randn(5, 4))
    # g no longer equal to |v|: the magnitude and direction parts both matter
    m = weight_norm(nn.Conv2d(2, 3, 1))
    with torch.no_grad():
        m.weight_g.mul_(torch.tensor([0.5, 2.0, -1.0])[:, None, None, None])
    run_module("weight_norm_scaled_g", m, torch.randn(2, 2, 3, 3))
    # fastai's PixelShuffle_ICNR(4, 2, scale=2, blur=False) with its default weight norm:
    # Sequential(ConvLayer = Sequential(weight_norm(Conv2d(4, 8, 1)), ReLU), PixelShuffle(2))
    conv = weight_norm(nn.Conv2d(4, 8, 1))
    with torch.no_grad():
        conv.weight_g.mul_(1.5)
    run_module("pixel_shuffle_icnr_weight_norm", nn.Sequential(nn.Sequential(conv, nn.ReLU()), nn.PixelShuffle(2)),
               torch.randn(2, 4, 3, 3))


def gen_attention():
    run_module("simple_self_attention", SimpleSelfAttention(4), torch.randn(2, 4, 3, 3), True)
    run_module("self_attention", SelfAttention(16), torch.randn(2, 16, 3, 2), True)


gen_spectral()
gen_weight_norm()
gen_attention()
common.save("nn_reparam", OUT)
