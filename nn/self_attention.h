#pragma once
// fastai's two self-attention layers, with fastai's parameter names: SimpleSelfAttention (used by
// XResNet's sa option) and SelfAttention (SAGAN's, used by DynamicUnet's self_attention option).
// Both end in out = gamma * attention + x with gamma a parameter [1] initialised 0, so they start
// as the identity.
#include <cstdint>

#include "kiln/nn/module.h"

namespace kiln::nn {

// fastai's SimpleSelfAttention(n_in, ks): x [B, C, *] viewed [B, C, N]; convx = conv(x), a
// Conv1d(C, C, ks, padding ks / 2, no bias) initialised kaiming-normal; o = (x x^T) convx;
// out = gamma o + x, reshaped back. spectral (fastai's only form): the conv is spectral-normalised
// (parameters "conv.weight_orig", buffers "conv.weight_u", "conv.weight_v"); without it the plain
// conv ("conv.weight").
class SimpleSelfAttention : public Module {
 public:
  explicit SimpleSelfAttention(int64_t n_in, int64_t ks = 1, bool spectral = true);
  int64_t n_in;
  Tensor gamma;

 protected:
  Tensor forward_impl(const Tensor& x) override;
};

// fastai's SelfAttention(n_channels) (Zhang et al. 2018, SAGAN): children "query", "key", "value",
// each a ConvLayer(C, C / 8 | C / 8 | C, ks 1, 1-d, spectral norm, no activation, no bias)
// (parameters "query.0.weight_orig"...); x [B, C, *] viewed [B, C, N]:
// beta = softmax(query(x)^T key(x), dim 1) [B, N, N]; out = gamma value(x) beta + x, reshaped back.
// C must be at least 8.
class SelfAttention : public Module {
 public:
  explicit SelfAttention(int64_t n_channels);
  int64_t n_channels;
  Tensor gamma;

 protected:
  Tensor forward_impl(const Tensor& x) override;
};

}  // namespace kiln::nn
