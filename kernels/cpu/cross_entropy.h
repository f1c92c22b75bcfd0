#pragma once
// Fused log-softmax + NLL on the CPU (Note [Fused cross-entropy] in kernels/cross_entropy_math.h):
// the reference of the CUDA kernels in kernels/cuda/cross_entropy.h, same arguments.
//
// Layouts: logits and dlogits [N, C] contiguous of dtype (f32, f64, f16, bf16); target [N] int64;
// weight [C], lse [N] and denom [1] of the compute type (double for f64, float otherwise); loss
// and dloss of dtype: [N] for reduction none, [1] otherwise. C >= 1.
#include <cstdint>

#include "kiln/kernels/cross_entropy_math.h"
#include "kiln/kernels/dtype.h"

namespace kiln::cpu {

// loss, lse (the per-row logsumexp the backward needs) and denom (sum of the weights of the
// non-ignored rows). weight may be null (ones); lse and denom may be null when not wanted.
void cross_entropy_forward(DType dtype, const void* logits, const int64_t* target, const void* weight, int64_t N,
                           int64_t C, const CrossEntropyParams& p, void* loss, void* lse, void* denom);

// dlogits from dloss, the forward's inputs and its lse; denom is needed for reduction mean only.
void cross_entropy_backward(DType dtype, const void* dloss, const void* logits, const int64_t* target,
                            const void* weight, const void* lse, const void* denom, int64_t N, int64_t C,
                            const CrossEntropyParams& p, void* dlogits);

}  // namespace kiln::cpu
