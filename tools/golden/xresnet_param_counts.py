#!/usr/bin/env python3
"""Parameter counts of fastai's xresnet18/34/50 (n_out=1000, c_in=3), rebuilt with plain torch.nn.

fastai is not installed here, so this script builds the same layer shapes as fastai's XResNet
(stem 3->32 s2, 32->32, 32->64; maxpool; ResBlocks with fastai's ConvLayer = conv (bias only when
there is no BatchNorm) + BatchNorm + ReLU; identity path AvgPool (when stride 2) + 1x1 ConvLayer
(when the channel count changes); AdaptiveAvgPool, Flatten, Dropout, Linear) and prints the
parameter and buffer counts that tests/nn/test_arch_xresnet.cpp asserts.

    /usr/bin/python3 tools/golden/xresnet_param_counts.py
"""
import torch.nn as nn


def conv_layer(ni, nf, ks=3, stride=1, bn=True, act=True):
    layers = [nn.Conv2d(ni, nf, ks, stride=stride, padding=(ks - 1) // 2, bias=not bn)]
    if bn:
        layers.append(nn.BatchNorm2d(nf))
    if act:
        layers.append(nn.ReLU())
    return nn.Sequential(*layers)


class ResBlock(nn.Module):
    def __init__(self, expansion, ni, nf, stride=1):
        super().__init__()
        nh, nf, ni = nf, nf * expansion, ni * expansion
        if expansion == 1:
            path = [conv_layer(ni, nf, 3, stride), conv_layer(nf, nf, 3, act=False)]
        else:
            path = [conv_layer(ni, nh, 1), conv_layer(nh, nh, 3, stride), conv_layer(nh, nf, 1, act=False)]
        self.convpath = nn.Sequential(*path)
        idp = []
        if stride != 1:
            idp.append(nn.AvgPool2d(stride, stride, ceil_mode=True))
        if ni != nf:
            idp.append(conv_layer(ni, nf, 1, act=False))
        self.idpath = nn.Sequential(*idp)

    def forward(self, x):
        return nn.functional.relu(self.convpath(x) + self.idpath(x))


def xresnet(expansion, layers, c_in=3, n_out=1000, widen=1.0):
    """widen scales the stage widths (not the stem, not the first entry), as fastai's XResNet."""
    stem_szs = [c_in, 32, 32, 64]
    stem = [conv_layer(stem_szs[i], stem_szs[i + 1], stride=2 if i == 0 else 1) for i in range(3)]
    block_szs = [64 // expansion] + [int(s * widen) for s in [64, 128, 256, 512] + [256] * (len(layers) - 4)]
    stages = []
    for i, l in enumerate(layers):
        blocks = [ResBlock(expansion, block_szs[i] if j == 0 else block_szs[i + 1], block_szs[i + 1],
                           (1 if i == 0 else 2) if j == 0 else 1) for j in range(l)]
        stages.append(nn.Sequential(*blocks))
    return nn.Sequential(*stem, nn.MaxPool2d(3, 2, 1), *stages, nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                         nn.Dropout(0.0), nn.Linear(block_szs[len(layers)] * expansion, n_out))


if __name__ == "__main__":
    import torch
    for name, exp, layers in [("xresnet18", 1, [2, 2, 2, 2]), ("xresnet34", 1, [3, 4, 6, 3]),
                              ("xresnet50", 4, [3, 4, 6, 3])]:
        m = xresnet(exp, layers)
        n_params = sum(p.numel() for p in m.parameters())
        n_state = len(m.state_dict())
        y = m.eval()(torch.zeros(1, 3, 64, 64))
        print(f"{name}: params {n_params}, state_dict entries {n_state}, output {tuple(y.shape)}")
