#pragma once
// Convolution layers with PyTorch's parameter names, shapes and default initialisation (weight
// and bias uniform in +-1/sqrt(fan_in), fan_in = weight.size(1) * kernel area, as PyTorch computes
// it also for the transposed convolution).
#include <cstdint>

#include "kiln/nn/module.h"
#include "kiln/tensor/conv.h"

namespace kiln::nn {

// x [B, C_in, L] -> [B, C_out, L_out]. weight [C_out, C_in/groups, K], bias [C_out].
class Conv1d : public Module {
 public:
  Conv1d(int64_t in_channels, int64_t out_channels, int64_t kernel_size, int64_t stride = 1, int64_t padding = 0,
         int64_t dilation = 1, int64_t groups = 1, bool bias = true);
  int64_t in_channels, out_channels, kernel_size, stride, padding, dilation, groups;
  Tensor weight, bias;

 protected:
  Tensor forward_impl(const Tensor& x) override;
  std::string extra_repr() const override;
};

// x [B, C_in, H, W] -> [B, C_out, OH, OW]. weight [C_out, C_in/groups, kh, kw], bias [C_out].
class Conv2d : public Module {
 public:
  Conv2d(int64_t in_channels, int64_t out_channels, Size2 kernel_size, Size2 stride = 1, Size2 padding = 0,
         Size2 dilation = 1, int64_t groups = 1, bool bias = true);
  int64_t in_channels, out_channels;
  Size2 kernel_size, stride, padding, dilation;
  int64_t groups;
  Tensor weight, bias;

 protected:
  Tensor forward_impl(const Tensor& x) override;
  std::string extra_repr() const override;
};

// Transposed convolution, arguments in PyTorch's order. weight [C_in, C_out/groups, kh, kw],
// bias [C_out]; OH = (H - 1) stride - 2 padding + dilation (kh - 1) + output_padding + 1.
class ConvTranspose2d : public Module {
 public:
  ConvTranspose2d(int64_t in_channels, int64_t out_channels, Size2 kernel_size, Size2 stride = 1,
                  Size2 padding = 0, Size2 output_padding = 0, int64_t groups = 1, bool bias = true,
                  Size2 dilation = 1);
  int64_t in_channels, out_channels;
  Size2 kernel_size, stride, padding, output_padding;
  int64_t groups;
  Size2 dilation;
  Tensor weight, bias;

 protected:
  Tensor forward_impl(const Tensor& x) override;
  std::string extra_repr() const override;
};

}  // namespace kiln::nn
