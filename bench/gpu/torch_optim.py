#!/usr/bin/env python3
"""PyTorch's side of the fused optimizer benchmark (bench/cuda/bench_optim_cuda.cpp).

Reads the sizes file that bench_optim_cuda --sizes-out wrote (size mixes, hyper-parameters, the
GPU's L2 size), builds the same parameter lists on the GPU with random data and gradients set, and
times torch.optim.AdamW(fused=True) and torch.optim.SGD(momentum=0.9, foreach=True) steps with the
rule of Note [GPU timing] in bench/cuda/gpu_bench.h: rotate among enough parameter sets that four
times the L2 size streams between two visits to one set, warm up, batch calls to >= 2 ms between
CUDA events, report the median per step. Prints the results as JSON (and writes them with --out).

Where torch is missing, has no CUDA, or sees no GPU, it says so in one line, writes
{"skipped": why} to --out, and exits 0. An older torch without AdamW(fused=True) falls back to
foreach=True and says so in the output ("adamw_impl").
"""
import argparse
import json
import os
import sys

BLOCK = 512  # PyTorch's caching allocator rounds every block to 512 bytes


sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cuda_timing  # noqa: E402

def rotation_sets(bytes_per_set, l2_bytes):
    need = 4 * max(l2_bytes, 0)
    return int(min(max(-(-need // bytes_per_set), 1), 64))


def footprint(sizes, buffers):
    return buffers * sum(-(-n * 4 // BLOCK) * BLOCK for n in sizes)


def skip(why, out):
    print(f"torch_optim: skipped: {why}")
    if out:
        with open(out, "w") as f:
            json.dump({"skipped": why}, f)
            f.write("\n")
    sys.exit(0)


def make_params(torch, sizes, gen):
    params = []
    for n in sizes:
        p = torch.empty(n, device="cuda").uniform_(-1.0, 1.0, generator=gen).requires_grad_()
        p.grad = torch.empty(n, device="cuda").uniform_(-1.0, 1.0, generator=gen)
        params.append(p)
    return params


def make_adamw(torch, params, hp, impl):
    kw = dict(lr=hp["lr"], betas=tuple(hp["betas"]), eps=hp["eps"], weight_decay=hp["weight_decay"])
    if impl == "fused":
        return torch.optim.AdamW(params, fused=True, **kw)
    return torch.optim.AdamW(params, foreach=True, **kw)


def adamw_impl(torch):
    """'fused' where this torch has AdamW(fused=True) on CUDA, else 'foreach' (with the reason)."""
    p = torch.zeros(4, device="cuda", requires_grad=True)
    p.grad = torch.ones(4, device="cuda")
    try:
        opt = torch.optim.AdamW([p], lr=1e-3, fused=True)
        opt.step()
        torch.cuda.synchronize()
        return "fused", ""
    except (TypeError, RuntimeError, ValueError) as e:
        return "foreach", f"AdamW(fused=True) unavailable in torch {torch.__version__} ({type(e).__name__}: {e}); used foreach=True"


def time_rotated(torch, step, sets, batches):
    """Note [GPU timing]: step(s) enqueues one optimizer step on set s."""
    r = cuda_timing.time_rotated(torch, step, sets, batches)
    return {"median_us": r["median_s"] * 1e6, "min_us": r["min_s"] * 1e6, "max_us": r["max_s"] * 1e6,
            "sets": sets, "batches": batches, "calls_per_batch": r["calls_per_batch"]}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("sizes", help="the JSON file written by bench_optim_cuda --sizes-out")
    ap.add_argument("--out", help="also write the results JSON here")
    ap.add_argument("--batches", type=int, default=50, help="timed batches per case (default 50)")
    ap.add_argument("--quick", action="store_true", help="10 batches per case")
    args = ap.parse_args()
    batches = 10 if args.quick else max(1, args.batches)

    try:
        with open(args.sizes) as f:
            spec = json.load(f)
    except (OSError, ValueError) as e:
        sys.exit(f"torch_optim: cannot read the sizes file: {e}")
    try:
        import torch
    except ImportError as e:
        skip(f"PyTorch not importable ({e})", args.out)
    if not torch.cuda.is_available():
        skip(f"torch {torch.__version__} sees no usable CUDA device", args.out)

    props = torch.cuda.get_device_properties(0)
    l2 = int(getattr(props, "L2_cache_size", 0) or spec.get("l2_bytes", 0))
    impl, note = adamw_impl(torch)
    if note:
        print(f"torch_optim: {note}", file=sys.stderr)
    result = {
        "torch_version": torch.__version__,
        "torch_cuda": torch.version.cuda,
        "device": props.name,
        "l2_bytes": l2,
        "adamw_impl": impl,
        "adamw_note": note,
        "sgd_impl": "foreach",
        "cases": [],
    }
    if spec.get("gpu") and spec["gpu"] != props.name:
        print(f"torch_optim: warning: sizes file was written on {spec['gpu']}, running on {props.name}", file=sys.stderr)

    gen = torch.Generator(device="cuda")
    gen.manual_seed(1)
    hp_adam, hp_sgd = spec["adamw"], spec["sgd"]
    for case in spec["cases"]:
        sizes = case["sizes"]
        for name in ("AdamW", "SGD-momentum"):
            adam = name == "AdamW"
            sets = rotation_sets(footprint(sizes, 4 if adam else 3), l2)
            free, _ = torch.cuda.mem_get_info()
            while sets > 1 and sets * footprint(sizes, 4 if adam else 3) > free * 0.8:
                sets -= 1
            opts = []
            for _ in range(sets):
                params = make_params(torch, sizes, gen)
                if adam:
                    opt = make_adamw(torch, params, hp_adam, impl)
                else:
                    opt = torch.optim.SGD(params, lr=hp_sgd["lr"], momentum=hp_sgd["momentum"], foreach=True)
                opt.step()  # creates the state; then make it random too (never zeros)
                for p in params:
                    st = opt.state[p]
                    if adam:
                        st["exp_avg"].uniform_(-1.0, 1.0, generator=gen)
                        st["exp_avg_sq"].uniform_(0.01, 1.0, generator=gen)
                    else:
                        st["momentum_buffer"].uniform_(-1.0, 1.0, generator=gen)
                opts.append(opt)
            torch.cuda.synchronize()
            t = time_rotated(torch, lambda s: opts[s].step(), sets, batches)
            row = {"mix": case["mix"], "size": case["size"], "params": sum(sizes), "tensors": len(sizes),
                   "optimizer": name}
            row.update(t)
            result["cases"].append(row)
            print(f"torch_optim: {name} {case['size']} {case['mix']}: {t['median_us']:.1f} us "
                  f"({sets} sets)", file=sys.stderr, flush=True)
            del opts
            torch.cuda.empty_cache()

    text = json.dumps(result, indent=1)
    print(text)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text + "\n")


if __name__ == "__main__":
    main()
