#pragma once
// 2-d resampling of NCHW tensors (PyTorch's upsample_nearest2d / upsample_bilinear2d and
// F.interpolate), with backward ops.
//
// x is [N, C, H, W] (floating; f16/bf16 computed in f32); the output is [N, C, OH, OW].
// `scales` are optional scale factors {sh, sw} (output / input) that, when given, define the
// source mapping (1 / scale) instead of H / OH, as PyTorch does when F.interpolate is called with
// scale_factor. Conventions:
//  - nearest: src = min(floor(dst * H / OH), H - 1) (PyTorch's 'nearest', not 'nearest-exact').
//  - bilinear, align_corners = true: the centres of the corner pixels of input and output
//    coincide: src = dst * (H - 1) / (OH - 1).
//  - bilinear, align_corners = false: pixel areas are aligned: src = (dst + 0.5) * H / OH - 0.5,
//    clamped at 0; edge taps are clamped to the input.
#include <array>
#include <cstdint>
#include <optional>

#include "kiln/tensor/tensor.h"

namespace kiln {

using Scales2d = std::optional<std::array<double, 2>>;

Tensor upsample_nearest2d(const Tensor& x, std::array<int64_t, 2> output_size, Scales2d scales = std::nullopt);
// dx [input_shape] = sum of dy over the outputs that read each input pixel.
Tensor upsample_nearest2d_backward(const Tensor& dy, const Shape& input_shape, Scales2d scales = std::nullopt);

Tensor upsample_bilinear2d(const Tensor& x, std::array<int64_t, 2> output_size, bool align_corners,
                           Scales2d scales = std::nullopt);
Tensor upsample_bilinear2d_backward(const Tensor& dy, const Shape& input_shape, bool align_corners,
                                    Scales2d scales = std::nullopt);

enum class InterpolateMode { nearest, bilinear };

// F.interpolate for 4-d inputs: exactly one of size and scale_factor is given. With scale_factor
// the output size is floor(H * sh) (and the scales drive the mapping, see above). align_corners is
// only meaningful for bilinear.
Tensor interpolate(const Tensor& x, std::optional<std::array<int64_t, 2>> size,
                   std::optional<std::array<double, 2>> scale_factor, InterpolateMode mode,
                   bool align_corners = false);

}  // namespace kiln
