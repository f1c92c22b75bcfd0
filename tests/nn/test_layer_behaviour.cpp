// Layer behaviour beyond the golden values: default initialisation, modes, buffers, errors.
#include <gtest/gtest.h>

#include <cmath>

#include "kiln/autograd/ops.h"
#include "kiln/nn/activation.h"
#include "kiln/nn/conv.h"
#include "kiln/nn/dropout.h"
#include "kiln/nn/embedding.h"
#include "kiln/nn/layers.h"
#include "kiln/nn/linear.h"
#include "kiln/nn/norm.h"
#include "support/fixtures.h"

namespace kiln::nn {
namespace {

double absmax(const Tensor& t) { return kiln::amax(kiln::abs(t)).item<double>(); }

TEST(LayerInit, LinearAndConvUniformBoundIsOneOverSqrtFanIn) {
  Linear l(400, 300);
  double bound = 1.0 / std::sqrt(400.0);
  EXPECT_LE(absmax(l.weight), bound);
  EXPECT_GT(absmax(l.weight), 0.95 * bound);
  // uniform(-b, b) has std b / sqrt(3)
  EXPECT_NEAR(kiln::std(l.weight).item<double>(), bound / std::sqrt(3.0), 0.03 * bound);
  EXPECT_LE(absmax(l.bias), bound);
  Conv2d c(8, 16, 3, 1, 1, 1, 2);  // fan_in = 8/2 * 9
  EXPECT_EQ(c.weight.shape(), Shape({16, 4, 3, 3}));
  EXPECT_LE(absmax(c.weight), 1.0 / 6.0);
  EXPECT_GT(absmax(c.weight), 0.9 / 6.0);
  ConvTranspose2d ct(4, 6, 3, 2, 1, 1, 2);  // weight [4, 3, 3, 3], fan_in = 3 * 9
  EXPECT_EQ(ct.weight.shape(), Shape({4, 3, 3, 3}));
  EXPECT_LE(absmax(ct.weight), 1.0 / std::sqrt(27.0));
  Conv1d c1(3, 5, 4, 1, 0, 1, 1, false);
  EXPECT_EQ(c1.weight.shape(), Shape({5, 3, 4}));
  EXPECT_EQ(c1.named_parameters().size(), 1u);
}

TEST(LayerInit, EmbeddingIsStandardNormalWithZeroPaddingRow) {
  Embedding e(500, 64, -1);  // -1 counts from the end: row 499
  EXPECT_EQ(e.padding_idx, 499);
  EXPECT_EQ(absmax(e.weight.select(0, 499)), 0.0);
  EXPECT_NEAR(kiln::std(e.weight).item<double>(), 1.0, 0.03);
  EXPECT_NEAR(kiln::mean(e.weight).item<double>(), 0.0, 0.03);
}

TEST(LayerInit, NormDefaultsAndBuffers) {
  BatchNorm2d bn(3);
  auto sd = bn.state_dict();
  ASSERT_EQ(sd.size(), 5u);
  EXPECT_EQ(sd[0].first, "weight");
  EXPECT_EQ(sd[2].first, "running_mean");
  EXPECT_EQ(sd[4].first, "num_batches_tracked");
  EXPECT_EQ(bn.num_batches_tracked.dtype(), DType::i64);
  EXPECT_EQ(bn.num_batches_tracked.dim(), 0);
  EXPECT_EQ(bn.running_var.to_vector<float>(), std::vector<float>(3, 1.f));
  EXPECT_EQ(bn.named_parameters().size(), 2u);
  BatchNorm1d nostats(3, 1e-5, 0.1, true, false);
  EXPECT_EQ(nostats.state_dict().size(), 2u);
}

TEST(BatchNorm, TrainingUpdatesRunningStatsAndCount) {
  BatchNorm2d bn(2);
  Tensor x = add(mul(randn({8, 2, 4, 4}), 3.0), 2.0);
  bn(x);
  bn(x);
  EXPECT_EQ(bn.num_batches_tracked.item<int64_t>(), 2);
  // r = 0.9 r + 0.1 batch twice from (0, 1)
  Tensor bm = kiln::mean(x, {0, 2, 3});
  Tensor bv = kiln::var(x, {0, 2, 3});
  EXPECT_TRUE(test::tensors_close(bn.running_mean, mul(bm, 0.19), 1e-5, 1e-5));
  EXPECT_TRUE(test::tensors_close(bn.running_var, add(mul(bv, 0.19), 0.81), 1e-5, 1e-5));
}

TEST(BatchNorm, CumulativeMomentumAndEval) {
  BatchNorm1d bn(3, 1e-5, std::nullopt);
  Tensor a = randn({10, 3}), b = randn({10, 3});
  bn(a);
  bn(b);
  // momentum None: running_mean is the plain average of the batch means
  Tensor expect = mul(add(kiln::mean(a, {0}), kiln::mean(b, {0})), 0.5);
  EXPECT_TRUE(test::tensors_close(bn.running_mean, expect, 1e-5, 1e-6));
  bn.eval();
  Tensor rm = bn.running_mean.clone();
  Tensor y = bn(a);
  EXPECT_TRUE(test::tensors_equal(bn.running_mean, rm));
  EXPECT_EQ(bn.num_batches_tracked.item<int64_t>(), 2);
  Tensor manual = div(sub(a, bn.running_mean), kiln::sqrt(add(bn.running_var, 1e-5)));
  EXPECT_TRUE(test::tensors_close(y, manual, 1e-5, 1e-5));
  EXPECT_KILN_ERROR(bn(randn({4, 5})), "channels");
  EXPECT_KILN_ERROR(bn(randn({4, 3, 2, 2})), "BatchNorm1d");
}

TEST(Dropout, TrainScalesEvalIsIdentity) {
  Generator g(11);
  Dropout d(0.25, &g);
  Tensor x = ones({4000});
  Tensor y = d(x);
  auto v = y.to_vector<float>();
  int64_t zeros_count = 0;
  for (float f : v) {
    if (f == 0.f) ++zeros_count;
    else EXPECT_FLOAT_EQ(f, 1.f / 0.75f);
  }
  EXPECT_NEAR(double(zeros_count) / 4000.0, 0.25, 0.03);
  d.eval();
  EXPECT_TRUE(d(x).is_same(x) || test::tensors_equal(d(x), x));
  EXPECT_KILN_ERROR(Dropout(1.5), "Dropout");
}

TEST(Dropout2d, DropsWholeChannels) {
  Generator g(5);
  Dropout2d d(0.5, &g);
  Tensor y = d(ones({4, 8, 3, 3}));
  Tensor mx = kiln::amax(y, {2, 3}), mn = kiln::amin(y, {2, 3});
  EXPECT_TRUE(test::tensors_equal(mx, mn));  // constant per channel
  d.eval();
  EXPECT_TRUE(test::tensors_equal(d(ones({2, 2, 2, 2})), ones({2, 2, 2, 2})));
}

TEST(FastaiLayers, IcnrCopiesEachKernelToItsShuffleGroup) {
  Tensor w = empty({12, 5, 3, 3});
  icnr_init_(w, 2);
  for (int64_t c = 0; c < 3; ++c)
    for (int64_t j = 1; j < 4; ++j) EXPECT_TRUE(test::tensors_equal(w.select(0, 4 * c + j), w.select(0, 4 * c)));
  EXPECT_FALSE(test::tensors_equal(w.select(0, 0), w.select(0, 4)));
  EXPECT_KILN_ERROR(icnr_init_(w, 3), "divisible");
  // ICNR + shuffle starts as a nearest-neighbour upsampling of one conv output per channel.
  PixelShuffle_ICNR ps(2, 3, 2);
  Tensor x = randn({1, 2, 4, 4});
  Tensor y = ps(x);
  EXPECT_EQ(y.shape(), Shape({1, 3, 8, 8}));
  EXPECT_TRUE(test::tensors_equal(y.slice(2, 0, 8, 2).slice(3, 0, 8, 2), y.slice(2, 1, 8, 2).slice(3, 1, 8, 2)));
}

TEST(FastaiLayers, ConvLayerInitAndBatchNormDefaults) {
  ConvLayer a(16, 32);
  auto conv = std::dynamic_pointer_cast<Conv2d>(a.conv());
  ASSERT_TRUE(conv);
  EXPECT_FALSE(conv->bias.defined());  // BN follows
  EXPECT_EQ(conv->padding.h, 1);
  // kaiming_uniform, ReLU gain: bound sqrt(6 / fan_in), fan_in = 16 * 9
  double bound = std::sqrt(6.0 / 144.0);
  EXPECT_LE(absmax(conv->weight), bound);
  EXPECT_GT(absmax(conv->weight), 0.9 * bound);
  auto bn = std::dynamic_pointer_cast<BatchNorm2d>(a[1]);
  ASSERT_TRUE(bn);
  EXPECT_NEAR(bn->bias.to_vector<float>()[0], 1e-3, 1e-9);
  EXPECT_EQ(bn->weight.to_vector<float>()[0], 1.f);
  ConvLayerOptions z;
  z.norm_type = NormType::batch_zero;
  z.act = nullptr;
  ConvLayer b(4, 4, z);
  EXPECT_EQ(b.size(), 2);
  EXPECT_EQ(absmax(std::dynamic_pointer_cast<BatchNorm2d>(b[1])->weight), 0.0);
  ConvLayerOptions nb;
  nb.norm_type = NormType::none;
  nb.ndim = 1;
  ConvLayer c(3, 4, nb);
  auto c1 = std::dynamic_pointer_cast<Conv1d>(c.conv());
  ASSERT_TRUE(c1);
  EXPECT_TRUE(c1->bias.defined());
  EXPECT_LT(absmax(c1->bias), 0.1);  // N(0, 0.01)
}

TEST(Layers, PixelShuffleLayoutAndErrors) {
  Tensor x = arange(16, DType::f32).reshape({1, 4, 2, 2});
  Tensor y = pixel_shuffle(x, 2);
  // channel i*2+j goes to offset (i, j) of each 2x2 block
  EXPECT_EQ(y.reshape({-1}).to_vector<float>(),
            (std::vector<float>{0, 4, 1, 5, 8, 12, 9, 13, 2, 6, 3, 7, 10, 14, 11, 15}));
  EXPECT_KILN_ERROR(pixel_shuffle(randn({1, 3, 2, 2}), 2), "pixel_shuffle");
}

TEST(Layers, PrintingUsesPyTorchNames) {
  Linear l(4, 3, false);
  EXPECT_EQ(l.str(), "Linear(in_features=4, out_features=3, bias=False)");
  Conv2d c(3, 8, 3, 2, 1);
  EXPECT_EQ(c.str(), "Conv2d(3, 8, kernel_size=(3, 3), stride=(2, 2), padding=(1, 1))");
}

// fastai's nn.Sequential subclasses print and summarise under their own names, as in fastai.
TEST(Layers, FastaiSequentialsPrintTheirOwnTypeName) {
  ConvLayer cl(3, 4);
  EXPECT_EQ(cl.type_name(), "ConvLayer");
  EXPECT_EQ(cl.str().rfind("ConvLayer(\n  (0): Conv2d(3, 4, kernel_size=(3, 3)", 0), 0u) << cl.str();
  LinBnDrop lbd(6, 2, true, 0.5);
  EXPECT_EQ(lbd.str().rfind("LinBnDrop(\n  (0): BatchNorm1d(", 0), 0u) << lbd.str();
  auto ps = std::make_shared<PixelShuffle_ICNR>(4, 2);
  Sequential outer({ps});
  EXPECT_NE(outer.str().find("(0): PixelShuffle_ICNR(\n    (0): ConvLayer(\n      (0): Conv2d(4, 8"), std::string::npos)
      << outer.str();
  // summary's title line names the module's type
  const std::string s = cl.summary({kiln::zeros({1, 3, 5, 5})});
  EXPECT_EQ(s.rfind("ConvLayer (Input shape: 1 x 3 x 5 x 5)", 0), 0u) << s;
  // slices of a subclass are plain Sequentials
  EXPECT_EQ(cl.slice(0, 1)->type_name(), "Sequential");
}

}  // namespace
}  // namespace kiln::nn
