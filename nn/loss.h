#pragma once
// Loss functions with PyTorch's numbers (torch.nn.functional), and fastai's flat loss classes.
//
// Note [Cross-entropy as one node]
// cross_entropy and nll_loss record ONE autograd node each: the forward computes log_softmax
// (cross_entropy only) and the weighted sum -sum_c q[i, c] log p[i, c] per position, where the
// coefficient q folds in the class weights, the ignore mask and label smoothing; the backward is
// g_i (softmax[i, c] * sum_c q[i, c] - q[i, c]) for cross_entropy and -g_i q[i, c] for nll_loss.
// For class-index targets t (with ε = label_smoothing, w = class weights or ones, C classes):
//   q[i, c] = w[c] ((1 - ε) [c == t_i] + ε / C), and 0 for positions with t_i == ignore_index;
//   mean divides by sum_i w[t_i] over the non-ignored positions (PyTorch's weighted mean; the
//   smoothing term uses the same denominator).
// For probability targets p (same shape as the logits): q[i, c] = w[c] ((1 - ε) p[i, c] + ε / C);
//   mean divides by the number of positions (numel / C), whatever the weights.
#include <cstdint>

#include "kiln/tensor/tensor.h"

namespace kiln::nn {

enum class Reduction { none, mean, sum };

// logits [B, C] or [B, C, d1, ...]; target: i64 (or i32) class indices [B] / [B, d1, ...], in
// [0, C) or ignore_index; or floating class probabilities of the logits' shape. weight: [C] or
// undefined. reduction none gives [B] / [B, d1, ...].
Tensor cross_entropy(const Tensor& logits, const Tensor& target, const Tensor& weight = {},
                     int64_t ignore_index = -100, Reduction reduction = Reduction::mean,
                     double label_smoothing = 0.0);

// log_probs [B, C] or [B, C, d1, ...] (log-probabilities), target class indices as above.
Tensor nll_loss(const Tensor& log_probs, const Tensor& target, const Tensor& weight = {},
                int64_t ignore_index = -100, Reduction reduction = Reduction::mean);

// Numerically stable sigmoid + binary cross entropy, elementwise:
//   l = weight * ((1 - y) x + (1 + (pos_weight - 1) y) log(1 + exp(-x))),
// weight broadcast to x's shape, pos_weight broadcast along the last dim (one per class), both
// optional. target y has x's shape (floating, may be soft); gradients reach target too.
Tensor binary_cross_entropy_with_logits(const Tensor& x, const Tensor& target, const Tensor& weight = {},
                                        const Tensor& pos_weight = {}, Reduction reduction = Reduction::mean);

// (x - y)^2, |x - y|, and the Huber-like smooth L1: 0.5 d^2 / beta where |d| < beta, else
// |d| - 0.5 beta (beta = 0 is L1). x and y broadcast.
Tensor mse_loss(const Tensor& x, const Tensor& target, Reduction reduction = Reduction::mean);
Tensor l1_loss(const Tensor& x, const Tensor& target, Reduction reduction = Reduction::mean);
Tensor smooth_l1_loss(const Tensor& x, const Tensor& target, Reduction reduction = Reduction::mean,
                      double beta = 1.0);

// ---- fastai's flat losses: `axis` of the input moved last and everything flattened, so that every
// position is one sample; activation() is what turns model outputs into predictions and decodes()
// turns predictions into labels (fastai applies decodes to activation's output).

// Input [.., C at axis, ..] -> [N, C]; target class indices flattened to [N] (target positions in
// the input's order with the axis removed, e.g. [B, C, H, W] with target [B, H, W]).
class CrossEntropyLossFlat {
 public:
  explicit CrossEntropyLossFlat(int64_t axis = 1, Tensor weight = {}, int64_t ignore_index = -100,
                                Reduction reduction = Reduction::mean, double label_smoothing = 0.0);
  Tensor operator()(const Tensor& input, const Tensor& target) const;
  Tensor activation(const Tensor& x) const;  // softmax along axis
  Tensor decodes(const Tensor& x) const;     // argmax along axis (i64)
  int64_t axis;
  Tensor weight;
  int64_t ignore_index;
  Reduction reduction;
  double label_smoothing;
};

// Input and target (converted to the input's floating dtype) with axis moved last, flattened.
class BCEWithLogitsLossFlat {
 public:
  explicit BCEWithLogitsLossFlat(int64_t axis = -1, double thresh = 0.5, Tensor weight = {}, Tensor pos_weight = {},
                                 Reduction reduction = Reduction::mean);
  Tensor operator()(const Tensor& input, const Tensor& target) const;
  Tensor activation(const Tensor& x) const;  // sigmoid
  Tensor decodes(const Tensor& x) const;     // x > thresh (bool), x being activation's output
  int64_t axis;
  double thresh;
  Tensor weight, pos_weight;
  Reduction reduction;
};

// Input and target (as floats) flattened; activation and decodes are the identity.
class MSELossFlat {
 public:
  explicit MSELossFlat(int64_t axis = -1, Reduction reduction = Reduction::mean);
  Tensor operator()(const Tensor& input, const Tensor& target) const;
  Tensor activation(const Tensor& x) const { return x; }
  Tensor decodes(const Tensor& x) const { return x; }
  int64_t axis;
  Reduction reduction;
};

class L1LossFlat {
 public:
  explicit L1LossFlat(int64_t axis = -1, Reduction reduction = Reduction::mean);
  Tensor operator()(const Tensor& input, const Tensor& target) const;
  Tensor activation(const Tensor& x) const { return x; }
  Tensor decodes(const Tensor& x) const { return x; }
  int64_t axis;
  Reduction reduction;
};

}  // namespace kiln::nn
