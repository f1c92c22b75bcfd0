#pragma once
// Differentiable indexing ops: the same names, arguments and results as tensor/indexing.h.
// Index tensors and masks get no gradient.
#include <vector>

#include "kiln/autograd/node.h"
#include "kiln/tensor/indexing.h"

namespace kiln::ag {

// x [..., n, ...], index [m] -> [..., m, ...]. Gradient: index_add of dy into zeros of x's shape.
Tensor index_select(const Tensor& x, int64_t dim, const Tensor& index);
// out has index's shape, out[..i..] = x[..index[..i..]..] along dim. Gradient: scatter_add of dy.
Tensor gather(const Tensor& x, int64_t dim, const Tensor& index);
// gather after broadcasting x and index against each other in every dim but `dim`.
Tensor take_along_dim(const Tensor& x, const Tensor& index, int64_t dim);

// A copy of x with src (or value) written at index along dim. Gradients: to x, dy with the
// written positions zeroed; to src, gather(dy, dim, index).
Tensor scatter(const Tensor& x, int64_t dim, const Tensor& index, const Tensor& src);
Tensor scatter(const Tensor& x, int64_t dim, const Tensor& index, Scalar value);
// x plus src added at index along dim. Gradients: to x, dy; to src, gather(dy, dim, index).
Tensor scatter_add(const Tensor& x, int64_t dim, const Tensor& index, const Tensor& src);

// x where mask (bool, broadcast with x) is false, value where true. Gradient: dy with masked
// positions zeroed, summed to x's shape.
Tensor masked_fill(const Tensor& x, const Tensor& mask, Scalar value);
// 1-d tensor of x's elements where mask is true. Gradient: dy put back at the mask's positions.
Tensor masked_select(const Tensor& x, const Tensor& mask);

// x plus alpha * src added at index [m] along dim. Gradients: to x, dy; to src,
// alpha * index_select(dy, dim, index).
Tensor index_add(const Tensor& x, int64_t dim, const Tensor& index, const Tensor& src, Scalar alpha = 1);

// Advanced indexing read x[indices...] -> [B..., x.shape[k:]...]. Gradient: dy accumulated into
// zeros of x's shape at the indexed positions.
Tensor index(const Tensor& x, const std::vector<Tensor>& indices);
// A copy of x with values written (or added, accumulate) at x[indices...]. Gradients: to x, dy
// (with the written positions zeroed unless accumulate); to values, dy[indices...] summed to
// values' shape.
Tensor index_put(const Tensor& x, const std::vector<Tensor>& indices, const Tensor& values, bool accumulate = false);

}  // namespace kiln::ag
