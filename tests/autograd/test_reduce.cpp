// Behaviour of the differentiable reductions beyond the gradient checks: zeros in prod, ties in
// amax / max, the index of max(x, dim), norm at zero, dtypes and no_grad.
#include <gtest/gtest.h>

#include "kiln/autograd/ops.h"
#include "kiln/tensor/ops.h"
#include "support/fixtures.h"

namespace kiln::ag {
namespace {

Tensor leaf(std::initializer_list<double> v, DType dt = DType::f64) { return set_requires_grad(kiln::tensor(v, dt)); }
std::vector<double> grad_of(const Tensor& t) { return grad(t).to(DType::f64).to_vector<double>(); }

TEST(Reduce, ProdWithOneZeroGivesTheProductOfTheOthers) {
  Tensor x = leaf({2, 0, 3, 4});
  backward(ag::prod(x));
  EXPECT_EQ(grad_of(x), (std::vector<double>{0, 24, 0, 0}));
}

TEST(Reduce, ProdWithTwoZerosGivesZeros) {
  Tensor x = set_requires_grad(kiln::tensor({{0, 2, 0}, {1, 2, 3}}, DType::f64));
  backward(ag::sum(ag::prod(x, {1})));
  EXPECT_EQ(grad_of(x), (std::vector<double>{0, 0, 0, 6, 3, 2}));
}

TEST(Reduce, AmaxSplitsTiesAndMaxDimUsesTheIndex) {
  Tensor x = leaf({1, 3, 3, 2});
  backward(ag::amax(x));
  EXPECT_EQ(grad_of(x), (std::vector<double>{0, 0.5, 0.5, 0}));
  set_grad(x, {});
  backward(ag::max(x));
  EXPECT_EQ(grad_of(x), (std::vector<double>{0, 0.5, 0.5, 0}));
  set_grad(x, {});
  ValuesIndices r = ag::max(x, 0);
  EXPECT_FALSE(requires_grad(r.indices));
  EXPECT_EQ(r.indices.item<int64_t>(), 1);
  backward(r.values);
  EXPECT_EQ(grad_of(x), (std::vector<double>{0, 1, 0, 0}));  // the first extreme only
  set_grad(x, {});
  backward(ag::sum(ag::min(x, 0, /*keepdim=*/true).values));
  EXPECT_EQ(grad_of(x), (std::vector<double>{1, 0, 0, 0}));
}

TEST(Reduce, NormOfAZeroVectorHasZeroGradient) {
  Tensor x = leaf({0, 0, 0});
  backward(ag::norm(x));
  EXPECT_EQ(grad_of(x), (std::vector<double>{0, 0, 0}));
  Tensor z = leaf({0, 3, -4});
  backward(ag::norm(z, 2));
  const auto gz = grad_of(z);
  EXPECT_EQ(gz[0], 0.0);
  EXPECT_NEAR(gz[1], 0.6, 1e-15);
  EXPECT_NEAR(gz[2], -0.8, 1e-15);
}

TEST(Reduce, StdOfAConstantSliceHasZeroGradient) {
  Tensor x = leaf({2, 2, 2});
  backward(ag::std(x));
  EXPECT_EQ(grad_of(x), (std::vector<double>{0, 0, 0}));
}

TEST(Reduce, MeanWithDtypeAndF32Gradients) {
  Tensor x = set_requires_grad(kiln::ones({2, 3}, DType::f32));
  Tensor y = ag::mean(x, {1}, false, DType::f64);
  EXPECT_EQ(y.dtype(), DType::f64);
  backward(ag::sum(y));
  EXPECT_EQ(grad(x).dtype(), DType::f32);
  EXPECT_EQ(grad(x).shape(), Shape({2, 3}));
  for (float v : grad(x).to_vector<float>()) EXPECT_FLOAT_EQ(v, 1.0f / 3);
}

TEST(Reduce, VarMeanBothOutputsContribute) {
  Tensor x = leaf({1, 2, 3, 6});
  VarMean vm = ag::var_mean(x, {}, 0);
  EXPECT_DOUBLE_EQ(vm.mean.item<double>(), 3.0);
  backward(ag::add(vm.var, vm.mean));
  // d var / dx = 2 (x - 3) / 4, d mean / dx = 1/4
  EXPECT_EQ(grad_of(x), (std::vector<double>{-0.75, -0.25, 0.25, 1.75}));
}

TEST(Reduce, CumsumGradientIsTheReverseCumsum) {
  Tensor x = leaf({1, 2, 3});
  backward(ag::cumsum(x, 0), kiln::tensor({1, 10, 100}, DType::f64));
  EXPECT_EQ(grad_of(x), (std::vector<double>{111, 110, 100}));
}

// PyTorch 1.13's gradient of (cumprod(x, 1) * w).sum(): a zero inside a row, two zeros (one
// first), a zero last.
TEST(Reduce, CumprodWithZerosMatchesPyTorch) {
  Tensor x = set_requires_grad(kiln::tensor({{2., 0., 3., 0.5, -1.}, {0., 4., 0., 2., 3.}, {1.5, -2., 3., 1., 0.}},
                                            DType::f64));
  Tensor w = kiln::tensor({{1., -2., 0.5, 3., 1.}, {2., 1., -1., 0.5, 2.}, {-1., 1., 2., -3., 0.5}}, DType::f64);
  backward(ag::sum(ag::mul(ag::cumprod(x, 1), w)));
  Tensor want = kiln::tensor({{1., 5., 0., 0., 0.}, {6., 0., 0., 0., 0.}, {3., -3., 3., 27., -4.5}}, DType::f64);
  EXPECT_TRUE(test::tensors_close(grad(x), want, 1e-12, 1e-12));
  EXPECT_TRUE(kiln::all(kiln::isfinite(grad(x))).item<bool>());
}

TEST(Reduce, NoGradRecordsNothing) {
  Tensor x = leaf({1, 2});
  NoGradGuard ng;
  EXPECT_FALSE(requires_grad(ag::sum(x)));
  EXPECT_FALSE(requires_grad(ag::max(x, 0).values));
  EXPECT_FALSE(requires_grad(ag::var_mean(x).mean));
}

}  // namespace
}  // namespace kiln::ag
