// Behaviour of the differentiable nn ops beyond their gradient values: running statistics,
// dropout masks, embedding padding, gradient dtypes, no_grad, misuse errors.
#include <gtest/gtest.h>

#include "kiln/autograd/ops.h"
#include "kiln/tensor/ops.h"
#include "support/fixtures.h"

namespace kiln::ag {
namespace {

using test::tensors_close;

// Backpropagates ones through y (d sum(y) / d inputs).
void backward_ones(const Tensor& y) { backward(y, kiln::ones_like(y)); }

TEST(NnOps, BatchNormTrainingUpdatesRunningStats) {
  Tensor x = set_requires_grad(kiln::tensor({{1, 10}, {3, 20}, {5, 60}}, DType::f64));  // [N=3, C=2]
  Tensor rm = kiln::zeros({2}, DType::f64), rv = kiln::ones({2}, DType::f64);
  Tensor y = ag::batch_norm(x, {}, {}, rm, rv, /*training=*/true, 0.1, 1e-5);
  // Batch means 3 and 30, unbiased variances 4 and 700.
  EXPECT_TRUE(tensors_close(rm, kiln::tensor({0.3, 3.0}, DType::f64), 1e-12, 1e-12));
  EXPECT_TRUE(tensors_close(rv, kiln::tensor({0.9 + 0.4, 0.9 + 70.0}, DType::f64), 1e-12, 1e-12));
  EXPECT_TRUE(requires_grad(y));
  backward_ones(y);
  // sum of a normalised column does not depend on x: the gradient is zero.
  EXPECT_TRUE(tensors_close(grad(x), kiln::zeros({3, 2}, DType::f64), 0, 1e-9));
}

TEST(NnOps, BatchNormEvalKeepsRunningStatsAndScalesByThem) {
  Tensor x = set_requires_grad(kiln::tensor({{1, 2}, {3, 4}}, DType::f64));
  Tensor w = set_requires_grad(kiln::tensor({2, 3}, DType::f64));
  Tensor b = set_requires_grad(kiln::tensor({0, 1}, DType::f64));
  Tensor rm = kiln::tensor({1, -1}, DType::f64), rv = kiln::tensor({4, 9}, DType::f64);
  Tensor y = ag::batch_norm(x, w, b, rm, rv, /*training=*/false, 0.1, 0.0);
  EXPECT_EQ(rm.to_vector<double>(), (std::vector<double>{1, -1}));
  EXPECT_EQ(rv.to_vector<double>(), (std::vector<double>{4, 9}));
  EXPECT_TRUE(tensors_close(y, kiln::tensor({{0, 4}, {2, 6}}, DType::f64), 1e-12, 1e-12));
  backward_ones(y);
  // Eval is affine in x: dx = w / sqrt(rv), dw = sum (x - rm) / sqrt(rv), db = N.
  EXPECT_TRUE(tensors_close(grad(x), kiln::tensor({{1, 1}, {1, 1}}, DType::f64), 1e-12, 1e-12));
  EXPECT_TRUE(tensors_close(grad(w), kiln::tensor({2.0 / 2, 8.0 / 3}, DType::f64), 1e-12, 1e-12));
  EXPECT_TRUE(tensors_close(grad(b), kiln::tensor({2, 2}, DType::f64), 1e-12, 1e-12));
}

TEST(NnOps, DropoutMaskScalingAndGradient) {
  Tensor x = set_requires_grad(kiln::ones({4000}, DType::f32));
  Generator gen(7);
  Tensor y = ag::dropout(x, 0.25, /*training=*/true, &gen);
  auto v = y.to_vector<float>();
  int64_t dropped = 0;
  for (float e : v) {
    ASSERT_TRUE(e == 0.0f || std::abs(e - 1.0f / 0.75f) < 1e-6f) << e;
    dropped += e == 0.0f;
  }
  EXPECT_GT(dropped, 800);  // p = 0.25 of 4000 is 1000
  EXPECT_LT(dropped, 1200);
  backward_ones(y);
  // dy * mask / (1 - p): for x = 1 that is y itself.
  EXPECT_TRUE(test::tensors_equal(grad(x), y));
  EXPECT_EQ(grad(x).dtype(), DType::f32);
  // Same seed, same mask.
  Generator gen2(7);
  EXPECT_TRUE(test::tensors_equal(kiln::dropout_mask({4000}, 0.25, &gen2), y));
}

TEST(NnOps, DropoutIdentityInEvalAndErrors) {
  Tensor x = set_requires_grad(kiln::randn({3, 5}, DType::f32));
  EXPECT_TRUE(test::tensors_equal(ag::dropout(x, 0.5, /*training=*/false), x));
  EXPECT_TRUE(test::tensors_equal(ag::dropout(x, 0.0, /*training=*/true), x));
  EXPECT_TRUE(test::tensors_equal(ag::dropout2d(x.reshape({3, 5, 1, 1}), 0.5, false), x.reshape({3, 5, 1, 1})));
  EXPECT_TRUE(test::tensors_equal(ag::dropout(x, 1.0, true), kiln::zeros({3, 5})));
  EXPECT_KILN_ERROR(ag::dropout(x, 1.5, true), "[0, 1]");
  EXPECT_KILN_ERROR(ag::dropout(x, -0.1, false), "[0, 1]");
  EXPECT_KILN_ERROR(ag::dropout2d(x, 2.0, true), "[0, 1]");
  EXPECT_KILN_ERROR(ag::dropout2d(kiln::ones({4}), 0.5, true), "dropout2d");
}

TEST(NnOps, Dropout2dDropsWholeChannels) {
  Tensor x = set_requires_grad(kiln::ones({4, 6, 3, 2}, DType::f64));
  Generator gen(11);
  Tensor y = ag::dropout2d(x, 0.5, true, &gen);
  auto v = y.to_vector<double>();
  int zeros = 0, kept = 0;
  for (int64_t bc = 0; bc < 24; ++bc) {
    const double first = v[size_t(bc * 6)];
    EXPECT_TRUE(first == 0.0 || first == 2.0) << first;
    for (int k = 0; k < 6; ++k) EXPECT_EQ(v[size_t(bc * 6 + k)], first) << "channel " << bc;
    (first == 0.0 ? zeros : kept)++;
  }
  EXPECT_GT(zeros, 0);
  EXPECT_GT(kept, 0);
  backward_ones(y);
  EXPECT_TRUE(test::tensors_equal(grad(x), y));
}

TEST(NnOps, EmbeddingPaddingRowGetsNoGradient) {
  Tensor w = set_requires_grad(kiln::randn({4, 3}, DType::f32));
  Tensor idx = kiln::from_vector(std::vector<int64_t>{0, 2, 2, 1, 2, 0}, {2, 3});
  Tensor y = ag::embedding(w, idx, /*padding_idx=*/2);
  EXPECT_EQ(y.shape(), Shape({2, 3, 3}));
  backward_ones(y);
  Tensor expect = kiln::tensor({{2, 2, 2}, {1, 1, 1}, {0, 0, 0}, {0, 0, 0}}, DType::f32);
  EXPECT_TRUE(test::tensors_equal(grad(w), expect));
  EXPECT_KILN_ERROR(ag::embedding(w, idx, 4), "padding_idx");
}

TEST(NnOps, MaxPoolGradientGoesToTheMaximum) {
  Tensor x = set_requires_grad(kiln::tensor({1, 4, 2, 3}, DType::f32).reshape({1, 1, 2, 2}));
  Tensor y = ag::max_pool2d(x, {2, 2});
  EXPECT_EQ(y.to_vector<float>(), (std::vector<float>{4}));
  backward_ones(y);
  EXPECT_EQ(grad(x).to_vector<float>(), (std::vector<float>{0, 1, 0, 0}));
}

TEST(NnOps, LinearMatchesMatmulAndChecksShapes) {
  Tensor x = set_requires_grad(kiln::randn({2, 3, 4}, DType::f32));
  Tensor w = set_requires_grad(kiln::randn({5, 4}, DType::f32));
  Tensor b = set_requires_grad(kiln::randn({5}, DType::f32));
  Tensor y = ag::linear(x, w, b);
  EXPECT_EQ(y.shape(), Shape({2, 3, 5}));
  EXPECT_TRUE(tensors_close(y, kiln::add(kiln::matmul(x, w.t()), b), 1e-5, 1e-5));
  EXPECT_EQ(grad_fn(y)->name, "linear");  // one node
  backward_ones(y);
  EXPECT_EQ(grad(w).dtype(), DType::f32);
  EXPECT_TRUE(tensors_close(grad(b), kiln::full({5}, 6.0f), 1e-6, 1e-6));
  EXPECT_KILN_ERROR(ag::linear(x, kiln::randn({5, 3})), "linear");
  EXPECT_KILN_ERROR(ag::linear(x, w, kiln::randn({4})), "bias");
}

TEST(NnOps, NoGradRecordsNothingAndGradientsKeepF32) {
  Tensor x = set_requires_grad(kiln::randn({2, 3, 5, 5}, DType::f32));
  Tensor w = set_requires_grad(kiln::randn({4, 3, 3, 3}, DType::f32));
  {
    NoGradGuard ng;
    EXPECT_FALSE(requires_grad(ag::conv2d(x, w)));
    EXPECT_FALSE(requires_grad(ag::softmax(x, 1)));
    EXPECT_FALSE(requires_grad(ag::layer_norm(x, {5})));
  }
  Tensor y = ag::conv2d(x, w, {}, 2, 1);
  backward_ones(y);
  EXPECT_EQ(grad(x).dtype(), DType::f32);
  EXPECT_EQ(grad(x).shape(), x.shape());
  EXPECT_EQ(grad(w).dtype(), DType::f32);
}

TEST(NnOps, GridSampleNearestGivesTheGridNoGradient) {
  Tensor x = set_requires_grad(kiln::randn({1, 2, 4, 4}, DType::f64));
  // Coordinates in [-0.8, 0.8]: every point reads a pixel inside the input.
  Tensor grid = set_requires_grad(kiln::sub(kiln::mul(kiln::rand({1, 3, 3, 2}, DType::f64), 1.6), 0.8));
  Tensor y = ag::grid_sample(x, grid, GridSampleMode::nearest);
  auto g = ag::grad({y}, {x, grid}, {kiln::ones_like(y)}, false, true);
  // Every output reads one pixel: the input gradient sums to the number of outputs (all inside).
  EXPECT_DOUBLE_EQ(kiln::sum(g[0]).item<double>(), 2.0 * 9.0);
  ASSERT_TRUE(g[1].defined());
  EXPECT_EQ(kiln::sum(kiln::abs(g[1])).item<double>(), 0.0);
}

TEST(NnOps, SoftmaxSavedOutputModifiedInPlaceIsDetected) {
  Tensor x = set_requires_grad(kiln::randn({2, 3}, DType::f32));
  Tensor y = ag::softmax(x, 1);
  Tensor alias = detach(y);
  alias.copy_(kiln::zeros({2, 3}));
  EXPECT_KILN_ERROR(backward_ones(y), "modified in place");
}

}  // namespace
}  // namespace kiln::ag
