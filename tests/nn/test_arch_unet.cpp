// DynamicUnet on a small xresnet encoder: skip detection, output shape, gradients reach the encoder.
#include <gtest/gtest.h>

#include <cmath>

#include "kiln/autograd/ops.h"
#include "kiln/nn/conv.h"
#include "kiln/nn/norm.h"
#include "kiln/nn/self_attention.h"
#include "kiln/nn/unet.h"
#include "kiln/nn/xresnet.h"
#include "kiln/tensor/ops.h"
#include "support/fixtures.h"

using namespace kiln;
using namespace kiln::nn;

TEST(ArchUnet, PixelShuffleMovesChannelsToSpace) {
  Tensor x = arange(0, 16, 1, DType::f32).reshape({1, 4, 2, 2});
  Tensor y = pixel_shuffle(x, 2);
  ASSERT_EQ(y.shape(), Shape({1, 1, 4, 4}));
  // out[0, 0, 2h + i, 2w + j] = in[0, 2i + j, h, w]
  EXPECT_EQ(y.select(1, 0).select(1, 1).select(1, 2).item<float>(), 9.0f);  // h=0 i=1, w=1 j=0: channel 2, (0, 1)
}

TEST(ArchUnet, XResNetEncoderShapesAndBackward) {
  manual_seed(0);
  auto body = xresnet18(10, 3)->slice(0, 6);  // stem, maxpool, stages 0 and 1
  DynamicUnet unet(body, 5, {32, 32});
  // sizes: 16, 16, 16, 8 (maxpool), 8, 4 -> changes after children 2 and 4, deepest first
  EXPECT_EQ(unet.skip_indices, std::vector<int64_t>({4, 2}));
  Tensor x = randn({2, 3, 32, 32});
  Tensor y = unet(x);
  EXPECT_EQ(y.shape(), Shape({2, 5, 32, 32}));
  ag::backward(ag::sum(y));
  auto first = std::dynamic_pointer_cast<Conv2d>((*std::dynamic_pointer_cast<Sequential>((*body)[0]))[0]);
  ASSERT_TRUE(first);
  EXPECT_TRUE(ag::grad(first->weight).defined());
  // a different input size still comes back at the input size
  unet.eval();
  ag::NoGradGuard ng;
  EXPECT_EQ(unet(randn({1, 3, 40, 24})).shape(), Shape({1, 5, 40, 24}));
}

namespace {

bool all_equal_to(const Tensor& t, double v) {
  ag::NoGradGuard ng;
  return kiln::all(kiln::eq(t, v)).item<bool>();
}

Tensor conv_of(const ModulePtr& conv_layer) {
  return std::dynamic_pointer_cast<Conv2d>((*std::dynamic_pointer_cast<Sequential>(conv_layer))[0])->weight;
}
Tensor conv_bias_of(const ModulePtr& conv_layer) {
  return std::dynamic_pointer_cast<Conv2d>((*std::dynamic_pointer_cast<Sequential>(conv_layer))[0])->bias;
}

}  // namespace

// fastai's BatchNorm helper (weight 1, bias 1e-3) for the U-Net's own norms.
TEST(ArchUnet, BatchNormsUseFastaiInit) {
  manual_seed(1);
  DynamicUnet unet(xresnet18(10, 3)->slice(0, 6), 2, {32, 32});
  auto bn = std::dynamic_pointer_cast<BatchNorm>(unet.child("1"));
  ASSERT_TRUE(bn);
  EXPECT_TRUE(all_equal_to(bn->weight, 1.0));
  EXPECT_TRUE(all_equal_to(bn->bias, 1e-3));
  for (const char* b : {"4", "5"}) {
    auto block_bn = std::dynamic_pointer_cast<BatchNorm>(unet.child(b)->child("bn"));
    ASSERT_TRUE(block_bn) << b;
    EXPECT_TRUE(all_equal_to(block_bn->bias, 1e-3)) << b;
    EXPECT_TRUE(all_equal_to(block_bn->weight, 1.0)) << b;
  }
}

// apply_init as fastai's DynamicUnet: the middle convs, the UnetBlocks' convs and the final
// ResBlock get kaiming-normal weights and zero biases; the last ConvLayer keeps ConvLayer's init.
TEST(ArchUnet, DecoderGetsApplyInit) {
  manual_seed(2);
  DynamicUnet unet(xresnet18(10, 3)->slice(0, 6), 2, {32, 32});
  auto middle = std::dynamic_pointer_cast<Sequential>(unet.child("3"));
  ASSERT_TRUE(middle);
  std::vector<ModulePtr> inited{(*middle)[0], (*middle)[1]};
  for (const char* b : {"4", "5"}) {
    inited.push_back(unet.child(b)->child("conv1"));
    inited.push_back(unet.child(b)->child("conv2"));
  }
  for (auto& cl : inited) {
    EXPECT_TRUE(all_equal_to(conv_bias_of(cl), 0.0));  // ConvLayer's own init draws N(0, 0.01)
    // normal, not uniform: some weights beyond the kaiming-uniform bound sqrt(3) * sqrt(2 / fan_in)
    Tensor w = conv_of(cl);
    const double bound = std::sqrt(3.0) * std::sqrt(2.0 / double(w.numel() / w.size(0)));
    EXPECT_GT(kiln::amax(kiln::abs(w)).item<double>(), bound);
  }
  // the final 1x1 ConvLayer is not re-initialised: its bias is N(0, 0.01), not zeros
  auto last = unet.named_children().back().second;
  EXPECT_FALSE(all_equal_to(conv_bias_of(last), 0.0));
  // the ResBlock's convs (no bias, batch norm): normal weights
  auto res = std::dynamic_pointer_cast<ResBlock>(unet.named_children()[unet.named_children().size() - 2].second);
  ASSERT_TRUE(res);
  Tensor w = conv_of((*res->convpath)[0]);
  EXPECT_GT(kiln::amax(kiln::abs(w)).item<double>(), std::sqrt(3.0) * std::sqrt(2.0 / double(w.numel() / w.size(0))));
}

// self_attention puts fastai's SelfAttention in the UnetBlock third from the end (as conv2's xtra).
TEST(ArchUnet, SelfAttentionInThirdBlockFromTheEnd) {
  manual_seed(3);
  auto body = xresnet18(10, 3)->slice(0, 7);  // sizes change after children 2, 4, 5: three blocks
  UnetOptions o;
  o.self_attention = true;
  DynamicUnet unet(body, 2, {32, 32}, o);
  EXPECT_EQ(unet.skip_indices, std::vector<int64_t>({5, 4, 2}));
  std::vector<std::string> where;
  for (auto& [name, m] : unet.named_modules())
    if (std::dynamic_pointer_cast<SelfAttention>(m)) where.push_back(name);
  EXPECT_EQ(where, std::vector<std::string>{"4.conv2.2"});
  bool has_spectral = false;
  for (auto& [name, t] : unet.state_dict()) has_spectral |= name == "4.conv2.2.query.0.weight_orig";
  EXPECT_TRUE(has_spectral);
  // it is on the forward path: with gamma != 0 the output changes
  auto sa = std::dynamic_pointer_cast<SelfAttention>(unet.child("4")->child("conv2")->child("2"));
  unet.eval();
  Tensor x = randn({1, 3, 32, 32});
  ag::NoGradGuard ng;
  Tensor y0 = unet(x);
  kiln::fill_(sa->gamma, 0.5);
  EXPECT_FALSE(test::tensors_equal(unet(x), y0));
  // without the option, no attention
  DynamicUnet plain(xresnet18(10, 3)->slice(0, 7), 2, {32, 32});
  for (auto& [name, m] : plain.named_modules()) EXPECT_FALSE(std::dynamic_pointer_cast<SelfAttention>(m)) << name;
}
