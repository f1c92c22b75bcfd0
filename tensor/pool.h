#pragma once
// 2-d pooling over NCHW tensors, and the backward ops.
//
// Inputs are [N, C, H, W] or [C, H, W] (outputs keep the input's rank), floating dtype (f16/bf16
// computed in f32). Window parameters are {height, width} pairs. stride {0, 0} means "= kernel".
// Output size per spatial dim (as PyTorch):
//   out = floor_or_ceil((in + 2 * pad - dilation * (kernel - 1) - 1) / stride) + 1,
// and with ceil_mode the last window must start inside the input or the left padding, else out -= 1.
// Requirements: kernel, stride, dilation > 0; 0 <= pad <= (effective kernel) / 2; out >= 1.
// Indices (i64) are flat positions ih * W + iw inside each input plane, as PyTorch.
#include <array>
#include <cstdint>
#include <optional>

#include "kiln/tensor/tensor.h"
#include "kiln/tensor/values_indices.h"

namespace kiln {

// values[n, c, oh, ow] = max of x over the window (NaN propagates), indices = its position.
ValuesIndices max_pool2d(const Tensor& x, std::array<int64_t, 2> kernel, std::array<int64_t, 2> stride = {0, 0}, std::array<int64_t, 2> padding = {0, 0},
                         std::array<int64_t, 2> dilation = {1, 1}, bool ceil_mode = false);
// dx of input_shape: dy scattered (added) to the positions in indices (same shape as dy).
Tensor max_pool2d_backward(const Tensor& dy, const Tensor& indices, const Shape& input_shape);

// Window average. The window is clipped to the padded input; the divisor is divisor_override if
// given, else the clipped window size including padding (count_include_pad) or excluding it.
Tensor avg_pool2d(const Tensor& x, std::array<int64_t, 2> kernel, std::array<int64_t, 2> stride = {0, 0}, std::array<int64_t, 2> padding = {0, 0},
                  bool ceil_mode = false, bool count_include_pad = true,
                  std::optional<int64_t> divisor_override = std::nullopt);
// dx of input_shape from dy, with the forward's parameters.
Tensor avg_pool2d_backward(const Tensor& dy, const Shape& input_shape, std::array<int64_t, 2> kernel, std::array<int64_t, 2> stride = {0, 0},
                           std::array<int64_t, 2> padding = {0, 0}, bool ceil_mode = false, bool count_include_pad = true,
                           std::optional<int64_t> divisor_override = std::nullopt);

// Adaptive pools to output_size {OH, OW}: cell (oh, ow) covers rows
// [floor(oh * H / OH), ceil((oh + 1) * H / OH)) and likewise columns (windows may overlap).
Tensor adaptive_avg_pool2d(const Tensor& x, std::array<int64_t, 2> output_size);
Tensor adaptive_avg_pool2d_backward(const Tensor& dy, const Shape& input_shape);
ValuesIndices adaptive_max_pool2d(const Tensor& x, std::array<int64_t, 2> output_size);
Tensor adaptive_max_pool2d_backward(const Tensor& dy, const Tensor& indices, const Shape& input_shape);

// The pooled size of one spatial dim (formula above); throws naming `op` when it is < 1.
int64_t pool_output_size(int64_t in, int64_t kernel, int64_t stride, int64_t pad, int64_t dilation, bool ceil_mode,
                         const char* op);

}  // namespace kiln
