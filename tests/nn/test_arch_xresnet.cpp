// XResNet / simple_cnn structure tests. The expected parameter and state-dict counts come from
// tools/golden/xresnet_param_counts.py (the same layers built with plain torch.nn).
#include <gtest/gtest.h>

#include "kiln/autograd/ops.h"
#include "kiln/nn/conv.h"
#include "kiln/nn/init.h"
#include "kiln/nn/linear.h"
#include "kiln/nn/norm.h"
#include "kiln/nn/pool.h"
#include "kiln/nn/simple_cnn.h"
#include "kiln/nn/xresnet.h"
#include "kiln/tensor/ops.h"

using namespace kiln;
using namespace kiln::nn;

namespace {

std::vector<std::shared_ptr<ResBlock>> res_blocks(Module& m) {
  std::vector<std::shared_ptr<ResBlock>> out;
  for (auto& [name, mod] : m.named_modules())
    if (auto rb = std::dynamic_pointer_cast<ResBlock>(mod)) out.push_back(rb);
  return out;
}

bool all_zero(const Tensor& t) { return kiln::sum(kiln::abs(t)).item<double>() == 0.0; }

double max_diff(const Tensor& a, const Tensor& b) {
  ag::NoGradGuard ng;
  return kiln::max(kiln::abs(kiln::sub(a, b))).item<double>();
}

}  // namespace

TEST(ArchXResNet, ParameterCountsMatchTorch) {
  // /usr/bin/python3 tools/golden/xresnet_param_counts.py
  // Only the structure matters here: skip the ~59M random draws of the three models.
  init::SkipInitGuard skip;
  auto m18 = xresnet18();
  EXPECT_EQ(num_parameters(*m18), 11708744);
  EXPECT_EQ(m18->state_dict().size(), 134u);
  auto m34 = xresnet34();
  EXPECT_EQ(num_parameters(*m34), 21816904);
  EXPECT_EQ(m34->state_dict().size(), 230u);
  auto m50 = xresnet50();
  EXPECT_EQ(num_parameters(*m50), 25576264);
  EXPECT_EQ(m50->state_dict().size(), 332u);
}

TEST(ArchXResNet, StructureStemStagesHead) {
  auto m = xresnet18(10);
  // stem(3) + maxpool + 4 stages + pool + flatten + dropout + linear
  ASSERT_EQ(m->size(), 12);
  EXPECT_EQ(m->type_name(), "XResNet");
  EXPECT_EQ((*m)[3]->type_name(), "MaxPool2d");
  EXPECT_EQ((*m)[-1]->type_name(), "Linear");
  auto names = m->state_dict();
  EXPECT_EQ(names.front().first, "0.0.weight");
  EXPECT_EQ(names.back().first, "11.bias");
  // every block's last BatchNorm starts at gamma = 0, the stem's BN at 1
  auto blocks = res_blocks(*m);
  ASSERT_EQ(blocks.size(), 8u);
  for (auto& b : blocks) {
    auto last_conv = std::dynamic_pointer_cast<Sequential>((*b->convpath)[-1]);
    ASSERT_TRUE(last_conv);
    auto bn = std::dynamic_pointer_cast<BatchNorm2d>((*last_conv)[1]);
    ASSERT_TRUE(bn);
    EXPECT_TRUE(all_zero(bn->weight));
    EXPECT_EQ(last_conv->size(), 2);  // no activation after the last conv of the path
  }
  auto stem_bn = std::dynamic_pointer_cast<BatchNorm2d>((*std::dynamic_pointer_cast<Sequential>((*m)[0]))[1]);
  ASSERT_TRUE(stem_bn);
  EXPECT_FALSE(all_zero(stem_bn->weight));
  // downsampling blocks: AvgPool2d(2, ceil_mode) first, then the 1x1 ConvLayer; stage 0 has none
  EXPECT_EQ(blocks[0]->idpath->size(), 0);
  for (int i : {2, 4, 6}) {
    ASSERT_EQ(blocks[size_t(i)]->idpath->size(), 2) << i;
    auto pool = std::dynamic_pointer_cast<AvgPool2d>((*blocks[size_t(i)]->idpath)[0]);
    ASSERT_TRUE(pool) << i;
    EXPECT_TRUE(pool->ceil_mode);
    EXPECT_EQ(pool->kernel_size.h, 2);
    auto conv = std::dynamic_pointer_cast<Conv2d>((*std::dynamic_pointer_cast<Sequential>((*blocks[size_t(i)]->idpath)[1]))[0]);
    ASSERT_TRUE(conv);
    EXPECT_EQ(conv->kernel_size.h, 1);
    EXPECT_FALSE(conv->bias.defined());
    EXPECT_EQ(blocks[size_t(i) + 1]->idpath->size(), 0);
  }
}

TEST(ArchXResNet, Xresnet50BottleneckShapes) {
  auto m = xresnet50(10);
  auto blocks = res_blocks(*m);
  ASSERT_EQ(blocks.size(), 16u);
  // first block: 64 -> 256 channels at stride 1: a 1x1 conv shortcut without pooling
  ASSERT_EQ(blocks[0]->idpath->size(), 1);
  EXPECT_EQ(blocks[0]->convpath->size(), 3);
  auto lin = std::dynamic_pointer_cast<Linear>((*m)[-1]);
  ASSERT_TRUE(lin);
  EXPECT_EQ(lin->in_features, 2048);
}

TEST(ArchXResNet, ForwardShapeAndBackward) {
  manual_seed(0);
  auto m = xresnet18(7, 3);
  Tensor x = randn({2, 3, 32, 32});
  Tensor y = (*m)(x);
  EXPECT_EQ(y.shape(), Shape({2, 7}));
  ag::backward(ag::sum(y));
  auto first = std::dynamic_pointer_cast<Conv2d>((*std::dynamic_pointer_cast<Sequential>((*m)[0]))[0]);
  ASSERT_TRUE(first && ag::grad(first->weight).defined());
  m->eval();
  Tensor y1 = (*m)(randn({1, 3, 40, 24}));
  EXPECT_EQ(y1.shape(), Shape({1, 7}));
}

TEST(ArchXResNet, SelfAttentionAndSE) {
  manual_seed(0);
  XResNetOptions o;
  o.layers = {1, 1, 1, 1};
  o.n_out = 4;
  o.sa = true;
  o.reduction = 16;
  auto m = xresnet(o);
  int n_sa = 0, n_se = 0;
  for (auto& [name, mod] : m->named_modules()) {
    if (auto sa = std::dynamic_pointer_cast<SimpleSelfAttention>(mod)) {
      ++n_sa;
      EXPECT_TRUE(all_zero(sa->gamma));
      EXPECT_EQ(name, "4.0.convpath.3");  // last block of stage 0 (= len(layers) - 4), after SE
    }
    if (std::dynamic_pointer_cast<SEModule>(mod)) ++n_se;
  }
  EXPECT_EQ(n_sa, 1);
  EXPECT_EQ(n_se, 4);
  Tensor y = (*m)(randn({2, 3, 32, 32}));
  EXPECT_EQ(y.shape(), Shape({2, 4}));
}

TEST(ArchXResNet, SelfAttentionFormula) {
  manual_seed(1);
  SimpleSelfAttention sa(4, 1, /*spectral=*/false);
  Tensor x = randn({2, 4, 3, 3});
  // gamma = 0: identity
  EXPECT_EQ(max_diff(sa(x), x), 0.0);
  {
    ag::NoGradGuard ng;
    kiln::fill_(sa.gamma, 0.5);
  }
  Tensor xf = x.reshape({2, 4, 9});
  auto conv = std::dynamic_pointer_cast<Conv1d>(sa.child("conv"));
  ag::NoGradGuard ng;
  Tensor convx = ag::conv1d(xf, conv->weight);
  Tensor expect = kiln::bmm(kiln::bmm(xf, xf.permute({0, 2, 1}).contiguous()), convx) * 0.5 + xf;
  EXPECT_LT(max_diff(sa(x), expect.reshape({2, 4, 3, 3})), 1e-4);
}

TEST(ArchSimpleCnn, LayersAndShapes) {
  auto m = simple_cnn({1, 8, 16, 10}, {}, {}, /*bn=*/true);
  ASSERT_EQ(m->size(), 5);
  auto l0 = std::dynamic_pointer_cast<Sequential>((*m)[0]);
  auto l2 = std::dynamic_pointer_cast<Sequential>((*m)[2]);
  ASSERT_TRUE(l0 && l2);
  EXPECT_EQ(l0->size(), 3);  // conv, bn, relu
  EXPECT_EQ(l2->size(), 2);  // last: conv (with bias), relu
  EXPECT_TRUE(std::dynamic_pointer_cast<Conv2d>((*l2)[0])->bias.defined());
  EXPECT_FALSE(std::dynamic_pointer_cast<Conv2d>((*l0)[0])->bias.defined());
  Tensor y = (*m)(randn({3, 1, 28, 28}));
  EXPECT_EQ(y.shape(), Shape({3, 10}));
  EXPECT_THROW(simple_cnn({1}), Error);
  EXPECT_THROW(simple_cnn({1, 2, 3}, {3}), Error);
}
