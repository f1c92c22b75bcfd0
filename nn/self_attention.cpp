// fastai's SimpleSelfAttention and SelfAttention.
#include "kiln/nn/self_attention.h"

#include "kiln/autograd/ops.h"
#include "kiln/nn/conv.h"
#include "kiln/nn/init.h"
#include "kiln/nn/layers.h"
#include "kiln/nn/weight_reparam.h"
#include "kiln/tensor/ops.h"

namespace kiln::nn {

namespace {

// x [B, C, *] -> [B, C, N]
Tensor flatten_spatial(const Tensor& x, int64_t channels, const char* who) {
  KILN_CHECK(x.dim() >= 3 && x.size(1) == channels, who, ": expected input [B, ", channels, ", *], got ", x.shape());
  int64_t n = 1;
  for (int64_t d = 2; d < x.dim(); ++d) n *= x.size(d);
  return ag::reshape(x, {x.size(0), channels, n});
}

}  // namespace

SimpleSelfAttention::SimpleSelfAttention(int64_t n_in_, int64_t ks, bool spectral)
    : Module("SimpleSelfAttention"), n_in(n_in_) {
  KILN_CHECK(n_in > 0 && ks > 0, "SimpleSelfAttention: n_in ", n_in, " and ks ", ks, " must be positive");
  auto conv = register_module("conv", std::make_shared<Conv1d>(n_in, n_in, ks, 1, ks / 2, 1, 1, /*bias=*/false));
  init::kaiming_normal_(conv->weight);
  if (spectral) spectral_norm(*conv);
  gamma = register_parameter("gamma", kiln::zeros({1}, DType::f32));
}

Tensor SimpleSelfAttention::forward_impl(const Tensor& x) {
  Tensor xf = flatten_spatial(x, n_in, "SimpleSelfAttention");        // [B, C, N]
  Tensor convx = (*child("conv"))(xf);                                 // [B, C, N]
  Tensor xxt = ag::bmm(xf, ag::contiguous(ag::permute(xf, {0, 2, 1})));  // [B, C, C]
  Tensor o = ag::add(ag::mul(gamma, ag::bmm(xxt, convx)), xf);
  return ag::reshape(o, x.shape());
}

SelfAttention::SelfAttention(int64_t c) : Module("SelfAttention"), n_channels(c) {
  KILN_CHECK(c >= 8, "SelfAttention: needs at least 8 channels (queries and keys have C / 8), got ", c);
  auto conv = [](int64_t ni, int64_t nf) {
    ConvLayerOptions o;
    o.ks = 1;
    o.ndim = 1;
    o.norm_type = NormType::spectral;
    o.act = nullptr;
    o.bias = false;
    return std::make_shared<ConvLayer>(ni, nf, o);
  };
  register_module("query", conv(c, c / 8));
  register_module("key", conv(c, c / 8));
  register_module("value", conv(c, c));
  gamma = register_parameter("gamma", kiln::zeros({1}, DType::f32));
}

Tensor SelfAttention::forward_impl(const Tensor& x) {
  Tensor xf = flatten_spatial(x, n_channels, "SelfAttention");  // [B, C, N]
  Tensor f = (*child("query"))(xf), g = (*child("key"))(xf), h = (*child("value"))(xf);
  Tensor beta = ag::softmax(ag::bmm(ag::contiguous(ag::permute(f, {0, 2, 1})), g), 1);  // [B, N, N]
  Tensor o = ag::add(ag::mul(gamma, ag::bmm(h, beta)), xf);
  return ag::reshape(o, x.shape());
}

}  // namespace kiln::nn
