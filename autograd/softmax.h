#pragma once
// Differentiable softmax / log-softmax along one dim (tensor/softmax.h).
#include "kiln/autograd/node.h"
#include "kiln/tensor/softmax.h"

namespace kiln::ag {

Tensor softmax(const Tensor& x, int64_t dim);
Tensor log_softmax(const Tensor& x, int64_t dim);

}  // namespace kiln::ag
