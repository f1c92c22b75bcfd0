#pragma once
// Sorting ops (PyTorch's semantics; order as Note [Sort order] in kernels/cpu/sort.h: NaN sorts
// as the largest value, equal values keep their input order). Results are contiguous; indices
// are i64 positions along the sorted dim. Every dtype is supported.
#include "kiln/tensor/tensor.h"
#include "kiln/tensor/values_indices.h"

namespace kiln {

// Sorts x along dim: values (x's shape and dtype) and the indices they came from. The sort is
// always stable (`stable` is accepted for PyTorch's signature: an unstable sort is allowed to
// give the stable order).
ValuesIndices sort(const Tensor& x, int64_t dim = -1, bool descending = false, bool stable = true);
// The indices of sort(x, dim, descending, stable).
Tensor argsort(const Tensor& x, int64_t dim = -1, bool descending = false, bool stable = true);

// The k largest (smallest when !largest) elements along dim, best first, with their indices
// (shape of x with size k along dim). Ties go to the lower index, as in a stable sort. The
// result is always sorted (`sorted` = false allows any order, and sorted is one).
ValuesIndices topk(const Tensor& x, int64_t k, int64_t dim = -1, bool largest = true, bool sorted = true);

struct UniqueResult {
  Tensor values;   // 1-d, distinct values of x in ascending order
  Tensor inverse;  // i64, x's shape: position of each element of x in values (if requested)
  Tensor counts;   // i64, values' shape: occurrences of each value (if requested)
};
// Distinct values of x (flattened). The categories use: inverse maps labels to dense ids.
// Values always come out sorted (`sorted` = false allows any order). NaNs are all distinct.
// inverse / counts are undefined tensors unless requested.
UniqueResult unique(const Tensor& x, bool sorted = true, bool return_inverse = false, bool return_counts = false);

}  // namespace kiln
