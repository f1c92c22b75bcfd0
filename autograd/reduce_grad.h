#pragma once
// Internal helpers of the differentiable reductions (not part of the public API): undoing a
// reduction's shape so its gradient broadcasts against the input.
#include "kiln/tensor/tensor.h"

namespace kiln::ag::detail {

// The reduced dims, non-negative and checked; an empty list means all dims (as the raw ops).
Shape normalize_dims(const Shape& dims, int ndim, const char* op);
// in_shape with every reduced dim set to 1 (the keepdim result shape).
Shape keepdim_shape(const Shape& in_shape, const Shape& dims, const char* op);
// A reduction result (keepdim or not) reshaped to keepdim_shape, so it broadcasts against x.
Tensor as_keepdim(const Tensor& t, const Shape& in_shape, const Shape& dims, const char* op);
// The number of input elements reduced into each output element.
int64_t reduced_count(const Shape& in_shape, const Shape& dims, const char* op);

}  // namespace kiln::ag::detail
