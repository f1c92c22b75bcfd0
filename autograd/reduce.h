#pragma once
// Differentiable reductions: kiln::ag::<name> has the same name, arguments, result shape and
// dtype as kiln::<name> in tensor/reduce.h and records a graph node when grad mode is on and x
// requires grad. `dims` empty = all dimensions; keepdim keeps reduced dims with size 1.
//
// Gradient conventions (PyTorch's):
// - prod: zeros are handled exactly: in a slice with one zero, that element's gradient is the
//   product of the others (the rest get 0); with two or more zeros every gradient is 0.
// - amax / amin / max(x) / min(x): the gradient is split evenly among the elements equal to
//   the extreme (ties).
// - max / min (x, dim): the gradient goes to the returned index only.
// - norm: p = 2 gives gradient 0 where the norm is 0; p = inf splits among ties of max |x|;
//   general p uses x |x|^(p-2) / norm^(p-1) (0 where the norm is 0).
// - cumprod: zeros are handled exactly: along the dim, the elements before the first zero get
//   (sum_{j >= i} g_j y_j) / x_i, the first zero the same sum with itself replaced by 1, and the
//   elements after it 0.
#include <optional>

#include "kiln/autograd/node.h"
#include "kiln/tensor/reduce.h"

namespace kiln::ag {

// reduce_sum.cpp
Tensor sum(const Tensor& x, const Shape& dims = {}, bool keepdim = false, std::optional<DType> dtype = std::nullopt);
Tensor mean(const Tensor& x, const Shape& dims = {}, bool keepdim = false, std::optional<DType> dtype = std::nullopt);
Tensor prod(const Tensor& x, const Shape& dims = {}, bool keepdim = false, std::optional<DType> dtype = std::nullopt);
Tensor logsumexp(const Tensor& x, const Shape& dims, bool keepdim = false);
Tensor cumsum(const Tensor& x, int64_t dim, std::optional<DType> dtype = std::nullopt);
Tensor cumprod(const Tensor& x, int64_t dim, std::optional<DType> dtype = std::nullopt);

// reduce_minmax.cpp
Tensor amax(const Tensor& x, const Shape& dims = {}, bool keepdim = false);
Tensor amin(const Tensor& x, const Shape& dims = {}, bool keepdim = false);
Tensor max(const Tensor& x);
Tensor min(const Tensor& x);
// values differentiable, indices i64 (no autograd meta).
ValuesIndices max(const Tensor& x, int64_t dim, bool keepdim = false);
ValuesIndices min(const Tensor& x, int64_t dim, bool keepdim = false);

// reduce_moments.cpp
Tensor var(const Tensor& x, const Shape& dims = {}, double correction = 1, bool keepdim = false);
Tensor std(const Tensor& x, const Shape& dims = {}, double correction = 1, bool keepdim = false);
VarMean var_mean(const Tensor& x, const Shape& dims = {}, double correction = 1, bool keepdim = false);
Tensor norm(const Tensor& x, double p = 2, const Shape& dims = {}, bool keepdim = false);

}  // namespace kiln::ag
