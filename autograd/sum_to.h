#pragma once
// sum_to: the one helper that reduces a broadcast gradient back to an input's shape.
#include "kiln/tensor/tensor.h"

namespace kiln::ag {

// Sums `grad` over the leading dims it has beyond `shape` and over every dim where `shape` has
// size 1 and grad does not; returns grad itself when the shapes already match. `shape` must be
// broadcastable to grad's shape.
Tensor sum_to(const Tensor& grad, const Shape& shape);

}  // namespace kiln::ag
