#pragma once
// Differentiable convolutions (NCHW; arguments as tensor/conv.h). Gradients for x, w and bias
// (bias may be undefined).
#include "kiln/autograd/node.h"
#include "kiln/tensor/conv.h"

namespace kiln::ag {

// y [B, O, OH, OW] = x [B, C, H, W] (*) w [O, C/groups, kh, kw] + bias [O].
Tensor conv2d(const Tensor& x, const Tensor& w, const Tensor& bias = {}, Size2 stride = 1, Size2 padding = 0,
              Size2 dilation = 1, int64_t groups = 1);

// x [B, C_in, H, W], w [C_in, C_out/groups, kh, kw], bias [C_out] -> y [B, C_out, OH, OW].
Tensor conv_transpose2d(const Tensor& x, const Tensor& w, const Tensor& bias = {}, Size2 stride = 1,
                        Size2 padding = 0, Size2 output_padding = 0, int64_t groups = 1, Size2 dilation = 1);

// 1-d convolution: x [B, C, L], w [O, C/groups, K], bias [O] -> y [B, O, OL]; computed as conv2d on
// a [B, C, 1, L] view, recorded as one node.
Tensor conv1d(const Tensor& x, const Tensor& w, const Tensor& bias = {}, int64_t stride = 1, int64_t padding = 0,
              int64_t dilation = 1, int64_t groups = 1);

}  // namespace kiln::ag
