#pragma once
// Fused log-softmax + NLL (cross entropy with class-index targets): the formulas shared by the
// CPU reference (kernels/cpu/cross_entropy.h) and the CUDA kernels (kernels/cuda/cross_entropy.h).
//
// Note [Fused cross-entropy]
// The same loss as nn::cross_entropy (Note [Cross-entropy as one node] in nn/loss.h) for rows
// [N, C] of logits x and targets t_i in [0, C) or ignore_index. With eps = label_smoothing and w
// the class weights (ones when absent):
//   q[i, c] = w[c] ((1 - eps) [c == t_i] + eps / C), all 0 for an ignored row
//   Q_i = sum_c q[i, c],  m_i = max_c x[i, c],  se_i = sum_c exp(x[i, c] - m_i)
//   lse_i = m_i + log(se_i)                                   (saved for the backward)
//   loss_i = -sum_c q[i, c] (x[i, c] - lse_i) = Q_i log(se_i) - sum_c q[i, c] (x[i, c] - m_i)
// Terms with q = 0 are skipped, not multiplied (a -inf logit of a class with zero weight adds 0,
// not NaN, as in nn::cross_entropy). Reductions: none gives loss [N]; sum gives sum_i loss_i;
// mean divides that by denom = sum of w[t_i] over the non-ignored rows (PyTorch's weighted mean;
// 0 / 0 = NaN when every row is ignored). denom is also what the backward of mean divides by.
// Backward (one pass per row): dx[i, c] = g_i (exp(x[i, c] - lse_i) Q_i - q[i, c]) with
// g_i = dloss_i (none), dloss (sum) or dloss / denom (mean).
// A target outside [0, C) that is not ignore_index is an error on the CPU; the CUDA kernels give
// NaN for its row (they never read out of bounds).
#include <cstdint>

#include "kiln/kernels/macros.h"

namespace kiln {

enum class CeReduction : int32_t { none, sum, mean };

struct CrossEntropyParams {
  int64_t ignore_index = -100;
  double label_smoothing = 0;
  CeReduction reduction = CeReduction::mean;
};

namespace cross_entropy {

// q[i, c] of a non-ignored row with target t; w_c is the class weight (1 without weights) and
// eps_over_classes = eps / C.
template <class C>
KILN_HD C class_coef(int64_t c, int64_t t, C w_c, C eps, C eps_over_classes) {
  return ((c == t ? C(1) - eps : C(0)) + eps_over_classes) * w_c;
}

// loss_i from log(se_i), Q_i and sum_c q (x - m).
template <class C>
KILN_HD C row_loss(C log_se, C q_sum, C qx_sum) {
  return q_sum * log_se - qx_sum;
}

// One logit's gradient: g (softmax Q - q).
template <class C>
KILN_HD C logit_grad(C g, C softmax, C q_sum, C q) {
  return g * (softmax * q_sum - q);
}

}  // namespace cross_entropy
}  // namespace kiln
