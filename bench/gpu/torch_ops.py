#!/usr/bin/env python3
"""PyTorch's side of the tensor-op benchmark (bench/cuda/bench_ops_cuda.cpp).

Reads the sizes file that bench_ops_cuda --sizes-out wrote (every case: op, dtype, input shapes and
value ranges, parameters), makes the same inputs on the GPU with random data, and times the same
op in PyTorch with the rule of Note [GPU timing] in bench/cuda/gpu_bench.h (bench/gpu/cuda_timing.py:
rotate among enough input sets that four times the L2 size streams between two visits to one set,
warm up, batches of >= 2 ms between CUDA events, median per call). Prints the results as JSON
(and writes them with --out); bench/gpu/combine_ops.py joins them with kiln's table.

Settings that match kiln's: TF32 off for matmul and cuDNN (torch.backends.cuda.matmul.allow_tf32
and torch.backends.cudnn.allow_tf32 set False), torch.backends.cudnn.benchmark on (cuDNN's
fastest algorithm per shape, as kiln's find-once cache and the direct cuDNN side use). Ops are
the plain out-of-place calls a model makes; the backward ops are called directly
(aten._softmax_backward_data, aten.convolution_backward), not through autograd.

Where torch is missing, has no CUDA, or sees no GPU, it says so in one line, writes
{"skipped": why} to --out, and exits 0. A case PyTorch cannot run is recorded with its error.

  python3 bench/gpu/torch_ops.py SIZES.json [--quick] [--batches N] [--filter TEXT] [--out FILE.json]
"""
import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cuda_timing  # noqa: E402
from torch_optim import rotation_sets  # noqa: E402

DTYPES = {"f32": "float32", "f16": "float16", "bf16": "bfloat16", "f64": "float64", "i64": "int64"}
BLOCK = 512  # PyTorch's caching allocator rounds every block to 512 bytes


def skip(why, out):
    print(f"torch_ops: skipped: {why}")
    if out:
        with open(out, "w") as f:
            json.dump({"skipped": why}, f)
            f.write("\n")
    sys.exit(0)


def torch_dtype(torch, name):
    return getattr(torch, DTYPES[name])


def make_inputs(torch, case, gen, device):
    """One input set: tensors of the case's shapes and dtypes, uniform in [lo, hi)."""
    out = []
    for spec in case["inputs"]:
        t = torch.empty(spec["shape"], dtype=torch_dtype(torch, spec["dtype"]), device=device)
        t.uniform_(spec["lo"], spec["hi"], generator=gen)
        out.append(t)
    return out


def set_bytes(torch, case):
    total = 0
    for spec in case["inputs"]:
        n = 1
        for d in spec["shape"]:
            n *= d
        size = torch.empty((), dtype=torch_dtype(torch, spec["dtype"])).element_size()
        total += -(-n * size // BLOCK) * BLOCK
    return max(total, 1)


def _softmax_backward(torch, log):
    """dx from (dy, y, dim) with PyTorch's backward kernel; the formula where the aten op differs."""
    aten = torch.ops.aten
    fn = aten._log_softmax_backward_data if log else aten._softmax_backward_data

    def call(dy, y, dim):
        try:
            return fn(dy, y, dim, y.dtype)  # torch >= 1.11: (grad_output, output, dim, input_dtype)
        except (RuntimeError, TypeError):
            return fn(dy, y, dim, y)  # older: (grad_output, output, dim, self)
    return call


def _conv_backward(torch, dy, x, w, stride, padding, want_input):
    """Gradient of conv2d's input or weight through aten.convolution_backward (one cuDNN call)."""
    mask = [want_input, not want_input, False]
    r = torch.ops.aten.convolution_backward(dy, x, w, None, [stride, stride], [padding, padding], [1, 1], False,
                                            [0, 0], 1, mask)
    return r[0] if want_input else r[1]


def make_call(torch, case):
    """fn(inputs) running the case's op once, out of place, as kiln's side does."""
    F = torch.nn.functional
    op, p = case["op"], case.get("params", {})
    if op == "add":
        return lambda x: x[0] + x[1]
    if op == "mul_scalar":
        s = p["scalar"]
        return lambda x: x[0] * s
    if op == "relu":
        return lambda x: torch.relu(x[0])
    if op == "gelu":
        approx = p.get("approximate", "none")
        return lambda x: F.gelu(x[0], approximate=approx) if approx != "none" else F.gelu(x[0])
    if op == "cast":
        to = torch_dtype(torch, p["to"])
        return lambda x: x[0].to(to)
    if op == "transpose_copy":
        return lambda x: x[0].t().contiguous()
    if op in ("sum", "amax", "logsumexp", "var"):
        dims = p["dim"]
        if op == "sum":
            return (lambda x: x[0].sum(dim=dims)) if dims else (lambda x: x[0].sum())
        if op == "amax":
            return (lambda x: x[0].amax(dim=dims)) if dims else (lambda x: x[0].amax())
        if op == "logsumexp":
            return lambda x: torch.logsumexp(x[0], dim=dims)
        corr = p.get("correction", 1)

        def var(x):
            try:
                return torch.var(x[0], dim=dims, correction=corr)
            except TypeError:  # torch < 2.0
                return torch.var(x[0], dim=dims, unbiased=corr == 1)
        return var
    if op == "argmax":
        return lambda x: x[0].argmax(dim=p["dim"])
    if op == "cumsum":
        return lambda x: torch.cumsum(x[0], dim=p["dim"])
    if op == "softmax":
        return lambda x: torch.softmax(x[0], p["dim"])
    if op == "log_softmax":
        return lambda x: torch.log_softmax(x[0], p["dim"])
    if op in ("softmax_backward", "log_softmax_backward"):
        bwd = _softmax_backward(torch, op.startswith("log"))
        return lambda x: bwd(x[0], x[1], p["dim"])
    if op == "layer_norm":
        return lambda x: F.layer_norm(x[0], p["normalized_shape"], x[1], x[2], p["eps"])
    if op == "batch_norm":
        # inputs: x, weight, bias, running_mean, running_var (updated in place, as kiln's)
        return lambda x: F.batch_norm(x[0], x[3], x[4], x[1], x[2], training=p["training"], momentum=p["momentum"],
                                      eps=p["eps"])
    if op == "matmul":
        return lambda x: torch.matmul(x[0], x[1])
    if op == "bmm":
        return lambda x: torch.bmm(x[0], x[1])
    if op == "conv2d":
        return lambda x: F.conv2d(x[0], x[1], None, p["stride"], p["padding"])
    if op == "conv2d_backward_data":
        # inputs: dy, w; the input tensor only gives its shape (as torch.nn.grad.conv2d_input does)
        def bwd_data(x):
            dummy = x[0].new_empty(1).expand(p["x_shape"])
            return _conv_backward(torch, x[0], dummy, x[1], p["stride"], p["padding"], True)
        return bwd_data
    if op == "conv2d_backward_weight":
        # inputs: dy, x; the weight tensor only gives its shape
        def bwd_weight(x):
            dummy = x[0].new_empty(1).expand(p["w_shape"])
            return _conv_backward(torch, x[0], x[1], dummy, p["stride"], p["padding"], False)
        return bwd_weight
    raise ValueError(f"unknown op {op!r}")


def time_case(torch, case, gen, l2, batches):
    per_set = set_bytes(torch, case)
    sets = rotation_sets(per_set, l2)
    free, _ = torch.cuda.mem_get_info()
    while sets > 1 and sets * per_set > 0.4 * free:
        sets -= 1
    data = [make_inputs(torch, case, gen, "cuda") for _ in range(sets)]
    fn = make_call(torch, case)
    torch.cuda.synchronize()
    r = cuda_timing.time_rotated(torch, lambda s: fn(data[s]), sets, batches)
    del data
    return {"median_us": r["median_s"] * 1e6, "min_us": r["min_s"] * 1e6, "max_us": r["max_s"] * 1e6, "sets": sets,
            "batches": batches, "calls_per_batch": r["calls_per_batch"]}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("sizes", help="the JSON file written by bench_ops_cuda --sizes-out")
    ap.add_argument("--out", help="also write the results JSON here")
    ap.add_argument("--batches", type=int, default=50, help="timed batches per case (default 50)")
    ap.add_argument("--quick", action="store_true", help="10 batches per case")
    ap.add_argument("--filter", default="", help="only cases whose 'group case dtype' contains this text")
    args = ap.parse_args()
    batches = 10 if args.quick else max(1, args.batches)

    try:
        with open(args.sizes) as f:
            spec = json.load(f)
    except (OSError, ValueError) as e:
        sys.exit(f"torch_ops: cannot read the sizes file: {e}")
    try:
        import torch
    except ImportError as e:
        skip(f"PyTorch not importable ({e})", args.out)
    if not torch.cuda.is_available():
        skip(f"torch {torch.__version__} sees no usable CUDA device", args.out)

    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cudnn.benchmark = True
    props = torch.cuda.get_device_properties(0)
    l2 = int(getattr(props, "L2_cache_size", 0) or spec.get("l2_bytes", 0))
    if spec.get("gpu") and spec["gpu"] != props.name:
        print(f"torch_ops: warning: sizes file was written on {spec['gpu']}, running on {props.name}", file=sys.stderr)
    result = {"torch_version": torch.__version__, "torch_cuda": torch.version.cuda,
              "cudnn": torch.backends.cudnn.version(), "device": props.name, "l2_bytes": l2, "cases": []}
    gen = torch.Generator(device="cuda")
    gen.manual_seed(1)
    for case in spec["cases"]:
        key = f"{case['group']} {case['case']} {case['dtype']}"
        if args.filter and args.filter not in key:
            continue
        row = {k: case[k] for k in ("group", "case", "op", "dtype", "shapes", "bytes", "flops")}
        try:
            row.update(time_case(torch, case, gen, l2, batches))
            print(f"torch_ops: {key} {case['shapes']}: {row['median_us']:.1f} us ({row['sets']} sets)",
                  file=sys.stderr, flush=True)
        except (RuntimeError, ValueError, TypeError) as e:
            row["error"] = f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
            print(f"torch_ops: {key} {case['shapes']}: failed: {row['error']}", file=sys.stderr, flush=True)
        result["cases"].append(row)
        torch.cuda.empty_cache()

    text = json.dumps(result, indent=1)
    print(text)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text + "\n")


if __name__ == "__main__":
    main()
