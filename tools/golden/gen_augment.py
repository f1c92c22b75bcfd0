"""Golden fixtures for the fused augmentation (kernels/augment.h, data/augment.h): each geometric
transform alone, and all together, sampled by torch.nn.functional.affine_grid + grid_sample.

Run with Debian's python3: /usr/bin/python3 tools/golden/gen_augment.py
Writes tests/fixtures/augment.safetensors: `input` (a random 1x3x9x11 image in [0, 1]) and, for
case <name>: <name>.theta (the 2x3 affine matrix in normalised coordinates, as the kernel's
AugSampleParams.affine), <name>.crop (x0, y0, w, h in input pixels; w = 0: none), <name>.warp
(fastai's perspective magnitudes x_t, y_t), <name>.mode (0 bilinear, 1 nearest, 2 bicubic),
<name>.pad (0 zeros, 1 border, 2 reflection), <name>.ac (align_corners) and <name>.out, the
expected 1x3xOHxOW output. Geometry order (as the kernel): the output grid goes through the crop,
then theta, then the warp; the image is sampled once.

It also runs fastai's own transforms (fastai 2.7.12, needed on PYTHONPATH: `pip download --no-deps
fastai==2.7.12 fastcore==1.5.29` and unzip the wheels) with explicit draws on `fa.input` (a 2x3x9x11
batch): fa.geometry (Flip, Warp, Rotate, Zoom composed by setup_aug_tfms, align_corners = True,
reflection), fa.brightness, fa.contrast, fa.saturation, fa.hue, fa.lighting (Brightness + Contrast
composed), with the draws stored beside them (fa.flip, fa.rotate, fa.zoom, fa.zoom_col,
fa.zoom_row, fa.warp_x, fa.warp_y, fa.b, fa.c, fa.s, fa.h, one value per sample). fastai's
plotting / data dependencies are replaced by inert stubs; only fastai.vision.augment runs.
"""
import math

import torch
import torch.nn.functional as F

from common import save

torch.manual_seed(0)
H, W = 9, 11
image = torch.rand(1, 3, H, W, dtype=torch.float32)
out = {"input": image}

MODES = {"bilinear": 0, "nearest": 1, "bicubic": 2}
PADS = {"zeros": 0, "border": 1, "reflection": 2}


def crop_theta(crop, ac):
    """Normalised map of a crop (x0, y0, w, h) of the input, output -> input coordinates."""
    x0, y0, w, h = crop
    if ac:
        sx, tx = (w - 1) / (W - 1), (2 * x0 + w - 1) / (W - 1) - 1
        sy, ty = (h - 1) / (H - 1), (2 * y0 + h - 1) / (H - 1) - 1
    else:
        sx, tx = w / W, (2 * x0 + w) / W - 1
        sy, ty = h / H, (2 * y0 + h) / H - 1
    return torch.tensor([[sx, 0, tx], [0, sy, ty]], dtype=torch.float64)


def warp_homography(xt, yt):
    """fastai's Warp: the homography sending the moved corners back to the image corners."""
    orig = [(-1, -1), (-1, 1), (1, -1), (1, 1)]
    targ = [(-1 - yt, -1 - xt), (-1 + yt, 1 + xt), (1 + yt, -1 + xt), (1 - yt, 1 - xt)]
    rows, rhs = [], []
    for (x, y), (u, v) in zip(targ, orig):
        rows.append([x, y, 1, 0, 0, 0, -u * x, -u * y])
        rows.append([0, 0, 0, x, y, 1, -v * x, -v * y])
        rhs += [u, v]
    c = torch.linalg.solve(torch.tensor(rows, dtype=torch.float64), torch.tensor(rhs, dtype=torch.float64))
    return torch.cat([c, torch.ones(1, dtype=torch.float64)]).view(3, 3)


def case(name, theta, size=(H, W), mode="bilinear", pad="reflection", ac=False, crop=None, warp=(0.0, 0.0)):
    theta = torch.tensor(theta, dtype=torch.float64)
    oh, ow = size
    base = crop_theta(crop, ac) if crop else torch.tensor([[1, 0, 0], [0, 1, 0]], dtype=torch.float64)
    grid = F.affine_grid(base[None], (1, 3, oh, ow), align_corners=ac)[0]  # (oh, ow, 2), double
    grid = grid @ theta[:, :2].T + theta[:, 2]
    if warp != (0.0, 0.0):
        hw = warp_homography(*warp)
        g = torch.cat([grid, torch.ones(oh, ow, 1, dtype=torch.float64)], dim=-1) @ hw.T
        grid = g[..., :2] / g[..., 2:]
    y = F.grid_sample(image.double(), grid[None], mode=mode, padding_mode=pad, align_corners=ac).float()
    out[name + ".theta"] = theta.float()
    out[name + ".crop"] = torch.tensor(crop if crop else (0, 0, 0, 0), dtype=torch.float32)
    out[name + ".warp"] = torch.tensor(warp, dtype=torch.float32)
    out[name + ".mode"] = MODES[mode]
    out[name + ".pad"] = PADS[pad]
    out[name + ".ac"] = int(ac)
    out[name + ".out"] = y


def rot(deg):
    t = math.radians(deg)
    return [[math.cos(t), math.sin(t), 0], [-math.sin(t), math.cos(t), 0]]


for ac in (False, True):
    sfx = "_ac" if ac else ""
    case("flip" + sfx, [[-1, 0, 0], [0, 1, 0]], ac=ac)
    case("flip_vert" + sfx, [[1, 0, 0], [0, -1, 0]], mode="nearest", ac=ac)
    for pad in PADS:
        case(f"rotate_{pad}{sfx}", rot(17), pad=pad, ac=ac)
        case(f"rotate_nearest_{pad}{sfx}", rot(-23), mode="nearest", pad=pad, ac=ac)
        case(f"rotate_bicubic_{pad}{sfx}", rot(11), mode="bicubic", pad=pad, ac=ac)
    case("zoom" + sfx, [[1 / 1.37, 0, 0.1], [0, 1 / 1.37, -0.15]], size=(7, 8), ac=ac)
    case("zoom_out_zeros" + sfx, [[1.6, 0, 0.05], [0, 1.6, 0]], pad="zeros", ac=ac)
    case("translate" + sfx, [[1, 0, 0.23], [0, 1, -0.31]], pad="zeros", ac=ac)
    case("shear" + sfx, [[1, 0.3, 0], [0, 1, 0]], pad="border", ac=ac)
    case("crop" + sfx, [[1, 0, 0], [0, 1, 0]], size=(7, 8), crop=(2, 1, 6, 5), ac=ac)
    case("warp" + sfx, [[1, 0, 0], [0, 1, 0]], warp=(0.15, -0.1), ac=ac)
    r, z = torch.tensor(rot(8) + [[0, 0, 1]]), torch.tensor([[0.8, 0, 0.1], [0, 0.8, 0.05], [0, 0, 1]])
    case("all" + sfx, (r @ z)[:2].tolist(), size=(6, 7), crop=(1, 2, 9, 6), warp=(-0.12, 0.08), ac=ac)



def import_fastai_augment():
    """fastai.vision.augment with its unused heavy imports stubbed out."""
    import importlib.abc
    import importlib.machinery
    import re
    import sys
    import types

    stubbed = {"matplotlib", "pandas", "scipy", "sklearn", "fastdownload", "fastprogress", "spacy", "IPython",
               "requests", "yaml", "torchvision"}

    class Inert(types.ModuleType):
        __path__ = []

        def __getattr__(self, k):
            if k.startswith("__"):
                raise AttributeError(k)
            return Inert(k)

        def __call__(self, *a, **k):
            return Inert("call")

        def __mro_entries__(self, bases):
            return (object,)

    class StubFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
        def find_spec(self, name, path, target=None):
            if name.split(".")[0] in stubbed:
                return importlib.machinery.ModuleSpec(name, self, is_package=True)
            return None

        def create_module(self, spec):
            return Inert(spec.name)

        def exec_module(self, module):
            pass

    sys.meta_path.insert(0, StubFinder())
    if "packaging" not in sys.modules:
        version = types.ModuleType("packaging.version")
        version.parse = lambda v: tuple(int(x) for x in re.findall(r"\d+", str(v))[:3])
        pkg = types.ModuleType("packaging")
        pkg.version = version
        sys.modules["packaging"], sys.modules["packaging.version"] = pkg, version
    import fastai.vision.augment as fa_aug
    return fa_aug


A = import_fastai_augment()
x = (torch.rand(2, 3, H, W) * 0.9 + 0.05).float()
draws = dict(flip=[1.0, 0.0], rotate=[7.0, -4.0], zoom=[1.05, 1.1], zoom_col=[0.2, 0.7], zoom_row=[0.9, 0.4],
             warp_x=[0.1, -0.15], warp_y=[-0.05, 0.12], b=[0.4, 0.62], c=[0.8, 1.2], s=[0.6, 1.3], h=[0.95, 1.08])
aff = A.setup_aug_tfms([
    A.Flip(p=1.0, draw=draws["flip"]),
    A.Warp(magnitude=0.2, p=1.0, draw_x=draws["warp_x"], draw_y=draws["warp_y"]),
    A.Rotate(max_deg=10, p=1.0, draw=draws["rotate"]),
    A.Zoom(min_zoom=1.0, max_zoom=1.1, p=1.0, draw=draws["zoom"], draw_x=draws["zoom_col"], draw_y=draws["zoom_row"]),
])[0]
out["fa.input"] = x
out["fa.geometry"] = aff(A.TensorImage(x.clone()), split_idx=0).float()
out["fa.brightness"] = A.TensorImage(x.clone()).brightness(draw=draws["b"], p=1.0).float()
out["fa.contrast"] = A.TensorImage(x.clone()).contrast(draw=draws["c"], p=1.0).float()
out["fa.saturation"] = A.TensorImage(x.clone()).saturation(draw=draws["s"], p=1.0).float()
out["fa.hue"] = A.TensorImage(x.clone()).hue(draw=draws["h"], p=1.0).float()
lig = A.setup_aug_tfms([A.Brightness(p=1.0, draw=draws["b"]), A.Contrast(p=1.0, draw=draws["c"])])[0]
out["fa.lighting"] = lig(A.TensorImage(x.clone()), split_idx=0).float()
for k, v in draws.items():
    out["fa." + k] = torch.tensor(v, dtype=torch.float32)

save("augment", out)
