"""Golden fixtures for tensor/conv.cpp: conv2d and conv_transpose2d forward and their gradients
(input, weight, bias) from torch autograd, in float64.

Run with Debian's python3: /usr/bin/python3 tools/golden/gen_conv.py
Writes tests/fixtures/conv.safetensors. For case <name>: <name>.x, .w, .b, .y (forward), .dy (random
upstream gradient), .dx, .dw, .db and the parameters <name>.stride_h etc. as scalars.
"""
import torch

from common import save

torch.manual_seed(0)
out = {}

CONV = [
    # name, x shape, w shape, stride, padding, dilation, groups
    ("stride2", (2, 3, 7, 9), (4, 3, 3, 3), (2, 2), (1, 1), (1, 1), 1),
    ("dilation2", (1, 2, 8, 8), (3, 2, 3, 3), (1, 2), (2, 1), (2, 2), 1),
    ("groups2", (2, 4, 6, 5), (6, 2, 3, 2), (1, 1), (1, 0), (1, 1), 2),
    ("depthwise", (2, 3, 6, 6), (3, 1, 3, 3), (1, 1), (1, 1), (1, 1), 3),
    ("pointwise", (2, 5, 4, 3), (7, 5, 1, 1), (1, 1), (0, 0), (1, 1), 1),
    ("strided1x1", (1, 4, 5, 5), (2, 4, 1, 1), (2, 2), (0, 0), (1, 1), 1),
]

TRANSPOSE = [
    # name, x shape, w shape [C_in, C_out/groups, kh, kw], stride, padding, output_padding, groups, dilation
    ("t_stride2", (2, 4, 3, 4), (4, 3, 3, 3), (2, 2), (1, 1), (1, 1), 1, (1, 1)),
    ("t_groups2", (1, 4, 5, 4), (4, 2, 2, 3), (2, 1), (0, 1), (1, 0), 2, (1, 2)),
]


def put(name, tensors, params):
    for k, v in tensors.items():
        out[f"{name}.{k}"] = v
    for k, v in params.items():
        out[f"{name}.{k}"] = v


for name, xs, ws, s, p, d, g in CONV:
    x = torch.randn(xs, dtype=torch.float64, requires_grad=True)
    w = torch.randn(ws, dtype=torch.float64, requires_grad=True)
    b = torch.randn(ws[0], dtype=torch.float64, requires_grad=True)
    y = torch.nn.functional.conv2d(x, w, b, stride=s, padding=p, dilation=d, groups=g)
    dy = torch.randn_like(y)
    y.backward(dy)
    put(name, dict(x=x, w=w, b=b, y=y, dy=dy, dx=x.grad, dw=w.grad, db=b.grad),
        dict(stride_h=s[0], stride_w=s[1], pad_h=p[0], pad_w=p[1], dil_h=d[0], dil_w=d[1], groups=g))

for name, xs, ws, s, p, op, g, d in TRANSPOSE:
    x = torch.randn(xs, dtype=torch.float64, requires_grad=True)
    w = torch.randn(ws, dtype=torch.float64, requires_grad=True)
    b = torch.randn(ws[1] * g, dtype=torch.float64, requires_grad=True)
    y = torch.nn.functional.conv_transpose2d(x, w, b, stride=s, padding=p, output_padding=op, groups=g, dilation=d)
    dy = torch.randn_like(y)
    y.backward(dy)
    put(name, dict(x=x, w=w, b=b, y=y, dy=dy, dx=x.grad, dw=w.grad, db=b.grad),
        dict(stride_h=s[0], stride_w=s[1], pad_h=p[0], pad_w=p[1], outpad_h=op[0], outpad_w=op[1], dil_h=d[0],
             dil_w=d[1], groups=g))

save("conv", out)
