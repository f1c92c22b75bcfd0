#pragma once
// Reductions. `dims` lists the dimensions to reduce (negative ones count from the end, no repeats);
// an empty list means all dimensions, as in PyTorch. keepdim keeps reduced dimensions with size 1.
// Results are deterministic whatever the thread count (Note [Deterministic reductions] in
// kernels/cpu/reduce.h). f16/bf16 inputs accumulate in f32.
#include <optional>

#include "kiln/tensor/tensor.h"
#include "kiln/tensor/values_indices.h"

namespace kiln {

// Sum; integer and bool inputs sum to i64. With dtype, the input is cast to dtype first and the
// result has that dtype. The sum over no elements is 0.
Tensor sum(const Tensor& x, const Shape& dims = {}, bool keepdim = false, std::optional<DType> dtype = std::nullopt);
// Mean of a floating tensor (an integer input is an error; cast it first or pass dtype).
Tensor mean(const Tensor& x, const Shape& dims = {}, bool keepdim = false, std::optional<DType> dtype = std::nullopt);
// Product; dtypes as sum. The product over no elements is 1.
Tensor prod(const Tensor& x, const Shape& dims = {}, bool keepdim = false, std::optional<DType> dtype = std::nullopt);

// Largest / smallest value over dims (NaN propagates); same dtype as x. Reducing an empty
// dimension into a non-empty result is an error.
Tensor amax(const Tensor& x, const Shape& dims = {}, bool keepdim = false);
Tensor amin(const Tensor& x, const Shape& dims = {}, bool keepdim = false);
// Over all elements: a 0-d tensor.
Tensor max(const Tensor& x);
Tensor min(const Tensor& x);
// Over one dimension: values and i64 indices of the first extreme (a NaN is the extreme).
ValuesIndices max(const Tensor& x, int64_t dim, bool keepdim = false);
ValuesIndices min(const Tensor& x, int64_t dim, bool keepdim = false);
// i64 index of the first extreme over dim, or into the flattened tensor when dim is not given
// (keepdim then gives a tensor of x.dim() ones).
Tensor argmax(const Tensor& x, std::optional<int64_t> dim = std::nullopt, bool keepdim = false);
Tensor argmin(const Tensor& x, std::optional<int64_t> dim = std::nullopt, bool keepdim = false);

// Variance sum((x - mean)^2) / (N - correction) over dims (floating x); N - correction <= 0
// gives NaN or inf, as PyTorch. std is its square root.
Tensor var(const Tensor& x, const Shape& dims = {}, double correction = 1, bool keepdim = false);
Tensor std(const Tensor& x, const Shape& dims = {}, double correction = 1, bool keepdim = false);
struct VarMean {
  Tensor var;
  Tensor mean;
};
VarMean var_mean(const Tensor& x, const Shape& dims = {}, double correction = 1, bool keepdim = false);

// Vector p-norm over dims (floating x): (sum |x|^p)^(1/p) for p > 0, max |x| for p = inf.
Tensor norm(const Tensor& x, double p = 2, const Shape& dims = {}, bool keepdim = false);
// log(sum(exp(x))) over dims computed stably (floating x); all -inf gives -inf.
Tensor logsumexp(const Tensor& x, const Shape& dims, bool keepdim = false);

// Whether any / all elements are non-zero (bool result, any dtype).
Tensor any(const Tensor& x, const Shape& dims = {}, bool keepdim = false);
Tensor all(const Tensor& x, const Shape& dims = {}, bool keepdim = false);

// Inclusive cumulative sum / product along dim, same shape as x. Floating inputs keep their dtype
// (accumulated in f64), integer and bool inputs give i64; dtype casts the input first.
Tensor cumsum(const Tensor& x, int64_t dim, std::optional<DType> dtype = std::nullopt);
Tensor cumprod(const Tensor& x, int64_t dim, std::optional<DType> dtype = std::nullopt);

}  // namespace kiln
