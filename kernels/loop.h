#pragma once
// Loop: the description of an N-d elementwise iteration handed from the tensor layer to kernels.
// Operand 0 is the output; strides are in elements (0 for a broadcast dimension). Dimensions are
// ordered outermost first, so dimension ndim-1 is the inner loop. The tensor layer coalesces
// dimensions before it builds a Loop, so a contiguous tensor arrives as ndim == 1.
#include <cstdint>

namespace kiln {

constexpr int kMaxDims = 8;
constexpr int kMaxOperands = 4;

struct Loop {
  int ndim = 0;
  int nops = 0;
  int64_t sizes[kMaxDims] = {};
  int64_t strides[kMaxOperands][kMaxDims] = {};

  int64_t numel() const {
    int64_t n = 1;
    for (int d = 0; d < ndim; ++d) n *= sizes[d];
    return n;
  }
  int64_t inner_size() const { return ndim == 0 ? 1 : sizes[ndim - 1]; }
  int64_t inner_stride(int op) const { return ndim == 0 ? 0 : strides[op][ndim - 1]; }
  // Number of inner rows (product of all sizes but the innermost).
  int64_t outer_size() const {
    int64_t n = 1;
    for (int d = 0; d + 1 < ndim; ++d) n *= sizes[d];
    return n;
  }
  // Element offset of operand op at the start of outer row `row`.
  int64_t row_offset(int op, int64_t row) const {
    int64_t off = 0;
    for (int d = ndim - 2; d >= 0; --d) {
      int64_t i = row % sizes[d];
      row /= sizes[d];
      off += i * strides[op][d];
    }
    return off;
  }
};

}  // namespace kiln
