"""CUDA-event timing shared by the PyTorch side of the GPU benchmarks (bench/gpu/torch_optim.py,
bench/augment/torch_augment.py), following Note [GPU timing] in bench/cuda/gpu_bench.h: warm-up,
calls rotated over `sets` input sets so the L2 cache does not flatter, batches of at least 2 ms
timed with CUDA events, median over batches.
"""
import math
import statistics


def time_rotated(torch, step, sets, batches):
    """step(s) enqueues one call on input set s; returns seconds per call (median, min, max)."""
    i = 0
    for _ in range(max(20, sets)):
        step(i % sets)
        i += 1
    torch.cuda.synchronize()
    start, stop = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    probe = max(sets, 5)
    start.record()
    for _ in range(probe):
        step(i % sets)
        i += 1
    stop.record()
    stop.synchronize()
    per_call = max(start.elapsed_time(stop) * 1e-3 / probe, 1e-9)
    calls = int(min(max(math.ceil(2e-3 / per_call), 1), 100000))
    times = []
    for _ in range(batches):
        start.record()
        for _ in range(calls):
            step(i % sets)
            i += 1
        stop.record()
        stop.synchronize()
        times.append(start.elapsed_time(stop) * 1e-3 / calls)
    return {"median_s": statistics.median(times), "min_s": min(times), "max_s": max(times), "sets": sets,
            "batches": batches, "calls_per_batch": calls}
