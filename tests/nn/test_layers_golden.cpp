// Golden tests of the layers against PyTorch (tools/golden/gen_nn_layers.py): each layer loads the
// torch module's state dict by name and must give torch's output, input gradient, parameter
// gradients and (for batch norm) running statistics.
#include <gtest/gtest.h>

#include "kiln/autograd/ops.h"
#include "kiln/nn/activation.h"
#include "kiln/nn/containers.h"
#include "kiln/nn/conv.h"
#include "kiln/nn/embedding.h"
#include "kiln/nn/layers.h"
#include "kiln/nn/linear.h"
#include "kiln/nn/norm.h"
#include "kiln/nn/pool.h"
#include "layer_fixture.h"

namespace kiln::nn {
namespace {

using test::check_module_case;

TEST(LinearGolden, MatchesTorch) {
  Linear a(5, 3);
  check_module_case(a, "linear");
  Linear b(5, 3);
  check_module_case(b, "linear3d");
  Linear c(4, 2, false);
  EXPECT_FALSE(c.bias.defined());
  check_module_case(c, "linear_nobias");
}

TEST(ConvGolden, MatchesTorch) {
  Conv1d c1(3, 4, 3, 2, 1);
  check_module_case(c1, "conv1d");
  Conv2d c2(3, 4, 3, 2, 1);
  check_module_case(c2, "conv2d");
  Conv2d cg(4, 6, 3, 1, 2, 2, 2, false);
  check_module_case(cg, "conv2d_grouped");
  ConvTranspose2d ct(3, 4, 3, 2, 1, 1);
  check_module_case(ct, "conv_transpose2d");
}

TEST(NormGolden, BatchNormTrainingMatchesTorchIncludingRunningStats) {
  BatchNorm1d a(3);
  check_module_case(a, "bn1d");
  BatchNorm1d b(3, 1e-5, 0.3);
  check_module_case(b, "bn1d_3d");
  BatchNorm2d c(4);
  check_module_case(c, "bn2d");
  EXPECT_EQ(c.num_batches_tracked.item<int64_t>(), 1);
  BatchNorm2d d(4, 1e-5, 0.1, false);
  EXPECT_TRUE(d.parameters().empty());
  check_module_case(d, "bn2d_noaffine");
}

TEST(NormGolden, BatchNormEvalUsesRunningStats) {
  BatchNorm2d m(4, 1e-3);
  m.eval();
  check_module_case(m, "bn2d_eval");
  EXPECT_EQ(m.num_batches_tracked.item<int64_t>(), 7);  // eval does not count
}

TEST(NormGolden, LayerNormAndGroupNorm) {
  LayerNorm a({5});
  check_module_case(a, "layernorm");
  LayerNorm b({3, 4}, 1e-4);
  check_module_case(b, "layernorm2");
  GroupNorm g(2, 4);
  check_module_case(g, "groupnorm");
}

TEST(EmbeddingGolden, MatchesTorchAndPaddingRowGetsNoGradient) {
  Embedding e(10, 4, 0);
  check_module_case(e, "embedding");
  Tensor g = ag::grad(e.weight);
  EXPECT_EQ(kiln::abs(g.select(0, 0)).to_vector<float>(), std::vector<float>(4, 0.f));
}

TEST(ActivationGolden, MatchesTorch) {
  ReLU relu;
  check_module_case(relu, "relu");
  LeakyReLU lrelu(0.1);
  check_module_case(lrelu, "leaky_relu");
  GELU gelu;
  check_module_case(gelu, "gelu");
  SiLU silu;
  check_module_case(silu, "silu");
  Mish mish;
  check_module_case(mish, "mish");
  Sigmoid sig;
  check_module_case(sig, "sigmoid");
  Tanh tanh_;
  check_module_case(tanh_, "tanh");
  Softmax sm(1);
  check_module_case(sm, "softmax");
  Softmax sm0(0);
  check_module_case(sm0, "softmax0");
  SigmoidRange sr(0.5, 5.5);
  check_module_case(sr, "sigmoid_range");
}

TEST(PoolGolden, MatchesTorch) {
  MaxPool2d mp(3, 2, 1);
  check_module_case(mp, "maxpool");
  AvgPool2d ap(2);
  check_module_case(ap, "avgpool");
  AvgPool2d app(3, 2, 1, false, false);
  check_module_case(app, "avgpool_pad");
  AdaptiveAvgPool2d aap({2, 3});
  check_module_case(aap, "adaptive_avgpool");
  AdaptiveConcatPool2d acp;
  check_module_case(acp, "adaptive_concat_pool");
  Flatten fl;
  check_module_case(fl, "flatten");
}

TEST(FastaiGolden, PixelShuffleICNR) {
  PixelShuffle_ICNR blur(4, 2, 2, true, NormType::none);  // the fixture has norm_type=None
  EXPECT_EQ(blur.size(), 4);
  check_module_case(blur, "pixel_shuffle_icnr");
  PixelShuffle_ICNR plain(3, 3, 2, false, NormType::none);
  check_module_case(plain, "pixel_shuffle_noblur");
}

TEST(FastaiGolden, LinBnDropOrderAndNoBiasRule) {
  LinBnDrop a(6, 4, true, 0.0, std::make_shared<ReLU>());
  ASSERT_EQ(a.size(), 3);
  EXPECT_EQ(a[0]->type_name(), "BatchNorm1d");
  EXPECT_EQ(a[1]->type_name(), "Linear");
  EXPECT_EQ(a[2]->type_name(), "ReLU");
  EXPECT_FALSE(std::dynamic_pointer_cast<Linear>(a[1])->bias.defined());
  check_module_case(a, "lin_bn_drop");
  LinBnDrop b(6, 4, true, 0.0, nullptr, true);
  EXPECT_EQ(b[0]->type_name(), "Linear");
  EXPECT_EQ(b[1]->type_name(), "BatchNorm1d");
  check_module_case(b, "lin_bn_drop_first");
  LinBnDrop c(6, 4, false);
  ASSERT_EQ(c.size(), 1);
  EXPECT_TRUE(std::dynamic_pointer_cast<Linear>(c[0])->bias.defined());
  check_module_case(c, "lin_nobn");
  LinBnDrop d(6, 4, true, 0.25);
  ASSERT_EQ(d.size(), 3);
  EXPECT_EQ(d[1]->type_name(), "Dropout");
}

TEST(FastaiGolden, ConvLayer) {
  ConvLayerOptions o;
  o.stride = 2;
  ConvLayer a(3, 5, o);
  ASSERT_EQ(a.size(), 3);
  EXPECT_EQ(a[1]->type_name(), "BatchNorm2d");  // bn_1st
  EXPECT_EQ(a[2]->type_name(), "ReLU");
  check_module_case(a, "conv_layer");
  ConvLayerOptions n;
  n.ks = 1;
  n.norm_type = NormType::none;
  ConvLayer b(3, 5, n);
  ASSERT_EQ(b.size(), 2);
  check_module_case(b, "conv_layer_nonorm");
}

// The two models of nn_core's state-dict fixture, loaded through Module::load_state_dict.
TEST(StateDictGolden, TorchSequentialsLoadIntoKiln) {
  Sequential mlp({std::make_shared<Linear>(4, 3), std::make_shared<ReLU>(), std::make_shared<Linear>(3, 2)});
  mlp.eval();
  test::check_module_case(mlp, "seq_mlp");
  Sequential cbr({std::make_shared<Conv2d>(3, 4, 3, 1, 1), std::make_shared<BatchNorm2d>(4), std::make_shared<ReLU>()});
  cbr.eval();
  test::check_module_case(cbr, "seq_conv_bn");
  auto names = cbr.state_dict();
  ASSERT_EQ(names.size(), 7u);
  EXPECT_EQ(names[0].first, "0.weight");
  EXPECT_EQ(names[6].first, "1.num_batches_tracked");
  EXPECT_EQ(names[6].second.dtype(), DType::i64);
}

}  // namespace
}  // namespace kiln::nn
