#pragma once
// 2-d convolutions, NCHW layout, as PyTorch's conv2d / conv_transpose2d. Floating dtypes only
// (f16/bf16 computed in f32); x, w and bias share dtype and device. The backward functions are
// plain ops (the autograd layer wraps them). Outputs are new contiguous tensors.
// On CUDA the convolutions run on cuDNN (kernels/cuda/conv.h: algorithm searched once per shape and
// cached, deterministic algorithms only in deterministic mode) and the bias passes on kiln kernels;
// f16/bf16 are stored 16-bit and computed in f32 there too.
#include "kiln/tensor/tensor.h"

namespace kiln {

// A (height, width) pair of convolution parameters; one number sets both: conv2d(x, w, {}, 2, 1).
struct Size2 {
  int64_t h = 0, w = 0;
  Size2(int64_t v) : h(v), w(v) {}
  Size2(int64_t h_, int64_t w_) : h(h_), w(w_) {}
};

// Output length of a convolution along one dimension: (in + 2p - d*(k-1) - 1) / s + 1.
int64_t conv_output_size(int64_t in, int64_t kernel, int64_t stride, int64_t padding, int64_t dilation);

// y [B, O, OH, OW] = x [B, C, H, W] (*) w [O, C/groups, kh, kw] + bias [O] (undefined = no bias).
// C and O must be divisible by groups; groups == C == O is a depthwise convolution.
Tensor conv2d(const Tensor& x, const Tensor& w, const Tensor& bias = {}, Size2 stride = 1, Size2 padding = 0,
              Size2 dilation = 1, int64_t groups = 1);

// Gradient of conv2d's input: dx of shape input_shape [B, C, H, W] from dy [B, O, OH, OW] and w.
Tensor conv2d_backward_data(const Tensor& dy, const Tensor& w, const Shape& input_shape, Size2 stride = 1,
                            Size2 padding = 0, Size2 dilation = 1, int64_t groups = 1);

// Gradient of conv2d's weight: dw of shape weight_shape [O, C/groups, kh, kw] from dy and x.
Tensor conv2d_backward_weight(const Tensor& dy, const Tensor& x, const Shape& weight_shape, Size2 stride = 1,
                              Size2 padding = 0, Size2 dilation = 1, int64_t groups = 1);

// Gradient of the bias of conv2d or conv_transpose2d: dy [B, O, OH, OW] summed over B, OH, OW -> [O].
Tensor conv2d_backward_bias(const Tensor& dy);

// Transposed convolution (the gradient of conv2d's input, used as a layer):
// x [B, C_in, H, W], w [C_in, C_out/groups, kh, kw], bias [C_out] -> y [B, C_out, OH, OW] with
// OH = (H - 1)*stride - 2*padding + dilation*(kh - 1) + output_padding + 1 (likewise OW).
// output_padding must be smaller than stride or dilation. Parameter order as torch.
Tensor conv_transpose2d(const Tensor& x, const Tensor& w, const Tensor& bias = {}, Size2 stride = 1,
                        Size2 padding = 0, Size2 output_padding = 0, int64_t groups = 1, Size2 dilation = 1);

// Gradients of conv_transpose2d. The input gradient is conv2d(dy, w) with the same parameters; the
// weight gradient is conv2d_backward_weight with the roles of x and dy swapped; the bias gradient
// is conv2d_backward_bias(dy).
Tensor conv_transpose2d_backward_data(const Tensor& dy, const Tensor& w, Size2 stride = 1, Size2 padding = 0,
                                      int64_t groups = 1, Size2 dilation = 1);
Tensor conv_transpose2d_backward_weight(const Tensor& dy, const Tensor& x, const Shape& weight_shape,
                                        Size2 stride = 1, Size2 padding = 0, int64_t groups = 1,
                                        Size2 dilation = 1);

}  // namespace kiln
