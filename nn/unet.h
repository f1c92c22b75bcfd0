#pragma once
// fastai's DynamicUnet: a U-Net decoder built around any Sequential encoder, its skip connections
// found by a dummy forward pass (the encoder children after which the spatial size changes).
#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include "kiln/nn/containers.h"
#include "kiln/nn/layers.h"
#include "kiln/nn/module.h"

namespace kiln::nn {

// fastai's UnetBlock(up_in_c, x_in_c, hook, final_div, blur, self_attention): children shuf
// (PixelShuffle_ICNR(up_in_c, up_in_c / 2), no norm), bn (fastai's BatchNorm2d(x_in_c): weight 1,
// bias 1e-3), conv1 (ConvLayer(ni, nf, no norm)), conv2 (ConvLayer(nf, nf, no norm, xtra
// SelfAttention(nf) when self_attention)) with ni = up_in_c / 2 + x_in_c, nf = final_div ? ni :
// ni / 2; conv1 and conv2 then get apply_init (kaiming-normal weights, zero biases).
// forward(up_in): up = shuf(up_in), resized (nearest) to the stored skip activation's H x W if
// they differ; conv2(conv1(relu(cat(up, bn(skip))))).
class UnetBlock : public Module {
 public:
  UnetBlock(int64_t up_in_c, int64_t x_in_c, std::shared_ptr<Tensor> stored, bool final_div = true, bool blur = false,
            bool self_attention = false);
  int64_t out_channels;

 protected:
  Tensor forward_impl(const Tensor& up_in) override;

 private:
  std::shared_ptr<Tensor> stored_;  // the skip activation, written by a forward hook on the encoder
};

struct UnetOptions {
  bool blur = false;
  bool self_attention = false;  // SelfAttention in the UnetBlock third from the end (fastai)
  std::optional<std::pair<double, double>> y_range;
  bool last_cross = true;
  bool bottle = false;
};

// fastai's DynamicUnet(encoder, n_out, img_size, ...). Children, as fastai's SequentialEx:
// "0" encoder, "1" fastai's BatchNorm2d(ni), "2" ReLU, "3" middle (Sequential(ConvLayer(ni, 2ni),
// ConvLayer(2ni, ni)), no norm), one UnetBlock per size change of the encoder (deepest first; with
// self_attention, block i = n_blocks - 3 has it), PixelShuffle_ICNR(ni, no norm) when img_size
// differs from the first encoder child's output size, ResizeToOrig, then when last_cross:
// MergeLayer(dense) with the input and ResBlock(1, ni + c_in, ni + c_in (half when bottle)), then
// ConvLayer(ni, n_out, 1, no norm, no act) and SigmoidRange when y_range. As fastai, apply_init
// (kaiming-normal weights, zero biases) is applied to the middle and to the child before the final
// ConvLayer (the ResBlock with last_cross). x [B, c_in, H, W] -> [B, n_out, H, W].
class DynamicUnet : public Module {
 public:
  DynamicUnet(std::shared_ptr<Sequential> encoder, int64_t n_out, std::array<int64_t, 2> img_size,
              const UnetOptions& opts = {});
  ~DynamicUnet() override;
  // Indices of the encoder children whose outputs feed the UnetBlocks, deepest first.
  std::vector<int64_t> skip_indices;
  // Output shapes of every encoder child for the dummy [1, c_in, img_size] input.
  std::vector<Shape> encoder_sizes;

 protected:
  Tensor forward_impl(const Tensor& x) override;

 private:
  std::vector<HookHandle> hooks_;
  std::vector<std::shared_ptr<Tensor>> stored_;
};

}  // namespace kiln::nn
