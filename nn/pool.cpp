#include "kiln/nn/pool.h"

#include "kiln/autograd/pool.h"
#include "kiln/autograd/shape_ops.h"

namespace kiln::nn {

namespace {
std::array<int64_t, 2> arr(Size2 s) { return {s.h, s.w}; }
std::string pair_str(Size2 s) {
  return s.h == s.w ? std::to_string(s.h) : "(" + std::to_string(s.h) + ", " + std::to_string(s.w) + ")";
}
}  // namespace

MaxPool2d::MaxPool2d(Size2 k, Size2 s, Size2 p, Size2 d, bool c)
    : Module("MaxPool2d"), kernel_size(k), stride(s.h == 0 && s.w == 0 ? k : s), padding(p), dilation(d),
      ceil_mode(c) {}

Tensor MaxPool2d::forward_impl(const Tensor& x) {
  return ag::max_pool2d(x, arr(kernel_size), arr(stride), arr(padding), arr(dilation), ceil_mode);
}

std::string MaxPool2d::extra_repr() const {
  return "kernel_size=" + pair_str(kernel_size) + ", stride=" + pair_str(stride) + ", padding=" + pair_str(padding) +
         ", dilation=" + pair_str(dilation) + ", ceil_mode=" + (ceil_mode ? "True" : "False");
}

AvgPool2d::AvgPool2d(Size2 k, Size2 s, Size2 p, bool c, bool cip, std::optional<int64_t> div)
    : Module("AvgPool2d"), kernel_size(k), stride(s.h == 0 && s.w == 0 ? k : s), padding(p), ceil_mode(c),
      count_include_pad(cip), divisor_override(div) {}

Tensor AvgPool2d::forward_impl(const Tensor& x) {
  return ag::avg_pool2d(x, arr(kernel_size), arr(stride), arr(padding), ceil_mode, count_include_pad,
                        divisor_override);
}

std::string AvgPool2d::extra_repr() const {
  return "kernel_size=" + pair_str(kernel_size) + ", stride=" + pair_str(stride) + ", padding=" + pair_str(padding);
}

AdaptiveAvgPool2d::AdaptiveAvgPool2d(Size2 o) : Module("AdaptiveAvgPool2d"), output_size(o) {}
Tensor AdaptiveAvgPool2d::forward_impl(const Tensor& x) { return ag::adaptive_avg_pool2d(x, arr(output_size)); }
std::string AdaptiveAvgPool2d::extra_repr() const { return "output_size=" + pair_str(output_size); }

AdaptiveMaxPool2d::AdaptiveMaxPool2d(Size2 o) : Module("AdaptiveMaxPool2d"), output_size(o) {}
Tensor AdaptiveMaxPool2d::forward_impl(const Tensor& x) { return ag::adaptive_max_pool2d(x, arr(output_size)); }
std::string AdaptiveMaxPool2d::extra_repr() const { return "output_size=" + pair_str(output_size); }

AdaptiveConcatPool2d::AdaptiveConcatPool2d(Size2 s) : Module("AdaptiveConcatPool2d"), size(s) {}
Tensor AdaptiveConcatPool2d::forward_impl(const Tensor& x) {
  KILN_CHECK(x.dim() == 4, "AdaptiveConcatPool2d: expected input [B, C, H, W], got ", x.shape());
  return ag::cat({ag::adaptive_max_pool2d(x, arr(size)), ag::adaptive_avg_pool2d(x, arr(size))}, 1);
}
std::string AdaptiveConcatPool2d::extra_repr() const { return "size=" + pair_str(size); }

}  // namespace kiln::nn
