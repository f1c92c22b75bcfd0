#pragma once
// Softmax and log-softmax over one dimension on CUDA, forward and backward: the kernels of
// kernels/cpu/softmax.h on device pointers, queued on `stream`. Callable from plain C++.
//
// Tensors are contiguous and viewed as [outer, D, inner]; the softmax runs along D for each of the
// outer * inner positions (inner == 1: rows of D contiguous values). dtype is f32, f64, f16 or
// bf16; f16/bf16 are read and written as stored and computed in f32 (f64 in f64).
// Deterministic: fixed reduction trees chosen from the shape only, no atomics.
#include <cstdint>

#include "kiln/kernels/cuda/stream.h"
#include "kiln/kernels/dtype.h"

namespace kiln::cuda {

// y = softmax(x) (log_softmax when `log`), x and y [outer, D, inner] of `dtype`.
void softmax_forward(DType dtype, const void* x, void* y, int64_t outer, int64_t D, int64_t inner, bool log,
                     Stream stream);
// dx from dy and the forward output y (all [outer, D, inner] of `dtype`):
//   softmax:     dx = y * (dy - sum_D(dy * y))
//   log_softmax: dx = dy - exp(y) * sum_D(dy)
void softmax_backward(DType dtype, const void* dy, const void* y, void* dx, int64_t outer, int64_t D, int64_t inner,
                      bool log, Stream stream);

}  // namespace kiln::cuda
