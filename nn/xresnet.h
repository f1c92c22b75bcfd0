#pragma once
// fastai's XResNet family ("bag of tricks" ResNet): a 3-conv stem, max pool, stages of ResBlocks
// whose shortcut average-pools before its 1x1 conv, and a pooled linear head.
#include <cstdint>
#include <memory>
#include <vector>

#include "kiln/nn/arch_util.h"
#include "kiln/nn/containers.h"
#include "kiln/nn/module.h"
#include "kiln/nn/self_attention.h"  // SimpleSelfAttention

namespace kiln::nn {

// fastai's SEModule (squeeze and excitation): x * sigmoid(conv(relu(conv(avgpool(x))))).
// Children "0" AdaptiveAvgPool2d(1), "1" ConvLayer(ch, nr, 1, no norm, ReLU), "2" ConvLayer(nr, ch,
// 1, no norm, Sigmoid); nr = ch / reduction rounded to a multiple of 8 (fastai's make_divisible).
class SEModule : public Module {
 public:
  SEModule(int64_t ch, int64_t reduction);
  int64_t ch, nr;

 protected:
  Tensor forward_impl(const Tensor& x) override;
};

// fastai's ResBlock(expansion, ni, nf, stride, sa, reduction): ni, nf are multiplied by expansion.
// convpath: expansion 1: [ConvLayer(ni, nf, 3, stride), ConvLayer(nf, nf, 3, BatchZero, no act)];
// expansion 4: [ConvLayer(ni, nh, 1), ConvLayer(nh, nh, 3, stride), ConvLayer(nh, nf, 1, BatchZero,
// no act)] with nh the un-expanded nf; then SEModule when reduction > 0, SimpleSelfAttention when sa.
// idpath: AvgPool2d(stride, ceil_mode) when stride != 1, then ConvLayer(ni, nf, 1, no act) when
// ni != nf. forward: relu(convpath(x) + idpath(x)).
class ResBlock : public Module {
 public:
  ResBlock(int64_t expansion, int64_t ni, int64_t nf, int64_t stride = 1, bool sa = false, int64_t reduction = 0);
  std::shared_ptr<Sequential> convpath, idpath;

 protected:
  Tensor forward_impl(const Tensor& x) override;
};

// fastai's XResNet is an nn.Sequential subclass: a Sequential that prints as "XResNet".
class XResNet : public Sequential {
 public:
  XResNet() : Sequential("XResNet") {}
};

struct XResNetOptions {
  int64_t expansion = 1;
  std::vector<int64_t> layers = {2, 2, 2, 2};
  double p = 0.0;  // dropout before the final linear
  int64_t c_in = 3;
  int64_t n_out = 1000;
  double widen = 1.0;
  bool sa = false;         // self-attention in the last block of stage len(layers) - 4
  int64_t reduction = 0;   // SE modules when > 0
};

// fastai's XResNet (an XResNet, i.e. a Sequential): stem ConvLayers (c_in->32 stride 2, 32->32, 32->64), MaxPool2d(3,
// 2, 1), one Sequential of ResBlocks per stage (block_szs = [64/expansion, 64, 128, 256, 512 (x widen),
// 256...]; stage 0 stride 1, others 2), AdaptiveAvgPool2d(1), Flatten, Dropout(p),
// Linear(block_szs.back() * expansion, n_out); then init_cnn.
// x [B, c_in, H, W] -> [B, n_out].
std::shared_ptr<Sequential> xresnet(const XResNetOptions& o);
std::shared_ptr<Sequential> xresnet18(int64_t n_out = 1000, int64_t c_in = 3, double p = 0.0);
std::shared_ptr<Sequential> xresnet34(int64_t n_out = 1000, int64_t c_in = 3, double p = 0.0);
std::shared_ptr<Sequential> xresnet50(int64_t n_out = 1000, int64_t c_in = 3, double p = 0.0);

}  // namespace kiln::nn
