#pragma once
#include "kiln/tensor/tensor.h"

namespace kiln {
// Result of ops that return values and their positions (max/min over a dim, sort, topk, max pooling).
struct ValuesIndices {
  Tensor values;
  Tensor indices;  // i64
};
}  // namespace kiln
