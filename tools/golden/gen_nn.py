"""Golden fixtures for the NN primitives (tensor/{softmax,pool,norm,interpolate,grid_sample}.h).

Run with Debian's python3 (has python3-torch):  /usr/bin/python3 tools/golden/gen_nn.py
Writes tests/fixtures/nn_{softmax,pool,norm,interpolate,grid_sample}.safetensors. Everything is
float64 so the C++ tests can compare tightly; gradients come from torch autograd.
"""
import torch
import torch.nn.functional as F

import common

torch.manual_seed(0)
D = torch.float64


def grads(f, inputs, dy):
    """Runs f on copies of inputs that require grad and returns (output, [grads])."""
    ins = [t.detach().clone().requires_grad_(True) for t in inputs]
    out = f(*ins)
    out.backward(dy)
    return out.detach(), [t.grad for t in ins]


def gen_softmax():
    out = {}
    x = torch.randn(3, 7, dtype=D) * 3
    x[0, 2] = 1000.0
    x[0, 5] = 999.0
    x[1, 1] = -float("inf")
    x[1, 4] = -float("inf")
    x[2] = x[2] - 5000.0
    cases = [("rows", x, 1), ("strided", torch.randn(4, 5, 6, dtype=D) * 2, 1), ("first", torch.randn(5, 9, dtype=D), 0)]
    for name, t, dim in cases:
        out[f"{name}_x"] = t
        out[f"{name}_dim"] = dim
        for fn, key in ((F.softmax, "softmax"), (F.log_softmax, "log_softmax")):
            dy = torch.randn_like(t)
            y, (dx,) = grads(lambda a: fn(a, dim), [t], dy)
            out[f"{name}_{key}"] = y
            out[f"{name}_{key}_dy"] = dy
            out[f"{name}_{key}_dx"] = dx
    common.save("nn_softmax", out)


def gen_pool():
    out = {}
    x = torch.randn(2, 2, 9, 11, dtype=D)
    out["x"] = x
    max_cfgs = [  # kernel, stride, padding, dilation, ceil_mode
        ((3, 3), (2, 2), (1, 1), (1, 1), False),
        ((3, 2), (2, 1), (1, 0), (2, 1), True),
        ((2, 2), (2, 2), (0, 0), (1, 1), True),
        ((4, 3), (3, 2), (2, 1), (1, 2), True),
    ]
    for i, (k, s, p, d, c) in enumerate(max_cfgs):
        vals, idx = F.max_pool2d(x, k, s, p, d, ceil_mode=c, return_indices=True)
        dy = torch.randn_like(vals)
        _, (dx,) = grads(lambda a: F.max_pool2d(a, k, s, p, d, ceil_mode=c), [x], dy)
        for key, v in (("k", k), ("s", s), ("p", p), ("d", d)):
            out[f"max{i}_{key}"] = torch.tensor(v, dtype=torch.int64)
        out[f"max{i}_ceil"] = float(c)
        out[f"max{i}_values"], out[f"max{i}_indices"], out[f"max{i}_dy"], out[f"max{i}_dx"] = vals, idx, dy, dx
    avg_cfgs = [  # kernel, stride, padding, ceil_mode, count_include_pad, divisor_override (0 = none)
        ((3, 3), (2, 2), (1, 1), False, True, 0),
        ((3, 3), (2, 2), (1, 1), True, False, 0),
        ((2, 4), (3, 2), (1, 2), True, True, 0),
        ((3, 2), (1, 2), (0, 1), False, True, 5),
    ]
    for i, (k, s, p, c, cip, dv) in enumerate(avg_cfgs):
        f = lambda a: F.avg_pool2d(a, k, s, p, ceil_mode=c, count_include_pad=cip, divisor_override=dv or None)
        y = f(x)
        dy = torch.randn_like(y)
        _, (dx,) = grads(f, [x], dy)
        for key, v in (("k", k), ("s", s), ("p", p)):
            out[f"avg{i}_{key}"] = torch.tensor(v, dtype=torch.int64)
        out[f"avg{i}_ceil"], out[f"avg{i}_cip"], out[f"avg{i}_div"] = float(c), float(cip), float(dv)
        out[f"avg{i}_y"], out[f"avg{i}_dy"], out[f"avg{i}_dx"] = y, dy, dx
    xa = torch.randn(2, 2, 7, 10, dtype=D)
    out["ax"] = xa
    for i, osz in enumerate([(3, 3), (4, 6), (1, 1), (7, 10)]):
        y = F.adaptive_avg_pool2d(xa, osz)
        dy = torch.randn_like(y)
        _, (dx,) = grads(lambda a: F.adaptive_avg_pool2d(a, osz), [xa], dy)
        out[f"aavg{i}_size"] = torch.tensor(osz, dtype=torch.int64)
        out[f"aavg{i}_y"], out[f"aavg{i}_dy"], out[f"aavg{i}_dx"] = y, dy, dx
        vals, idx = F.adaptive_max_pool2d(xa, osz, return_indices=True)
        _, (dx,) = grads(lambda a: F.adaptive_max_pool2d(a, osz), [xa], dy)
        out[f"amax{i}_values"], out[f"amax{i}_indices"], out[f"amax{i}_dx"] = vals, idx, dx
    common.save("nn_pool", out)


def gen_norm():
    out = {}
    for name, shape in (("bn4d", (4, 3, 5, 6)), ("bn2d", (8, 3)), ("bn3d", (2, 4, 7))):
        C = shape[1]
        x = torch.randn(*shape, dtype=D) * 2 + 3
        w = torch.randn(C, dtype=D)
        b = torch.randn(C, dtype=D)
        rm = torch.randn(C, dtype=D) * 0.1
        rv = torch.rand(C, dtype=D) + 0.5
        out[f"{name}_x"], out[f"{name}_w"], out[f"{name}_b"] = x, w, b
        out[f"{name}_rm"], out[f"{name}_rv"] = rm, rv
        for mode, training in (("train", True), ("eval", False)):
            rm2, rv2 = rm.clone(), rv.clone()
            y, save_mean, save_invstd = torch.ops.aten.native_batch_norm(x, w, b, rm2, rv2, training, 0.1, 1e-5)
            dy = torch.randn_like(x)
            _, (dx, dw, db) = grads(
                lambda a, ww, bb: F.batch_norm(a, rm.clone(), rv.clone(), ww, bb, training, 0.1, 1e-5), [x, w, b], dy)
            p = f"{name}_{mode}"
            out[f"{p}_y"], out[f"{p}_rm"], out[f"{p}_rv"] = y, rm2, rv2
            if training:
                out[f"{p}_save_mean"], out[f"{p}_save_invstd"] = save_mean, save_invstd
            out[f"{p}_dy"], out[f"{p}_dx"], out[f"{p}_dw"], out[f"{p}_db"] = dy, dx, dw, db
    for name, shape, nshape in (("ln3", (4, 5, 6), (5, 6)), ("ln1", (3, 17), (17,))):
        x = torch.randn(*shape, dtype=D) + 1
        w = torch.randn(*nshape, dtype=D)
        b = torch.randn(*nshape, dtype=D)
        y, mean, rstd = torch.native_layer_norm(x, list(nshape), w, b, 1e-5)
        dy = torch.randn_like(x)
        _, (dx, dw, db) = grads(lambda a, ww, bb: F.layer_norm(a, nshape, ww, bb, 1e-5), [x, w, b], dy)
        out[f"{name}_x"], out[f"{name}_w"], out[f"{name}_b"] = x, w, b
        out[f"{name}_y"], out[f"{name}_mean"], out[f"{name}_rstd"] = y, mean, rstd
        out[f"{name}_dy"], out[f"{name}_dx"], out[f"{name}_dw"], out[f"{name}_db"] = dy, dx, dw, db
    for name, shape, G in (("gn4", (3, 6, 4, 5), 3), ("gn3", (2, 4, 7), 2)):
        x = torch.randn(*shape, dtype=D) * 2 + 1
        C = shape[1]
        w = torch.randn(C, dtype=D)
        b = torch.randn(C, dtype=D)
        N, HxW = shape[0], x[0, 0].numel()
        y, mean, rstd = torch.native_group_norm(x, w, b, N, C, HxW, G, 1e-5)
        dy = torch.randn_like(x)
        _, (dx, dw, db) = grads(lambda a, ww, bb: F.group_norm(a, G, ww, bb, 1e-5), [x, w, b], dy)
        out[f"{name}_x"], out[f"{name}_w"], out[f"{name}_b"], out[f"{name}_groups"] = x, w, b, G
        out[f"{name}_y"], out[f"{name}_mean"], out[f"{name}_rstd"] = y, mean, rstd
        out[f"{name}_dy"], out[f"{name}_dx"], out[f"{name}_dw"], out[f"{name}_db"] = dy, dx, dw, db
    common.save("nn_norm", out)


def gen_interpolate():
    out = {}
    x = torch.randn(2, 3, 5, 7, dtype=D)
    out["x"] = x
    cases = [  # name, kwargs
        ("near_up", dict(size=(11, 16), mode="nearest")),
        ("near_down", dict(size=(3, 4), mode="nearest")),
        ("near_scale", dict(scale_factor=(1.7, 2.3), mode="nearest")),
        ("bil_ac0", dict(size=(9, 13), mode="bilinear", align_corners=False)),
        ("bil_ac1", dict(size=(9, 13), mode="bilinear", align_corners=True)),
        ("bil_down_ac0", dict(size=(3, 4), mode="bilinear", align_corners=False)),
        ("bil_down_ac1", dict(size=(3, 1), mode="bilinear", align_corners=True)),
        ("bil_scale", dict(scale_factor=(1.7, 2.3), mode="bilinear", align_corners=False)),
    ]
    for name, kw in cases:
        f = lambda a: F.interpolate(a, **kw)
        y = f(x)
        dy = torch.randn_like(y)
        _, (dx,) = grads(f, [x], dy)
        out[f"{name}_y"], out[f"{name}_dy"], out[f"{name}_dx"] = y, dy, dx
    common.save("nn_interpolate", out)


def gen_grid_sample():
    out = {}
    x = torch.randn(2, 3, 5, 7, dtype=D)
    a = 0.5
    theta = torch.tensor([[[1.3 * torch.cos(torch.tensor(a)), -torch.sin(torch.tensor(a)), 0.2],
                           [torch.sin(torch.tensor(a)), 1.2 * torch.cos(torch.tensor(a)), -0.3]],
                          [[-0.9, 0.4, 0.1], [0.3, 1.6, 0.25]]], dtype=D)
    out["x"], out["theta"] = x, theta
    size = (2, 3, 6, 8)
    for ac in (0, 1):
        grid = F.affine_grid(theta, size, align_corners=bool(ac))
        out[f"grid_ac{ac}"] = grid
        for mode in ("bilinear", "nearest"):
            for pad in ("zeros", "border", "reflection"):
                out[f"y_{mode}_{pad}_ac{ac}"] = F.grid_sample(x, grid, mode=mode, padding_mode=pad,
                                                               align_corners=bool(ac))
    common.save("nn_grid_sample", out)


if __name__ == "__main__":
    gen_softmax()
    gen_pool()
    gen_norm()
    gen_interpolate()
    gen_grid_sample()
