#pragma once
// CPU kernels of sort, topk and unique (tensor/sort.h). Rows are contiguous [rows, n].
//
// Note [Sort order]
// Values compare as numbers (16-bit floats through f32, -0.0 equal to 0.0); NaN compares larger
// than every number and equal to other NaNs. Sorting is stable in both directions: equal values
// keep their input order. topk breaks ties by the lower index, so it returns the same elements as
// the first k of a stable sort.
#include <cstdint>

#include "kiln/kernels/dtype.h"

namespace kiln::cpu {

// Sorts each row; values [rows, n] (same dtype) and indices [rows, n] (position in the row).
void sort_rows(DType dtype, const void* x, int64_t rows, int64_t n, bool descending, void* values,
               int64_t* indices);

// The k largest (or smallest) of each row, best first: values [rows, k], indices [rows, k].
void topk_rows(DType dtype, const void* x, int64_t rows, int64_t n, int64_t k, bool largest, void* values,
               int64_t* indices);

// Run-length encodes n ascending-sorted values (as sort_rows leaves them; perm[i] is the input
// position of sorted[i]): writes the distinct values to `values`, their counts to `counts` (may
// be null) and, for each input position, the number of its run to `inverse` (may be null).
// Returns the number of distinct values. NaNs are all distinct, as in PyTorch.
int64_t unique_sorted(DType dtype, const void* sorted, const int64_t* perm, int64_t n, void* values,
                      int64_t* inverse, int64_t* counts);

}  // namespace kiln::cpu
