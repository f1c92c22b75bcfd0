#include "kiln/nn/layers.h"

#include <algorithm>

#include "kiln/autograd/shape_ops.h"
#include "kiln/autograd/view.h"
#include "kiln/nn/conv.h"
#include "kiln/nn/dropout.h"
#include "kiln/nn/init.h"
#include "kiln/nn/linear.h"
#include "kiln/nn/pool.h"
#include "kiln/nn/weight_reparam.h"
#include "kiln/tensor/creation.h"
#include "kiln/tensor/reduce.h"

namespace kiln::nn {

Flatten::Flatten(int64_t s, int64_t e) : Module("Flatten"), start_dim(s), end_dim(e) {}
Tensor Flatten::forward_impl(const Tensor& x) { return ag::flatten(x, start_dim, end_dim); }

Tensor pixel_shuffle(const Tensor& x, int64_t r) {
  KILN_CHECK(r > 0, "pixel_shuffle: upscale_factor must be positive, got ", r);
  KILN_CHECK(x.dim() == 4 && x.size(1) % (r * r) == 0, "pixel_shuffle: expected input [B, C*", r * r,
             ", H, W], got ", x.shape());
  const int64_t B = x.size(0), C = x.size(1) / (r * r), H = x.size(2), W = x.size(3);
  // Channel c r^2 + i r + j goes to pixel (h r + i, w r + j) of channel c.
  Tensor v = ag::reshape(x, {B, C, r, r, H, W});
  v = ag::permute(v, {0, 1, 4, 2, 5, 3});
  return ag::reshape(v, {B, C, H * r, W * r});
}

PixelShuffle::PixelShuffle(int64_t r) : Module("PixelShuffle"), upscale_factor(r) {}
Tensor PixelShuffle::forward_impl(const Tensor& x) { return pixel_shuffle(x, upscale_factor); }
std::string PixelShuffle::extra_repr() const { return "upscale_factor=" + std::to_string(upscale_factor); }

ReplicationPad2d::ReplicationPad2d(std::vector<int64_t> p) : Module("ReplicationPad2d"), pads(std::move(p)) {
  KILN_CHECK(pads.size() == 4, "ReplicationPad2d: expected 4 pads {left, right, top, bottom}, got ", pads.size());
}
Tensor ReplicationPad2d::forward_impl(const Tensor& x) { return ag::pad(x, pads, PadMode::replicate); }

std::shared_ptr<BatchNorm> fastai_batch_norm(int64_t nf, int ndim, bool zero) {
  KILN_CHECK(ndim == 1 || ndim == 2, "fastai_batch_norm: ndim must be 1 or 2, got ", ndim);
  std::shared_ptr<BatchNorm> bn;
  if (ndim == 1)
    bn = std::make_shared<BatchNorm1d>(nf);
  else
    bn = std::make_shared<BatchNorm2d>(nf);
  init::constant_(bn->weight, zero ? 0.0 : 1.0);
  init::constant_(bn->bias, 1e-3);
  return bn;
}

void icnr_init_(Tensor& weight, int64_t scale, Generator* gen) {
  KILN_CHECK(weight.dim() >= 2 && scale > 0, "icnr_init_: expected a conv weight and scale > 0, got ",
             weight.shape(), " and ", scale);
  const int64_t s2 = scale * scale, O = weight.size(0);
  KILN_CHECK(O % s2 == 0, "icnr_init_: ", O, " output channels are not divisible by scale^2=", s2);
  Shape base_shape = weight.shape();
  base_shape[0] = O / s2;
  Tensor base = empty(base_shape, weight.dtype());
  init::kaiming_normal_(base, 0, init::FanMode::fan_in, init::Nonlinearity::leaky_relu, gen);
  // [O/s2, ...] -> [O/s2, s2, ...] -> [O, ...]: channel c s2 + j gets base[c].
  Tensor rep = base.unsqueeze(1).expand([&] {
    Shape s = base.unsqueeze(1).shape();
    s[1] = s2;
    return s;
  }()).reshape(weight.shape());
  ag::NoGradGuard ng;
  weight.copy_(rep);
}

ConvLayer::ConvLayer(int64_t ni, int64_t nf, ConvLayerOptions o) : Sequential("ConvLayer") {
  KILN_CHECK(o.ndim == 1 || o.ndim == 2, "ConvLayer: ndim must be 1 or 2, got ", o.ndim);
  KILN_CHECK(!(o.transpose && o.ndim == 1), "ConvLayer: transposed 1-d convolution is not supported");
  const int64_t padding = o.padding ? *o.padding : (o.transpose ? 0 : (o.ks - 1) / 2);
  const bool bn = o.norm_type == NormType::batch || o.norm_type == NormType::batch_zero;
  const bool bias = o.bias ? *o.bias : !bn;
  ModulePtr conv;
  Tensor w, b;
  if (o.ndim == 1) {
    auto c = std::make_shared<Conv1d>(ni, nf, o.ks, o.stride, padding, 1, 1, bias);
    w = c->weight, b = c->bias, conv = c;
  } else if (o.transpose) {
    auto c = std::make_shared<ConvTranspose2d>(ni, nf, o.ks, o.stride, padding, 0, 1, bias);
    w = c->weight, b = c->bias, conv = c;
  } else {
    auto c = std::make_shared<Conv2d>(ni, nf, o.ks, o.stride, padding, 1, 1, bias);
    w = c->weight, b = c->bias, conv = c;
  }
  ModulePtr act = o.act ? o.act() : nullptr;
  // fastai's init_linear with init='auto': bias ~ N(0, bias_std) (zeros for 0); kaiming_uniform for
  // ReLU / LeakyReLU (their __default_init__), otherwise the layer's own default.
  if (b.defined()) {
    if (o.bias_std != 0)
      init::normal_(b, 0, o.bias_std);
    else
      init::zeros_(b);
  }
  if (act && (dynamic_cast<ReLU*>(act.get()) || dynamic_cast<LeakyReLU*>(act.get()))) init::kaiming_uniform_(w);
  if (o.norm_type == NormType::weight) weight_norm(*conv);
  if (o.norm_type == NormType::spectral) spectral_norm(*conv);
  push_back(conv);
  std::vector<ModulePtr> act_bn;
  if (act) act_bn.push_back(act);
  if (bn) act_bn.push_back(fastai_batch_norm(nf, o.ndim, o.norm_type == NormType::batch_zero));
  if (o.bn_1st) std::reverse(act_bn.begin(), act_bn.end());
  for (auto& m : act_bn) push_back(m);
  if (o.xtra) push_back(o.xtra);
}

LinBnDrop::LinBnDrop(int64_t n_in, int64_t n_out, bool bn, double p, ModulePtr act, bool lin_first)
    : Sequential("LinBnDrop") {
  std::vector<ModulePtr> norm_drop;
  if (bn) norm_drop.push_back(fastai_batch_norm(lin_first ? n_out : n_in, 1));
  if (p != 0) norm_drop.push_back(std::make_shared<Dropout>(p));
  std::vector<ModulePtr> lin{std::make_shared<Linear>(n_in, n_out, !bn)};
  if (act) lin.push_back(act);
  const auto& first = lin_first ? lin : norm_drop;
  const auto& second = lin_first ? norm_drop : lin;
  for (auto& m : first) push_back(m);
  for (auto& m : second) push_back(m);
}

PixelShuffle_ICNR::PixelShuffle_ICNR(int64_t ni, int64_t nf, int64_t scale, bool blur, NormType norm_type,
                                     std::function<ModulePtr()> act)
    : Sequential("PixelShuffle_ICNR") {
  if (nf <= 0) nf = ni;
  ConvLayerOptions o;
  o.ks = 1;
  o.norm_type = norm_type;
  if (act) o.act = act;
  o.bias_std = 0;
  auto conv = std::make_shared<ConvLayer>(ni, nf * scale * scale, o);
  if (norm_type == NormType::weight) {
    // fastai: ICNR on the direction, then the magnitude set to the direction's norm, so the
    // initial weight is the ICNR kernel itself.
    Tensor v = conv->conv()->param("weight_v");
    icnr_init_(v, scale);
    ag::NoGradGuard ng;
    Tensor g = conv->conv()->param("weight_g");
    g.copy_(kiln::norm(v, 2, {1, 2, 3}, /*keepdim=*/true));
  } else {
    Tensor w = conv->conv()->param("weight");
    icnr_init_(w, scale);
  }
  push_back(conv);
  push_back(std::make_shared<PixelShuffle>(scale));
  if (blur) {
    push_back(std::make_shared<ReplicationPad2d>(std::vector<int64_t>{1, 0, 1, 0}));
    push_back(std::make_shared<AvgPool2d>(2, 1));
  }
}

}  // namespace kiln::nn
