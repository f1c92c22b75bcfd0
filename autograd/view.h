#pragma once
// Differentiable views and copies: the free-function forms of the Tensor view/copy members
// (tensor/tensor.h), same arguments and results. The forward calls the member, so results that
// are views share storage with their input exactly as the raw member's do, and bad arguments give
// the raw member's error unchanged. Gradients flow back through any chain of views.
#include "kiln/autograd/node.h"

namespace kiln::ag {

// x with a new shape of the same numel (-1 infers one size); needs compatible strides (view) or
// copies when it must (reshape). Gradient: dy reshaped to x's shape.
Tensor view(const Tensor& x, const Shape& shape);
Tensor reshape(const Tensor& x, const Shape& shape);
// Dims reordered: result dim i is x dim dims[i]. Gradient: dy permuted by the inverse order.
Tensor permute(const Tensor& x, const Shape& dims);
// Dims d0 and d1 swapped; t: 2-d transpose (0-d and 1-d returned as is).
Tensor transpose(const Tensor& x, int64_t d0, int64_t d1);
Tensor t(const Tensor& x);
// x broadcast to `shape` (-1 keeps a size; new leading dims allowed), a stride-0 view.
// Gradient: sum_to(dy, x.shape).
Tensor expand(const Tensor& x, const Shape& shape);
Tensor broadcast_to(const Tensor& x, const Shape& shape);
// Size-1 dims removed (all, or only `dim` if it has size 1); a size-1 dim inserted at `dim`.
Tensor squeeze(const Tensor& x);
Tensor squeeze(const Tensor& x, int64_t dim);
Tensor unsqueeze(const Tensor& x, int64_t dim);
// x[..., start:start+length, ...] along dim.
Tensor narrow(const Tensor& x, int64_t dim, int64_t start, int64_t length);
// Python-style x[..., start:end:step, ...] along dim (negative start/end count from the end,
// clamped). Gradient: zeros of x's shape with dy written into the same slice.
Tensor slice(const Tensor& x, int64_t dim, int64_t start, int64_t end, int64_t step = 1);
// x[..., index, ...]: dim removed.
Tensor select(const Tensor& x, int64_t dim, int64_t index);
// Dims start_dim..end_dim merged into one; dim split into `sizes` (one may be -1).
Tensor flatten(const Tensor& x, int64_t start_dim = 0, int64_t end_dim = -1);
Tensor unflatten(const Tensor& x, int64_t dim, const Shape& sizes);
// x itself if contiguous, else a contiguous copy; clone always copies. Gradient: dy.
Tensor contiguous(const Tensor& x);
Tensor clone(const Tensor& x);
// Cast to dtype (x itself if already of that dtype); the gradient is cast back to x's dtype.
// Moved to device; the gradient is moved back to x's device.
Tensor to(const Tensor& x, DType dtype);
Tensor to(const Tensor& x, Device device);

}  // namespace kiln::ag
