#pragma once
// Fused optimizer steps on the CPU (Note [Fused optimizer semantics] in kernels/optim_fused.h):
// one pass per tensor over param / grad / state, threaded over the pool, deterministic (norms for
// lamb / larc use fixed chunking). Also the reference the CUDA multi-tensor kernels are tested
// against.
#include <cstdint>

#include "kiln/kernels/optim_fused.h"

namespace kiln::cpu {

// Updates every tensor of `tensors` in place. Throws kiln::Error for an unsupported dtype or a
// missing buffer the kind needs (naming the tensor index).
void fused_optim_step(const optim_kernels::FusedGroupArgs& group, DType param_dtype, DType grad_dtype,
                      const optim_kernels::FusedTensorArgs* tensors, int64_t count);

// True when any gradient element (of `count` tensors, n[i] elements each, dtype grad_dtype) is
// NaN or infinite.
bool any_nonfinite(const void* const* grads, const int64_t* n, int64_t count, DType grad_dtype);

}  // namespace kiln::cpu
