#pragma once
// Internal helpers shared by the indexing sources: index dtype and range checks.
#include <string>

#include "kiln/tensor/tensor.h"

namespace kiln::detail {

// Checks that `index` is i64 or i32 (naming op and arg) and returns it as a contiguous i64 tensor.
Tensor index_to_i64(const Tensor& index, const char* op, const char* arg = "index");

// Checks (on the CPU) that every value of a contiguous i64 tensor is a valid index into `size`
// elements: in [-size, size) when allow_negative, else [0, size). The error names op, the bad
// value, its position in the index tensor, `what` (e.g. "dimension 1 of size 5") and the range.
void check_index_range(const Tensor& idx64, int64_t size, bool allow_negative, const char* op,
                       const std::string& what);

}  // namespace kiln::detail
