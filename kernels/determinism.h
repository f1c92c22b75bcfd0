#pragma once
// Note [Deterministic mode]
// kiln's own kernels are deterministic by default on both devices: reductions use fixed trees and
// no float atomics (DESIGN.md section 3). Vendor libraries are not always: some cuDNN algorithms
// accumulate with atomics, and TF32 changes results. set_deterministic_algorithms(true) makes
// every op choose only algorithms that give bit-identical results from run to run on the same
// device; an op that has no such algorithm throws (check_deterministic) instead of running.
// The flag is process-wide.
namespace kiln {

void set_deterministic_algorithms(bool on);
bool deterministic_algorithms();
// Throws a kiln::Error naming `op` and `why` when deterministic mode is on.
void check_deterministic(const char* op, const char* why);

// Note [TF32]
// On Ampere and later GPUs, f32 matrix products and convolutions can run on tensor cores in TF32
// (10-bit mantissa inputs, f32 accumulation): several times faster, but results differ from FP32
// in the fourth significant digit. kiln computes f32 in full FP32 unless set_allow_tf32(true)
// (process-wide, default off); cuBLAS and cuDNN read the flag at each call (kernels/cuda/blas.h,
// kernels/cuda/conv.h). The CPU ignores it.
void set_allow_tf32(bool on);
bool allow_tf32();

}  // namespace kiln
