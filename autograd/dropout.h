#pragma once
// Inverted dropout (mask from kiln::dropout_mask, so the same generator state gives the same mask
// on every device).
#include "kiln/autograd/node.h"
#include "kiln/tensor/random.h"

namespace kiln::ag {

// training and p > 0: x * mask with mask 0 (probability p) or 1 / (1 - p); otherwise x itself.
// p must be in [0, 1] (p == 1 gives zeros). gen null = the default generator.
Tensor dropout(const Tensor& x, double p, bool training, Generator* gen = nullptr);

// Channel dropout of x [B, C, H, W] (or [B, C, *]): one mask value per (b, c), shape [B, C, 1, 1].
Tensor dropout2d(const Tensor& x, double p, bool training, Generator* gen = nullptr);

}  // namespace kiln::ag
