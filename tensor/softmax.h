#pragma once
// Softmax and log-softmax along one dimension, and their backward ops.
//
// x may have any shape (0-d included) and a floating dtype (f32, f64, f16, bf16; the 16-bit ones
// are computed in f32). dim may be negative. Outputs have x's shape and dtype. Numerically stable:
// the row maximum is subtracted before exp. A row of only -inf gives NaN (as PyTorch); -inf entries
// of other rows give exactly 0 (softmax) / -inf (log_softmax).
#include "kiln/tensor/tensor.h"

namespace kiln {

// y = exp(x - max) / sum(exp(x - max)) along dim.
Tensor softmax(const Tensor& x, int64_t dim);
// y = x - max - log(sum(exp(x - max))) along dim.
Tensor log_softmax(const Tensor& x, int64_t dim);

// Gradient of softmax given dy and the forward output y (same shape and dtype):
// dx = y * (dy - sum_dim(dy * y)).
Tensor softmax_backward(const Tensor& dy, const Tensor& y, int64_t dim);
// Gradient of log_softmax given dy and the forward output y: dx = dy - exp(y) * sum_dim(dy).
Tensor log_softmax_backward(const Tensor& dy, const Tensor& y, int64_t dim);

}  // namespace kiln
