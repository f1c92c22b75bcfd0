#pragma once
// Differentiable 2-d pooling (arguments as tensor/pool.h). Inputs [N, C, H, W] or [C, H, W].
#include "kiln/autograd/node.h"
#include "kiln/tensor/pool.h"

namespace kiln::ag {

// The pooled values only (the indices are kept internally for backward).
Tensor max_pool2d(const Tensor& x, std::array<int64_t, 2> kernel, std::array<int64_t, 2> stride = {0, 0},
                  std::array<int64_t, 2> padding = {0, 0}, std::array<int64_t, 2> dilation = {1, 1},
                  bool ceil_mode = false);

Tensor avg_pool2d(const Tensor& x, std::array<int64_t, 2> kernel, std::array<int64_t, 2> stride = {0, 0},
                  std::array<int64_t, 2> padding = {0, 0}, bool ceil_mode = false, bool count_include_pad = true,
                  std::optional<int64_t> divisor_override = std::nullopt);

Tensor adaptive_avg_pool2d(const Tensor& x, std::array<int64_t, 2> output_size);
// The pooled values only.
Tensor adaptive_max_pool2d(const Tensor& x, std::array<int64_t, 2> output_size);

}  // namespace kiln::ag
