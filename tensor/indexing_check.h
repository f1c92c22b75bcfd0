#pragma once
// Internal helpers shared by the indexing sources: index dtype and range checks.
#include <string>

#include "kiln/kernels/index_math.h"
#include "kiln/tensor/tensor.h"

#if KILN_HAVE_CUDA
#include "kiln/kernels/cuda/indexing.h"
#include "kiln/kernels/cuda/runtime.h"
#endif

namespace kiln::detail {

// Checks that `index` is i64 or i32 (naming op and arg) and returns it as a contiguous i64 tensor.
Tensor index_to_i64(const Tensor& index, const char* op, const char* arg = "index");

// Checks that every value of a contiguous i64 tensor (on either device; on CUDA see Note [CUDA
// index validation] in kernels/cuda/indexing.h) is a valid index into `size`
// elements: in [-size, size) when allow_negative, else [0, size). The error names op, the bad
// value, its position in the index tensor, `what` (e.g. "dimension 1 of size 5") and the range.
void check_index_range(const Tensor& idx64, int64_t size, bool allow_negative, const char* op,
                       const std::string& what);

// The CUDA gather/scatter geometry (kernels/cuda/indexing.h) of rows: positions [outer, m, inner],
// index [m] along the middle dim, the indexed tensor contiguous [outer, n, inner], the other
// operand contiguous [outer, m, inner].
IndexGeometry rows_geometry(int64_t outer, int64_t n, int64_t m, int64_t inner);
// The geometry of gather/scatter along dim d: positions = box (the index, contiguous, has that
// shape), the indexed tensor and the other operand given by their strides.
IndexGeometry dim_geometry(const Shape& box, int d, int64_t dim_size, const Shape& data_strides,
                           const Shape& other_strides);

}  // namespace kiln::detail
