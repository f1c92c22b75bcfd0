#pragma once
// Internal to the reduction ops (tensor/reduce*.cpp, tensor/cumsum.cpp): brings a reduction over
// any set of dims to the [outer, R, inner] form of the CPU reduce kernels (kernels/cpu/reduce.h).
#include "kiln/tensor/tensor.h"

namespace kiln {

struct ReducePlan {
  Tensor input;            // contiguous, read as [outer, R, inner]
  int64_t outer = 1, R = 1, inner = 1;
  Shape out_shape;         // result shape (keepdim applied)
  bool reduced[kMaxDims] = {};
};

// dims empty = all dims. When the reduced dims (ignoring size-1 dims) are adjacent, a contiguous x
// is used as is (row reduce when they are the innermost, column reduce otherwise); else the kept
// dims are permuted in front of the reduced ones and copied.
ReducePlan plan_reduce(const Tensor& x, const Shape& dims, bool keepdim, const char* op);

}  // namespace kiln
