#pragma once
// Fused log-softmax + NLL on CUDA (Note [Fused cross-entropy] in kernels/cross_entropy_math.h):
// one kernel for the forward (one block per row: max, sum of exponentials, loss; per-row lse
// saved) plus, for sum / mean, one single-block kernel that reduces the rows; one kernel for the
// backward (one block per row). Same arguments, layouts and dtypes as
// kernels/cpu/cross_entropy.h; pointers are device memory. Callable from plain C++.
// Deterministic: fixed block trees (Note [Deterministic block reduction]), no atomics.
#include <cstddef>
#include <cstdint>

#include "kiln/kernels/cross_entropy_math.h"
#include "kiln/kernels/dtype.h"
#include "kiln/kernels/cuda/stream.h"

namespace kiln::cuda {

// Workspace bytes of cross_entropy_forward for N rows (256-byte aligned device memory).
size_t cross_entropy_workspace_size(DType dtype, int64_t N);

// As cpu::cross_entropy_forward, except that a target outside [0, C) that is not ignore_index
// gives a NaN loss for its row instead of an error.
void cross_entropy_forward(DType dtype, const void* logits, const int64_t* target, const void* weight, int64_t N,
                           int64_t C, const CrossEntropyParams& p, void* loss, void* lse, void* denom, void* workspace,
                           size_t workspace_bytes, Stream stream);

// As cpu::cross_entropy_backward (NaN rows for bad targets).
void cross_entropy_backward(DType dtype, const void* dloss, const void* logits, const int64_t* target,
                            const void* weight, const void* lse, const void* denom, int64_t N, int64_t C,
                            const CrossEntropyParams& p, void* dlogits, Stream stream);

}  // namespace kiln::cuda
