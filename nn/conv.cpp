#include "kiln/nn/conv.h"

#include "kiln/autograd/conv.h"
#include "kiln/nn/layer_init.h"
#include "kiln/tensor/creation.h"

namespace kiln::nn {

namespace {

std::string pair_str(Size2 s) { return "(" + std::to_string(s.h) + ", " + std::to_string(s.w) + ")"; }

void check_channels(const char* op, int64_t in, int64_t out, int64_t groups) {
  KILN_CHECK(groups > 0, op, ": groups must be positive, got ", groups);
  KILN_CHECK(in > 0 && out > 0, op, ": channel counts must be positive, got in=", in, " out=", out);
  KILN_CHECK(in % groups == 0 && out % groups == 0, op, ": in_channels=", in, " and out_channels=", out,
             " must be divisible by groups=", groups);
}

// Weight and (optional) bias with PyTorch's default initialisation; fan_in = w.size(1) * kernel area.
void init_conv(Tensor& w, Tensor& b) {
  int64_t fan_in = w.numel() / w.size(0);
  detail::uniform_bound(w, detail::default_bound(fan_in));
  if (b.defined()) detail::uniform_bound(b, detail::default_bound(fan_in));
}

}  // namespace

Conv1d::Conv1d(int64_t in, int64_t out, int64_t k, int64_t s, int64_t p, int64_t d, int64_t g, bool has_bias)
    : Module("Conv1d"), in_channels(in), out_channels(out), kernel_size(k), stride(s), padding(p), dilation(d),
      groups(g) {
  check_channels("Conv1d", in, out, g);
  Tensor w = empty({out, in / g, k});
  Tensor b = has_bias ? empty({out}) : Tensor();
  init_conv(w, b);
  weight = register_parameter("weight", w);
  if (has_bias) bias = register_parameter("bias", b);
}

Tensor Conv1d::forward_impl(const Tensor& x) {
  KILN_CHECK(x.dim() == 3 && x.size(1) == in_channels, "Conv1d: expected input [B, ", in_channels,
             ", L], got ", x.shape());
  return ag::conv1d(x, weight, bias, stride, padding, dilation, groups);
}

std::string Conv1d::extra_repr() const {
  std::string s = std::to_string(in_channels) + ", " + std::to_string(out_channels) + ", kernel_size=(" +
                  std::to_string(kernel_size) + ",), stride=(" + std::to_string(stride) + ",)";
  if (padding) s += ", padding=(" + std::to_string(padding) + ",)";
  if (dilation != 1) s += ", dilation=(" + std::to_string(dilation) + ",)";
  if (groups != 1) s += ", groups=" + std::to_string(groups);
  if (!bias.defined()) s += ", bias=False";
  return s;
}

Conv2d::Conv2d(int64_t in, int64_t out, Size2 k, Size2 s, Size2 p, Size2 d, int64_t g, bool has_bias)
    : Module("Conv2d"), in_channels(in), out_channels(out), kernel_size(k), stride(s), padding(p), dilation(d),
      groups(g) {
  check_channels("Conv2d", in, out, g);
  Tensor w = empty({out, in / g, k.h, k.w});
  Tensor b = has_bias ? empty({out}) : Tensor();
  init_conv(w, b);
  weight = register_parameter("weight", w);
  if (has_bias) bias = register_parameter("bias", b);
}

Tensor Conv2d::forward_impl(const Tensor& x) {
  KILN_CHECK(x.dim() == 4 && x.size(1) == in_channels, "Conv2d: expected input [B, ", in_channels,
             ", H, W], got ", x.shape());
  return ag::conv2d(x, weight, bias, stride, padding, dilation, groups);
}

std::string Conv2d::extra_repr() const {
  std::string s = std::to_string(in_channels) + ", " + std::to_string(out_channels) +
                  ", kernel_size=" + pair_str(kernel_size) + ", stride=" + pair_str(stride);
  if (padding.h || padding.w) s += ", padding=" + pair_str(padding);
  if (dilation.h != 1 || dilation.w != 1) s += ", dilation=" + pair_str(dilation);
  if (groups != 1) s += ", groups=" + std::to_string(groups);
  if (!bias.defined()) s += ", bias=False";
  return s;
}

ConvTranspose2d::ConvTranspose2d(int64_t in, int64_t out, Size2 k, Size2 s, Size2 p, Size2 op, int64_t g,
                                 bool has_bias, Size2 d)
    : Module("ConvTranspose2d"), in_channels(in), out_channels(out), kernel_size(k), stride(s), padding(p),
      output_padding(op), groups(g), dilation(d) {
  check_channels("ConvTranspose2d", in, out, g);
  Tensor w = empty({in, out / g, k.h, k.w});
  Tensor b = has_bias ? empty({out}) : Tensor();
  init_conv(w, b);
  weight = register_parameter("weight", w);
  if (has_bias) bias = register_parameter("bias", b);
}

Tensor ConvTranspose2d::forward_impl(const Tensor& x) {
  KILN_CHECK(x.dim() == 4 && x.size(1) == in_channels, "ConvTranspose2d: expected input [B, ", in_channels,
             ", H, W], got ", x.shape());
  return ag::conv_transpose2d(x, weight, bias, stride, padding, output_padding, groups, dilation);
}

std::string ConvTranspose2d::extra_repr() const {
  std::string s = std::to_string(in_channels) + ", " + std::to_string(out_channels) +
                  ", kernel_size=" + pair_str(kernel_size) + ", stride=" + pair_str(stride);
  if (padding.h || padding.w) s += ", padding=" + pair_str(padding);
  if (output_padding.h || output_padding.w) s += ", output_padding=" + pair_str(output_padding);
  if (dilation.h != 1 || dilation.w != 1) s += ", dilation=" + pair_str(dilation);
  if (groups != 1) s += ", groups=" + std::to_string(groups);
  if (!bias.defined()) s += ", bias=False";
  return s;
}

}  // namespace kiln::nn
