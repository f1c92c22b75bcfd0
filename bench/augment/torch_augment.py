#!/usr/bin/env python3
"""PyTorch's side of the batch augmentation benchmark: a fastai-style pipeline written with plain
torch ops, timed on the CPU or on a CUDA device with the same batch shapes as kiln's benchmarks
(bench/compare/compare_augment.cpp on the CPU, bench/cuda/bench_augment_cuda.cpp on a GPU).

Pipeline, per call (fresh per-sample draws every time, fastai's aug_transforms defaults):
  u8 NHWC -> f32 NCHW / 255 -> per-sample 2x3 matrices flip @ rotate @ zoom (flip p = 0.5, rotate
  +-10 degrees and zoom 1..1.1 with a random centre, each p = 0.75) -> affine_grid -> grid_sample
  (bilinear, reflection, align_corners=True) -> logit -> + logit(brightness) -> * contrast
  (max_lighting 0.2, each p = 0.75) -> sigmoid -> normalise (ImageNet mean / std).

Timing. CPU: warm-up calls, then `rounds` batches of calls of >= 50 ms each (time.perf_counter),
median time per call. CUDA: Note [GPU timing] in bench/cuda/gpu_bench.h: rotate among enough input
batches that four times the L2 size streams between two visits to one, warm up, batches of calls
of >= 2 ms between CUDA events, median per call. Prints JSON (and writes it with --out); the floor
counts B*H*W*C u8 bytes in + B*C*H*W*4 f32 bytes out.

Where torch is missing or (with --device cuda) sees no GPU, it says so in one line, writes
{"skipped": why} to --out, and exits 0.

  /usr/bin/python3 bench/augment/torch_augment.py [--device cpu|cuda] [--threads N] [--quick]
      [--rounds N] [--shapes 256x3x224x224,1024x3x32x32] [--out FILE.json]
"""
import argparse
import json
import math
import os
import statistics
import sys
import time

MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)
MAX_ROTATE, MIN_ZOOM, MAX_ZOOM, MAX_LIGHTING, P_AFFINE, P_LIGHTING = 10.0, 1.0, 1.1, 0.2, 0.75, 0.75


sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "gpu"))
import cuda_timing  # noqa: E402

def skip(why, out):
    print(f"torch_augment: skipped: {why}")
    if out:
        with open(out, "w") as f:
            json.dump({"skipped": why}, f)
            f.write("\n")
    sys.exit(0)


def parse_shape(s):
    parts = [int(v) for v in s.lower().split("x")]
    if len(parts) != 4 or min(parts) < 1:
        raise argparse.ArgumentTypeError(f"shape {s!r}: expected BxCxHxW with positive sizes")
    return tuple(parts)


class Pipeline:
    def __init__(self, torch, device):
        self.torch, self.device = torch, device
        self.mean = torch.tensor(MEAN, device=device).view(1, 3, 1, 1)
        self.std = torch.tensor(STD, device=device).view(1, 3, 1, 1)

    def masked_uniform(self, b, lo, hi, p, neutral):
        t = self.torch
        v = t.rand(b, device=self.device) * (hi - lo) + lo
        return t.where(t.rand(b, device=self.device) < p, v, t.full((b,), neutral, device=self.device))

    def __call__(self, x_u8):
        t, dev = self.torch, self.device
        b, h, w, c = x_u8.shape
        x = x_u8.permute(0, 3, 1, 2).contiguous().float().div_(255)
        flip = t.where(t.rand(b, device=dev) < 0.5, t.full((b,), -1.0, device=dev), t.full((b,), 1.0, device=dev))
        angle = self.masked_uniform(b, -MAX_ROTATE, MAX_ROTATE, P_AFFINE, 0.0) * (math.pi / 180)
        s = 1 / self.masked_uniform(b, MIN_ZOOM, MAX_ZOOM, P_AFFINE, 1.0)
        cx = (1 - s) * (2 * t.rand(b, device=dev) - 1)
        cy = (1 - s) * (2 * t.rand(b, device=dev) - 1)
        zero, one = t.zeros(b, device=dev), t.ones(b, device=dev)
        cos, sin = angle.cos(), angle.sin()

        def mat(*e):
            return t.stack(e, 1).view(b, 3, 3)

        theta = (mat(flip, zero, zero, zero, one, zero, zero, zero, one)
                 @ mat(cos, -sin, zero, sin, cos, zero, zero, zero, one)
                 @ mat(s, zero, cx, zero, s, cy, zero, zero, one))[:, :2]
        grid = t.nn.functional.affine_grid(theta, (b, c, h, w), align_corners=True)
        y = t.nn.functional.grid_sample(x, grid, mode="bilinear", padding_mode="reflection", align_corners=True)
        bright = self.masked_uniform(b, 0.5 * (1 - MAX_LIGHTING), 0.5 * (1 + MAX_LIGHTING), P_LIGHTING, 0.5)
        lc = math.log(1 - MAX_LIGHTING)
        contrast = self.masked_uniform(b, lc, -lc, P_LIGHTING, 0.0).exp()
        y.clamp_(1e-7, 1 - 1e-7)
        y = (y / (1 - y)).log_()
        y.add_((bright / (1 - bright)).log().view(b, 1, 1, 1)).mul_(contrast.view(b, 1, 1, 1))
        y.sigmoid_()
        return y.sub_(self.mean).div_(self.std)


def time_cpu(fn, x, rounds):
    for _ in range(2):
        fn(x)
    t0 = time.perf_counter()
    fn(x)
    one = max(time.perf_counter() - t0, 1e-9)
    calls = int(min(max(0.05 / one, 1), 1e6))
    times = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        for _ in range(calls):
            fn(x)
        times.append((time.perf_counter() - t0) / calls)
    return {"median_s": statistics.median(times), "min_s": min(times), "max_s": max(times), "rounds": rounds,
            "calls_per_round": calls}


def rotation_sets(bytes_per_set, l2_bytes):
    need = 4 * max(l2_bytes, 0)
    return int(min(max(-(-need // bytes_per_set), 1), 64))


def time_cuda(torch, fn, inputs, batches):
    """Note [GPU timing]: inputs[i % sets] on call i."""
    return cuda_timing.time_rotated(torch, lambda s: fn(inputs[s]), len(inputs), batches)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1, help="CPU threads (default: all)")
    ap.add_argument("--rounds", type=int, default=0, help="CPU rounds / CUDA batches (default 7 / 50)")
    ap.add_argument("--quick", action="store_true", help="CPU: smaller batches (32x3x224x224, 256x3x32x32); "
                    "CUDA: the same shapes, 10 batches")
    ap.add_argument("--shapes", type=lambda v: [parse_shape(s) for s in v.split(",")],
                    help="comma-separated BxCxHxW list (C must be 3)")
    ap.add_argument("--out", help="also write the results JSON here")
    args = ap.parse_args()

    try:
        import torch
    except ImportError as e:
        skip(f"PyTorch not importable ({e}); Debian's is /usr/bin/python3 with python3-torch", args.out)
    cuda = args.device == "cuda"
    if cuda and not torch.cuda.is_available():
        skip(f"torch {torch.__version__} sees no usable CUDA device", args.out)

    shapes = args.shapes or ([(32, 3, 224, 224), (256, 3, 32, 32)] if args.quick and not cuda
                             else [(256, 3, 224, 224), (1024, 3, 32, 32)])
    for s in shapes:
        if s[1] != 3:
            sys.exit(f"torch_augment: shape {'x'.join(map(str, s))}: the normalisation needs C = 3")
    rounds = args.rounds or (10 if cuda and args.quick else 50 if cuda else 3 if args.quick else 7)
    torch.manual_seed(1)
    result = {"torch_version": torch.__version__, "device_kind": args.device, "cases": []}
    if cuda:
        props = torch.cuda.get_device_properties(0)
        l2 = int(getattr(props, "L2_cache_size", 0) or 50 << 20)
        result.update(device=props.name, torch_cuda=torch.version.cuda, l2_bytes=l2)
    else:
        torch.set_num_threads(max(1, args.threads))
        result.update(device="cpu", threads=torch.get_num_threads())
    pipe = Pipeline(torch, args.device)
    gen = torch.Generator().manual_seed(7)
    with torch.no_grad():
        for b, c, h, w in shapes:
            name = f"{b}x{c}x{h}x{w}"
            floor_bytes = b * c * h * w * (1 + 4)
            host = torch.randint(0, 256, (b, h, w, c), dtype=torch.uint8, generator=gen)
            if cuda:
                sets = rotation_sets(floor_bytes, l2)
                inputs = [host.to("cuda") if k == 0 else host.roll(k, 0).to("cuda") for k in range(sets)]
                tm = time_cuda(torch, pipe, inputs, rounds)
                del inputs
                torch.cuda.empty_cache()
            else:
                tm = time_cpu(pipe, host, rounds)
            row = {"shape": name, "batch": b, "floor_bytes": floor_bytes, "images_per_s": b / tm["median_s"]}
            row.update(tm)
            result["cases"].append(row)
            print(f"torch_augment: {name} on {args.device}: {tm['median_s'] * 1e3:.2f} ms per batch, "
                  f"{row['images_per_s']:.0f} images/s", file=sys.stderr, flush=True)

    text = json.dumps(result, indent=1)
    print(text)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text + "\n")


if __name__ == "__main__":
    main()
