// spectral_norm / weight_norm (nn/weight_reparam.h) and the fastai layers built on them
// (SimpleSelfAttention, SelfAttention, PixelShuffle_ICNR with weight norm): names, behaviour, and
// outputs / gradients / updated buffers against PyTorch (tools/golden/gen_nn_reparam.py).
#include <gtest/gtest.h>

#include "kiln/autograd/ops.h"
#include "kiln/nn/conv.h"
#include "kiln/nn/init.h"
#include "kiln/nn/layers.h"
#include "kiln/nn/linear.h"
#include "kiln/nn/self_attention.h"
#include "kiln/nn/weight_reparam.h"
#include "kiln/tensor/ops.h"
#include "layer_fixture.h"

namespace kiln::nn {
namespace {

using test::check_module_case;
using test::fx;

const char* kFile = "nn_reparam";

std::vector<std::string> names(const std::vector<std::pair<std::string, Tensor>>& v) {
  std::vector<std::string> out;
  for (auto& [n, t] : v) out.push_back(n);
  return out;
}

// The eval-mode output of case `name` (no power iteration, the buffers as the training forward left them).
void check_eval(Module& m, const std::string& name) {
  m.eval();
  ag::NoGradGuard ng;
  EXPECT_TRUE(test::tensors_close(m(fx(name, "x", kFile)), fx(name, "y_eval", kFile), 1e-5, 1e-5)) << name;
}

TEST(SpectralNorm, NamesAndInitialVectors) {
  manual_seed(0);
  Conv2d c(3, 5, 3);
  spectral_norm(c);
  EXPECT_EQ(names(c.named_parameters()), (std::vector<std::string>{"bias", "weight_orig"}));
  EXPECT_EQ(names(c.named_buffers()), (std::vector<std::string>{"weight_u", "weight_v"}));
  EXPECT_EQ(c.buffer("weight_u").shape(), Shape({5}));
  EXPECT_EQ(c.buffer("weight_v").shape(), Shape({27}));
  EXPECT_NEAR(kiln::norm(c.buffer("weight_u")).item<double>(), 1.0, 1e-6);
  EXPECT_NEAR(kiln::norm(c.buffer("weight_v")).item<double>(), 1.0, 1e-6);
  // until the first forward the layer's weight is weight_orig itself: in-place init reaches it
  EXPECT_TRUE(c.weight.is_same(c.param("weight_orig")));
  ConvTranspose2d t(3, 4, 2);
  spectral_norm(t);
  EXPECT_EQ(t.buffer("weight_u").shape(), Shape({4}));  // dim 1 for a transposed conv
  EXPECT_KILN_ERROR(spectral_norm(c), "no parameter 'weight'");
  EXPECT_KILN_ERROR(spectral_norm(*std::make_shared<ReLU>()), "not a Linear or convolution");
  Linear l(3, 2);
  SpectralNormOptions o;
  o.dim = 2;
  EXPECT_KILN_ERROR(spectral_norm(l, o), "out of range");
}

TEST(SpectralNorm, LargestSingularValueBecomesOne) {
  // After enough power iterations the normalised weight's spectral norm is 1: W / sigma_max.
  manual_seed(1);
  Linear l(6, 4, false);
  SpectralNormOptions o;
  o.n_power_iterations = 100;
  spectral_norm(l, o);
  Tensor x = eye(6);
  Tensor u0 = l.buffer("weight_u").clone();
  Tensor y;
  {
    ag::NoGradGuard ng;
    y = l(x);  // x W^T / sigma = W^T / sigma
  }
  EXPECT_FALSE(test::tensors_equal(l.buffer("weight_u"), u0));  // training iterates
  // the largest singular value of y, by a power iteration of its own, is 1
  Tensor a = randn({4});
  for (int i = 0; i < 300; ++i) {
    a = kiln::matmul(kiln::matmul(y.t(), y), a);
    a = kiln::div(a, kiln::norm(a));
  }
  EXPECT_NEAR(kiln::norm(kiln::matmul(y, a)).item<double>(), 1.0, 1e-4);
  // eval runs no iteration: the buffers stay
  Tensor u = l.buffer("weight_u").clone();
  l.eval();
  l(x);
  EXPECT_TRUE(test::tensors_equal(l.buffer("weight_u"), u));
}

TEST(SpectralNorm, MatchesPyTorch) {
  Conv1d c1(4, 6, 3, 1, 1);
  spectral_norm(c1);
  check_module_case(c1, "spectral_conv1d", 1e-5, 1e-5, kFile);
  check_eval(c1, "spectral_conv1d");
  Linear l(5, 3);
  SpectralNormOptions o3;
  o3.n_power_iterations = 3;
  spectral_norm(l, o3);
  check_module_case(l, "spectral_linear_3it", 1e-5, 1e-5, kFile);
  check_eval(l, "spectral_linear_3it");
  ConvTranspose2d t(3, 4, 3, 2);
  spectral_norm(t);
  check_module_case(t, "spectral_conv_transpose2d", 1e-5, 1e-5, kFile);
  check_eval(t, "spectral_conv_transpose2d");
}

TEST(WeightNorm, NamesShapesAndIdentityAtInit) {
  manual_seed(2);
  Conv2d c(3, 4, 3);
  Tensor w0 = c.weight.clone();
  Tensor x = randn({1, 3, 5, 5});
  Tensor y0 = c(x);
  weight_norm(c);
  EXPECT_EQ(names(c.named_parameters()), (std::vector<std::string>{"bias", "weight_g", "weight_v"}));
  EXPECT_EQ(c.param("weight_g").shape(), Shape({4, 1, 1, 1}));
  EXPECT_TRUE(test::tensors_equal(c.param("weight_v"), w0));
  EXPECT_TRUE(test::tensors_close(c(x), y0, 1e-5, 1e-6));  // g = |v| at first: the same function
  Linear l(4, 3);
  weight_norm(l, std::nullopt);
  EXPECT_EQ(l.param("weight_g").dim(), 0);
  Linear l1(4, 3);
  weight_norm(l1, 1);
  EXPECT_EQ(l1.param("weight_g").shape(), Shape({1, 4}));
  EXPECT_KILN_ERROR(weight_norm(l1), "no parameter 'weight'");
}

TEST(WeightNorm, MatchesPyTorch) {
  Conv2d c(3, 4, 3, 1, 1);
  weight_norm(c);
  check_module_case(c, "weight_norm_conv2d", 1e-5, 1e-5, kFile);
  Linear a(4, 3), b(4, 3);
  weight_norm(a, std::nullopt);
  check_module_case(a, "weight_norm_linear_none", 1e-5, 1e-5, kFile);
  weight_norm(b, 1);
  check_module_case(b, "weight_norm_linear_dim1", 1e-5, 1e-5, kFile);
  Conv2d s(2, 3, 1);
  weight_norm(s);
  check_module_case(s, "weight_norm_scaled_g", 1e-5, 1e-5, kFile);
}

TEST(FastaiReparam, PixelShuffleICNRWeightNormByDefault) {
  manual_seed(3);
  PixelShuffle_ICNR ps(4, 2);
  check_module_case(ps, "pixel_shuffle_icnr_weight_norm", 1e-5, 1e-5, kFile);
  // at initialisation: weight_g is the norm of the ICNR direction, so the kernel is ICNR itself
  PixelShuffle_ICNR fresh(2, 3);
  auto conv = std::dynamic_pointer_cast<ConvLayer>(fresh[0])->conv();
  Tensor v = conv->param("weight_v");
  EXPECT_TRUE(test::tensors_close(conv->param("weight_g"), kiln::norm(v, 2, {1, 2, 3}, true), 1e-6, 1e-7));
  for (int64_t c = 0; c < 3; ++c)
    for (int64_t j = 1; j < 4; ++j) EXPECT_TRUE(test::tensors_equal(v.select(0, 4 * c + j), v.select(0, 4 * c)));
  PixelShuffle_ICNR plain(2, 3, 2, false, NormType::none);
  EXPECT_TRUE(std::dynamic_pointer_cast<ConvLayer>(plain[0])->conv()->param("weight").defined());
}

TEST(FastaiReparam, SimpleSelfAttentionSpectralAsFastai) {
  SimpleSelfAttention sa(4);
  EXPECT_EQ(names(sa.state_dict()),
            (std::vector<std::string>{"gamma", "conv.weight_orig", "conv.weight_u", "conv.weight_v"}));
  check_module_case(sa, "simple_self_attention", 1e-5, 1e-5, kFile);
  check_eval(sa, "simple_self_attention");
}

TEST(FastaiReparam, SelfAttentionMatchesPyTorch) {
  manual_seed(4);
  SelfAttention sa(16);
  EXPECT_EQ(sa.child("query")->type_name(), "ConvLayer");
  // starts as the identity (gamma = 0)
  Tensor x = randn({2, 16, 3, 2});
  EXPECT_TRUE(test::tensors_equal(sa(x), x));
  check_module_case(sa, "self_attention", 1e-5, 1e-5, kFile);
  check_eval(sa, "self_attention");
  EXPECT_KILN_ERROR(SelfAttention(4), "at least 8 channels");
}

}  // namespace
}  // namespace kiln::nn
