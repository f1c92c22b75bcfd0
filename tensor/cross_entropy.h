#pragma once
// Fused log-softmax + NLL over rows (Note [Fused cross-entropy] in kernels/cross_entropy_math.h):
// the tensor-level entry of the CPU and CUDA kernels, used by nn::cross_entropy for class-index
// targets (one kernel forward, one backward, on either device).
#include "kiln/kernels/cross_entropy_math.h"
#include "kiln/tensor/tensor.h"

namespace kiln {

struct CrossEntropyRows {
  Tensor loss;   // [N] for reduction none, else [1]; logits' dtype
  Tensor lse;    // [N] per-row logsumexp, compute dtype (f64 for f64 logits, f32 otherwise)
  Tensor denom;  // [1] sum of the weights of the non-ignored rows, compute dtype
};

// logits [N, C] (f32, f64, f16, bf16; C >= 1), target [N] class indices (i64 or i32), weight [C]
// or undefined (any floating dtype; used in the compute dtype). All on one device. A target
// outside [0, C) that is not p.ignore_index throws on the CPU and gives a NaN loss on CUDA
// (callers that want the error everywhere check the targets first, as nn::cross_entropy does).
CrossEntropyRows cross_entropy_rows_forward(const Tensor& logits, const Tensor& target, const Tensor& weight,
                                            const CrossEntropyParams& p);
// dlogits [N, C] from dloss (the forward's loss shape), the forward's inputs and its lse / denom.
Tensor cross_entropy_rows_backward(const Tensor& dloss, const Tensor& logits, const Tensor& target,
                                   const Tensor& weight, const CrossEntropyRows& fwd, const CrossEntropyParams& p);

}  // namespace kiln
