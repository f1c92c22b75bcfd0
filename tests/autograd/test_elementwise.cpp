// Behaviour of the differentiable elementwise ops and operators beyond the gradient checks:
// Note [Differentiable operators], f32 gradients, no_grad, PyTorch's choices at kinks and ties.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "kiln/autograd/ops.h"
#include "kiln/tensor/ops.h"
#include "support/fixtures.h"

namespace kiln::ag {
namespace {

Tensor leaf(std::initializer_list<double> v, DType dt = DType::f64) { return set_requires_grad(kiln::tensor(v, dt)); }
std::vector<double> grad_of(const Tensor& t) { return grad(t).to(DType::f64).to_vector<double>(); }

TEST(Operators, RecordAGraphWithTheRightGradients) {
  Tensor a = leaf({1, 2, 3}), b = leaf({4, 5, 6}), c = leaf({0.5});
  Tensor y = a * b + c;  // the differentiable operators (operators.h is included through ops.h)
  ASSERT_TRUE(requires_grad(y));
  ASSERT_NE(grad_fn(y), nullptr);
  EXPECT_EQ(grad_fn(y)->name, "add");
  backward(ag::sum(y));
  EXPECT_EQ(grad_of(a), (std::vector<double>{4, 5, 6}));
  EXPECT_EQ(grad_of(b), (std::vector<double>{1, 2, 3}));
  EXPECT_EQ(grad_of(c), (std::vector<double>{3}));  // broadcast: summed back to c's shape
}

TEST(Operators, ScalarFormsNegationAndDivision) {
  Tensor x = leaf({1, 2});
  Tensor y = (2.0 * x - 1.0) / 4.0 + 3.0 / x - (-x) + (1.0 - x) * 2.0;
  // dy/dx = 2/4 - 3/x^2 + 1 - 2
  backward(ag::sum(y));
  EXPECT_NEAR(grad_of(x)[0], 0.5 - 3.0 + 1 - 2, 1e-12);
  EXPECT_NEAR(grad_of(x)[1], 0.5 - 0.75 + 1 - 2, 1e-12);
}

TEST(Operators, CompoundAssignmentRefusesTensorsThatRequireGrad) {
  Tensor a = leaf({1, 2});
  Tensor b = kiln::tensor({1, 1}, DType::f64);
  EXPECT_KILN_ERROR(a += b, "use a = a + b");
  EXPECT_KILN_ERROR(b *= a, "in-place ops on tensors that require grad");
  EXPECT_KILN_ERROR(a -= 1.0, "not supported");
  EXPECT_KILN_ERROR(a /= 2.0, "not supported");
  // Outside the graph they are the raw in-place ops (optimizer updates, buffers).
  b += b;
  b *= 3.0;
  EXPECT_EQ(b.to_vector<double>(), (std::vector<double>{6, 6}));
  {
    NoGradGuard ng;
    a -= b;  // an update of a parameter under no_grad
  }
  EXPECT_EQ(a.to_vector<double>(), (std::vector<double>{-5, -4}));
  EXPECT_TRUE(requires_grad(a));
}

TEST(Elementwise, F32InputsGetF32Gradients) {
  Tensor x = leaf({0.5, -1.5, 2}, DType::f32);
  Tensor w = leaf({2, 3, 4}, DType::f64);
  backward(ag::sum(ag::mul(ag::tanh(x), w)));  // f32 * f64 -> f64 graph
  EXPECT_EQ(grad(x).dtype(), DType::f32);
  EXPECT_EQ(grad(w).dtype(), DType::f64);
  const auto g = grad(x).to_vector<float>();
  for (int i = 0; i < 3; ++i) {
    const double xv = std::vector<double>{0.5, -1.5, 2}[i], wv = 2 + i;
    EXPECT_NEAR(g[i], wv * (1 - std::tanh(xv) * std::tanh(xv)), 1e-6);
  }
}

// Exact gelu's gradient Phi(x) + x phi(x) against a long double reference, at points where
// recovering Phi from the forward result (y / x) fails (subnormal x: x Phi(x) rounds to 0) or
// where (1 + erf(x / sqrt2)) / 2 would cancel (x = -10: Phi ~ 7.6e-24).
TEST(Elementwise, GeluGradientExactAtZeroTinyAndLargeInputs) {
  const double tiny = std::numeric_limits<double>::denorm_min();
  const std::vector<double> xs{0.0, tiny, -tiny, 1e-300, -10, -40, 3, 40};
  Tensor x = set_requires_grad(kiln::from_vector(xs, {int64_t(xs.size())}));
  backward(ag::sum(ag::gelu(x)));
  const auto g = grad(x).to_vector<double>();
  for (size_t i = 0; i < xs.size(); ++i) {
    const long double v = xs[i];
    const long double cdf = 0.5L * std::erfc(-v / std::sqrt(2.0L));
    const long double pdf = std::exp(-v * v / 2) / std::sqrt(2 * 3.14159265358979323846L);
    const double want = double(cdf + v * pdf);
    EXPECT_NEAR(g[i], want, 1e-12 * std::fabs(want) + 1e-320) << "x = " << xs[i];
  }
  EXPECT_EQ(g[0], 0.5);
  EXPECT_EQ(g[1], 0.5);
  // f32: the smallest subnormal
  Tensor xf = set_requires_grad(kiln::from_vector(std::vector<float>{1e-45f, -1e-45f}, {2}));
  backward(ag::sum(ag::gelu(xf)));
  EXPECT_EQ(grad(xf).to_vector<float>(), (std::vector<float>{0.5f, 0.5f}));
}

TEST(Elementwise, ErfAndErfcGradients) {
  Tensor x = leaf({-2, -0.3, 0, 0.7, 4});
  backward(ag::sum(ag::add(ag::erf(x), ag::mul(ag::erfc(x), 3.0))));
  const auto g = grad(x).to_vector<double>();
  const double xv[] = {-2, -0.3, 0, 0.7, 4};
  for (int i = 0; i < 5; ++i) EXPECT_NEAR(g[i], -2 * M_2_SQRTPI * std::exp(-xv[i] * xv[i]), 1e-14) << i;
}

TEST(Elementwise, NoGradRecordsNothing) {
  Tensor x = leaf({1, 2});
  NoGradGuard ng;
  Tensor y = ag::exp(ag::add(x, x));
  Tensor z = x * x;
  EXPECT_FALSE(requires_grad(y));
  EXPECT_FALSE(requires_grad(z));
  EXPECT_EQ(grad_fn(y), nullptr);
  EXPECT_NEAR(y.to_vector<double>()[1], std::exp(4.0), 1e-9);
}

TEST(Elementwise, InputsWithoutGradRecordNothing) {
  Tensor x = kiln::tensor({1, 2}, DType::f64);
  EXPECT_FALSE(requires_grad(ag::sigmoid(x)));
  EXPECT_FALSE(requires_grad(x * 2.0));
  // One operand requiring grad is enough; the other gets no gradient.
  Tensor w = leaf({3, 4});
  backward(ag::sum(ag::mul(x, w)));
  EXPECT_EQ(grad_of(w), (std::vector<double>{1, 2}));
  EXPECT_FALSE(grad(x).defined());
}

TEST(Elementwise, KinksFollowPyTorch) {
  Tensor x = leaf({-1, 0, 2});
  backward(ag::sum(ag::relu(x)));
  EXPECT_EQ(grad_of(x), (std::vector<double>{0, 0, 1}));
  set_grad(x, {});
  backward(ag::sum(ag::abs(x)));
  EXPECT_EQ(grad_of(x), (std::vector<double>{-1, 0, 1}));
  set_grad(x, {});
  backward(ag::sum(ag::sign(x)));
  EXPECT_EQ(grad_of(x), (std::vector<double>{0, 0, 0}));
  set_grad(x, {});
  // clamp: the gradient passes at the bounds themselves
  backward(ag::sum(ag::clamp(x, 0.0, 2.0)));
  EXPECT_EQ(grad_of(x), (std::vector<double>{0, 1, 1}));
  set_grad(x, {});
  backward(ag::sum(ag::clamp_min(x, 0.0)));
  EXPECT_EQ(grad_of(x), (std::vector<double>{0, 1, 1}));
  set_grad(x, {});
  backward(ag::sum(ag::gelu(x)));  // gelu'(0) = 1/2
  EXPECT_NEAR(grad_of(x)[1], 0.5, 1e-12);
}

TEST(Elementwise, MinimumMaximumSplitTies) {
  Tensor a = leaf({1, 5, 3}), b = leaf({2, 4, 3});
  backward(ag::sum(ag::maximum(a, b)));
  EXPECT_EQ(grad_of(a), (std::vector<double>{0, 1, 0.5}));
  EXPECT_EQ(grad_of(b), (std::vector<double>{1, 0, 0.5}));
  set_grad(a, {});
  set_grad(b, {});
  backward(ag::sum(ag::minimum(a, b)));
  EXPECT_EQ(grad_of(a), (std::vector<double>{1, 0, 0.5}));
  EXPECT_EQ(grad_of(b), (std::vector<double>{0, 1, 0.5}));
}

TEST(Elementwise, WhereRoutesTheGradient) {
  Tensor cond = kiln::tensor({1, 0, 1}, DType::b8);
  Tensor a = leaf({1, 2, 3}), b = leaf({7});
  backward(ag::sum(ag::where(cond, a, b)));
  EXPECT_EQ(grad_of(a), (std::vector<double>{1, 0, 1}));
  EXPECT_EQ(grad_of(b), (std::vector<double>{1}));
}

TEST(Elementwise, PowAtZeroBase) {
  // d/db 0^b is taken as 0 for b >= 0 (not NaN); d/da a^0 = 0.
  Tensor a = leaf({0, 2}), b = leaf({2, 0});
  backward(ag::sum(ag::pow(a, b)));
  EXPECT_EQ(grad_of(a), (std::vector<double>{0, 0}));
  EXPECT_EQ(grad_of(b)[0], 0.0);
  EXPECT_NEAR(grad_of(b)[1], std::log(2.0), 1e-12);
}

TEST(Elementwise, SavedInputModifiedInPlaceIsAnError) {
  Tensor x = leaf({1, 2});
  Tensor w = kiln::tensor({3, 4}, DType::f64);
  Tensor y = ag::mul(x, w);
  kiln::add_(w, 1.0);
  EXPECT_KILN_ERROR(backward(ag::sum(y)), "modified in place");
}

}  // namespace
}  // namespace kiln::ag
