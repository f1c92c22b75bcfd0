#pragma once
// Differentiable 2-d resampling of [N, C, H, W] tensors (tensor/interpolate.h).
#include "kiln/autograd/node.h"
#include "kiln/tensor/interpolate.h"

namespace kiln::ag {

Tensor upsample_nearest2d(const Tensor& x, std::array<int64_t, 2> output_size, Scales2d scales = std::nullopt);
Tensor upsample_bilinear2d(const Tensor& x, std::array<int64_t, 2> output_size, bool align_corners,
                           Scales2d scales = std::nullopt);
// F.interpolate: exactly one of size and scale_factor.
Tensor interpolate(const Tensor& x, std::optional<std::array<int64_t, 2>> size,
                   std::optional<std::array<double, 2>> scale_factor, InterpolateMode mode,
                   bool align_corners = false);

}  // namespace kiln::ag
