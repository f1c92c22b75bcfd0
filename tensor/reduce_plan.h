#pragma once
// Internal to the reduction ops (tensor/reduce*.cpp, tensor/cumsum.cpp): brings a reduction over
// any set of dims to the [outer, R, inner] form of the CPU reduce kernels (kernels/cpu/reduce.h).
#include "kiln/tensor/tensor.h"

namespace kiln {

struct ReducePlan {
  Tensor input;            // contiguous, read as [outer, R, inner]
  int64_t outer = 1, R = 1, inner = 1;
  // When set, input is [A = outer, K = R, B = inner] and dims 0 and 2 are reduced, K kept
  // (cpu::reduce_split). Only planned when the caller allows it.
  bool split = false;
  int64_t outputs() const { return split ? R : outer * inner; }
  int64_t reduced_count() const { return split ? outer * inner : R; }
  Shape out_shape;         // result shape (keepdim applied)
  bool reduced[kMaxDims] = {};
};

// dims empty = all dims. When the reduced dims (ignoring size-1 dims) are adjacent, a contiguous x
// is used as is (row reduce when they are the innermost, column reduce otherwise); with
// allow_split, reduced dims that are a leading and a trailing run around the kept ones
// ([N, C, H, W] over {0, 2, 3}) are also used as is; else the kept dims are permuted in front of
// the reduced ones and copied.
ReducePlan plan_reduce(const Tensor& x, const Shape& dims, bool keepdim, const char* op, bool allow_split = false);

}  // namespace kiln
