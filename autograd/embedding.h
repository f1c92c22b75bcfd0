#pragma once
// Differentiable embedding lookup (tensor/indexing.h).
#include "kiln/autograd/node.h"
#include "kiln/tensor/indexing.h"

namespace kiln::ag {

// weight [V, D], index (i64, any shape) -> [index.shape..., D]. The gradient goes to weight only;
// the row padding_idx (if >= 0) gets none.
Tensor embedding(const Tensor& weight, const Tensor& index, int64_t padding_idx = -1);

}  // namespace kiln::ag
