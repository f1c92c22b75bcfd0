#pragma once
// Pooling modules over [B, C, H, W] (or [C, H, W]) inputs, PyTorch's arguments; a stride of 0
// means "= kernel" (PyTorch's stride=None).
#include <array>
#include <cstdint>
#include <optional>

#include "kiln/nn/module.h"
#include "kiln/tensor/conv.h"

namespace kiln::nn {

class MaxPool2d : public Module {
 public:
  explicit MaxPool2d(Size2 kernel_size, Size2 stride = 0, Size2 padding = 0, Size2 dilation = 1,
                     bool ceil_mode = false);
  Size2 kernel_size, stride, padding, dilation;
  bool ceil_mode;

 protected:
  Tensor forward_impl(const Tensor& x) override;
  std::string extra_repr() const override;
};

class AvgPool2d : public Module {
 public:
  explicit AvgPool2d(Size2 kernel_size, Size2 stride = 0, Size2 padding = 0, bool ceil_mode = false,
                     bool count_include_pad = true, std::optional<int64_t> divisor_override = std::nullopt);
  Size2 kernel_size, stride, padding;
  bool ceil_mode, count_include_pad;
  std::optional<int64_t> divisor_override;

 protected:
  Tensor forward_impl(const Tensor& x) override;
  std::string extra_repr() const override;
};

class AdaptiveAvgPool2d : public Module {
 public:
  explicit AdaptiveAvgPool2d(Size2 output_size);
  Size2 output_size;

 protected:
  Tensor forward_impl(const Tensor& x) override;
  std::string extra_repr() const override;
};

class AdaptiveMaxPool2d : public Module {
 public:
  explicit AdaptiveMaxPool2d(Size2 output_size);
  Size2 output_size;

 protected:
  Tensor forward_impl(const Tensor& x) override;
  std::string extra_repr() const override;
};

// fastai's AdaptiveConcatPool2d: cat([adaptive_max_pool2d(x, size), adaptive_avg_pool2d(x, size)],
// dim 1), max first: [B, C, H, W] -> [B, 2C, size, size].
class AdaptiveConcatPool2d : public Module {
 public:
  explicit AdaptiveConcatPool2d(Size2 size = 1);
  Size2 size;

 protected:
  Tensor forward_impl(const Tensor& x) override;
  std::string extra_repr() const override;
};

}  // namespace kiln::nn
