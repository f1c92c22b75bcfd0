#pragma once
// fastai's small layers and blocks (fastai.layers), with fastai's defaults and parameter names.
// The blocks (ConvLayer, LinBnDrop, PixelShuffle_ICNR) are Sequentials, as in fastai, so their
// state-dict names ("0.weight", "1.running_mean", "0.0.weight") match a PyTorch state dict of the
// fastai model.
#include <cstdint>
#include <functional>
#include <optional>
#include <vector>

#include "kiln/nn/activation.h"
#include "kiln/nn/containers.h"
#include "kiln/nn/module.h"
#include "kiln/nn/norm.h"
#include "kiln/tensor/random.h"

namespace kiln::nn {

// Dims start_dim..end_dim merged (PyTorch's nn.Flatten: start_dim = 1).
class Flatten : public Module {
 public:
  explicit Flatten(int64_t start_dim = 1, int64_t end_dim = -1);
  int64_t start_dim, end_dim;

 protected:
  Tensor forward_impl(const Tensor& x) override;
};

// [B, C r^2, H, W] -> [B, C, H r, W r] (PyTorch's pixel_shuffle), differentiable (view + permute).
Tensor pixel_shuffle(const Tensor& x, int64_t upscale_factor);

class PixelShuffle : public Module {
 public:
  explicit PixelShuffle(int64_t upscale_factor);
  int64_t upscale_factor;

 protected:
  Tensor forward_impl(const Tensor& x) override;
  std::string extra_repr() const override;
};

// Replicate padding of the last two dims, pads = {left, right, top, bottom}.
class ReplicationPad2d : public Module {
 public:
  explicit ReplicationPad2d(std::vector<int64_t> pads);
  std::vector<int64_t> pads;

 protected:
  Tensor forward_impl(const Tensor& x) override;
};

// fastai's NormType: batch / batch_zero add a BatchNorm after the conv; weight / spectral
// re-parametrise the conv's weight (nn/weight_reparam.h) and add no norm layer.
enum class NormType { none, batch, batch_zero, weight, spectral };

// fastai's BatchNorm(nf, ndim, norm_type): BatchNorm1d/2d with weight filled with 1 (0 for
// zero = true, fastai's BatchZero: the block's residual starts as identity) and bias with 1e-3.
std::shared_ptr<BatchNorm> fastai_batch_norm(int64_t nf, int ndim = 2, bool zero = false);

// ICNR initialisation (Aitken et al. 2017) in place, for a conv weight [O, I, kh, kw] followed by a
// pixel shuffle of `scale`: O must be divisible by scale^2; a kaiming-normal kernel is drawn for
// each of the O / scale^2 output channels and copied to its scale^2 consecutive channels
// (weight[c * scale^2 + j] = base[c]), so the shuffled output starts as a nearest upsampling.
void icnr_init_(Tensor& weight, int64_t scale = 2, Generator* gen = nullptr);

// fastai's ConvLayer: conv (Conv1d / Conv2d / ConvTranspose2d; weight_norm or spectral_norm for
// those norm types, after the initialisation), then BN and activation (BN first when bn_1st), then
// xtra. Children "0" conv, then "1", "2"... as fastai.
struct ConvLayerOptions {
  int64_t ks = 3;
  int64_t stride = 1;
  std::optional<int64_t> padding;      // default (ks - 1) / 2, 0 for transpose
  std::optional<bool> bias;            // default: no bias with a batch norm (batch, batch_zero)
  int ndim = 2;                        // 1 or 2
  NormType norm_type = NormType::batch;
  bool bn_1st = true;
  // Makes the activation; null = none. fastai's default is ReLU.
  std::function<ModulePtr()> act = [] { return std::make_shared<ReLU>(); };
  bool transpose = false;              // 2-d only (ConvTranspose2d)
  ModulePtr xtra;
  // Bias initialised N(0, bias_std) (0: zeros). The weight: kaiming_uniform (fan_in, ReLU gain) when
  // the activation is ReLU or LeakyReLU (fastai's 'auto' init), else PyTorch's default.
  double bias_std = 0.01;
};

class ConvLayer : public Sequential {
 public:
  ConvLayer(int64_t ni, int64_t nf, ConvLayerOptions opt = {});
  // The convolution child ("0").
  ModulePtr conv() const { return (*this)[0]; }
};

// fastai's LinBnDrop: [BatchNorm1d(n_in)] [Dropout(p)] Linear(n_in, n_out, bias = !bn) [act]; with
// lin_first: Linear [act] [BatchNorm1d(n_out)] [Dropout(p)]. BN is fastai's (bias 1e-3).
class LinBnDrop : public Sequential {
 public:
  LinBnDrop(int64_t n_in, int64_t n_out, bool bn = true, double p = 0.0, ModulePtr act = nullptr,
            bool lin_first = false);
};

// fastai's PixelShuffle_ICNR(ni, nf, scale, blur, norm_type): ConvLayer(ni, nf scale^2, ks 1,
// norm_type, ReLU, bias zero) with icnr_init_ (of weight_v with weight norm, fastai's default,
// weight_g then set to its norm: "0.0.weight_g", "0.0.weight_v"), PixelShuffle(scale), and with
// blur ReplicationPad2d({1, 0, 1, 0}) + AvgPool2d(2, stride 1). nf <= 0 means nf = ni.
class PixelShuffle_ICNR : public Sequential {
 public:
  explicit PixelShuffle_ICNR(int64_t ni, int64_t nf = 0, int64_t scale = 2, bool blur = false,
                             NormType norm_type = NormType::weight, std::function<ModulePtr()> act = nullptr);
};

}  // namespace kiln::nn
