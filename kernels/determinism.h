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

}  // namespace kiln
