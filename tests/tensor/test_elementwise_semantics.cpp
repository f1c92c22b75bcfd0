// Elementwise ops beyond the op table: dtype promotion, in-place variants and their rules,
// operators, special values, golden fixtures from PyTorch, and misuse.
#include <cmath>
#include <limits>

#include "support/fixtures.h"

namespace kiln::test {
namespace {

Tensor vals(std::initializer_list<double> v, DType d = DType::f32) { return tensor(v, d); }

TEST(ElementwisePromotion, BinaryResultDtypes) {
  Tensor i32 = vals({1, 2}, DType::i32), f32 = vals({1, 2}), u8 = vals({1, 2}, DType::u8),
         i64 = vals({1, 2}, DType::i64), f16 = vals({1, 2}, DType::f16), bf16 = vals({1, 2}, DType::bf16),
         b = vals({1, 0}, DType::b8);
  EXPECT_EQ((i32 + f32).dtype(), DType::f32);
  EXPECT_EQ((u8 + i64).dtype(), DType::i64);
  EXPECT_EQ((f16 + bf16).dtype(), DType::f32);
  EXPECT_EQ((i32 + 2.5).dtype(), DType::f32);
  EXPECT_EQ((f16 + 2.5).dtype(), DType::f16);
  EXPECT_EQ((u8 + 300).dtype(), DType::u8);
  EXPECT_EQ((b + b).dtype(), DType::b8);
  EXPECT_EQ((b + 1).dtype(), DType::i64);
  EXPECT_EQ((b * b).dtype(), DType::b8);
  EXPECT_EQ((i32 / i32).dtype(), DType::f32);
  EXPECT_EQ((u8 / 2).dtype(), DType::f32);
  EXPECT_EQ((f16 / f16).dtype(), DType::f16);
  EXPECT_EQ((i32 < f32).dtype(), DType::b8);
  EXPECT_EQ(logical_and(i32, f32).dtype(), DType::b8);
  EXPECT_EQ(where(b, i32, f16).dtype(), DType::f16);
  EXPECT_EQ(where(b, i32, 2.5).dtype(), DType::f32);
  EXPECT_EQ(where(b, 1, i64).dtype(), DType::i64);
  EXPECT_TRUE(tensors_equal(b + b, vals({1, 0}, DType::b8)));
  EXPECT_TRUE(tensors_equal(i32 + f32, vals({2, 4})));
  // The scalar stays f32 for a f16 tensor (as PyTorch): 1 + 1e-4 computed in f32, then rounded.
  EXPECT_EQ((vals({2048}, DType::f16) + 1.0).item<float>(), 2048.0f);
  EXPECT_EQ((vals({2048}, DType::f16) + 1.5).item<float>(), 2050.0f);
}

TEST(ElementwisePromotion, UnaryResultDtypes) {
  Tensor i32 = vals({1, 4}, DType::i32), u8 = vals({1, 4}, DType::u8), b = vals({1, 0}, DType::b8);
  for (auto f : {exp, log, sqrt, sigmoid, tanh, sin}) EXPECT_EQ(f(i32).dtype(), DType::f32);
  EXPECT_EQ(sqrt(vals({4}, DType::f64)).dtype(), DType::f64);
  EXPECT_EQ(abs(i32).dtype(), DType::i32);
  EXPECT_EQ(neg(i32).dtype(), DType::i32);
  EXPECT_EQ(sign(i32).dtype(), DType::i32);
  EXPECT_EQ(relu(u8).dtype(), DType::u8);
  EXPECT_EQ(floor(i32).dtype(), DType::i32);
  EXPECT_EQ(clamp(i32, Scalar(0), Scalar(2)).dtype(), DType::i32);
  EXPECT_EQ(clamp(i32, Scalar(0.5), std::nullopt).dtype(), DType::f32);
  EXPECT_EQ(square(b).dtype(), DType::i64);
  EXPECT_EQ(pow(i32, 2).dtype(), DType::i32);
  EXPECT_EQ(pow(i32, 0.5).dtype(), DType::f32);
  EXPECT_EQ(isnan(i32).dtype(), DType::b8);
  EXPECT_EQ(logical_not(i32).dtype(), DType::b8);
  EXPECT_TRUE(tensors_equal(sqrt(i32), vals({1, 2})));
  EXPECT_TRUE(tensors_equal(pow(i32, 3), vals({1, 64}, DType::i32)));
}

TEST(ElementwiseSpecialValues, NanInfAndSignedZero) {
  const double inf = std::numeric_limits<double>::infinity(), nan = std::nan("");
  for (DType d : {DType::f32, DType::f64}) {
    SCOPED_TRACE(dtype_name(d));
    Tensor x = vals({-inf, -1, -0.0, 0, 1, inf, nan}, d);
    EXPECT_TRUE(tensors_close(exp(x), vals({0, std::exp(-1.0), 1, 1, std::exp(1.0), inf, nan}, DType::f64)));
    EXPECT_TRUE(tensors_close(log(x), vals({nan, nan, -inf, -inf, 0, inf, nan}, DType::f64)));
    EXPECT_TRUE(tensors_close(tanh(x), vals({-1, std::tanh(-1.0), 0, 0, std::tanh(1.0), 1, nan}, DType::f64)));
    EXPECT_TRUE(tensors_close(sigmoid(x), vals({0, 1 / (1 + std::exp(1.0)), 0.5, 0.5, 1 / (1 + std::exp(-1.0)), 1, nan},
                                               DType::f64)));
    EXPECT_TRUE(tensors_close(relu(x), vals({0, 0, 0, 0, 1, inf, nan}, DType::f64)));
    EXPECT_TRUE(tensors_equal(isnan(x), vals({0, 0, 0, 0, 0, 0, 1}, DType::b8)));
    EXPECT_TRUE(tensors_equal(isinf(x), vals({1, 0, 0, 0, 0, 1, 0}, DType::b8)));
    EXPECT_TRUE(tensors_equal(isfinite(x), vals({0, 1, 1, 1, 1, 0, 0}, DType::b8)));
    EXPECT_TRUE(tensors_equal(sign(x), vals({-1, -1, 0, 0, 1, 1, 0}, d)));
    EXPECT_TRUE(tensors_close(clamp(x, Scalar(-0.5), Scalar(0.5)), vals({-0.5, -0.5, 0, 0, 0.5, 0.5, nan}, DType::f64)));
    EXPECT_TRUE(tensors_close(maximum(x, vals({0}, d)), vals({0, 0, 0, 0, 1, inf, nan}, DType::f64)));
    EXPECT_TRUE(tensors_close(minimum(vals({0}, d), x), vals({-inf, -1, 0, 0, 0, 0, nan}, DType::f64)));
    // gelu(-inf) = -inf * 0 is NaN, as in PyTorch.
    EXPECT_TRUE(tensors_close(gelu(x), vals({nan, -0.15865525393145707, 0, 0, 0.8413447460685429, inf, nan}, DType::f64)));
  }
  // Huge f32 arguments of sin / cos go through libm (vec_math's reduction stops at 1e6).
  Tensor big = vals({1e7, -3.0e10, 1e38});
  auto bv = big.to_vector<float>();
  auto s = sin(big).to_vector<float>(), c = cos(big).to_vector<float>();
  for (size_t i = 0; i < bv.size(); ++i) {
    EXPECT_NEAR(s[i], std::sin(double(bv[i])), 1e-7);
    EXPECT_NEAR(c[i], std::cos(double(bv[i])), 1e-7);
  }
}

TEST(ElementwiseInplace, WritesIntoSelfAndBumpsVersion) {
  Tensor x = vals({1, -2, 3});
  Tensor alias = x;
  uint64_t v0 = x.version();
  Tensor r = add_(x, vals({1, 1, 1}), 2);
  EXPECT_TRUE(r.is_same(x));
  EXPECT_GT(x.version(), v0);
  EXPECT_TRUE(tensors_equal(alias, vals({3, 0, 5})));
  sub_(x, 1);
  mul_(x, vals({2}));
  div_(x, 4);
  EXPECT_TRUE(tensors_equal(x, vals({1, -0.5, 2})));
  relu_(x);
  EXPECT_TRUE(tensors_equal(x, vals({1, 0, 2})));
  clamp_(x, Scalar(0.5), Scalar(1.5));
  EXPECT_TRUE(tensors_equal(x, vals({1, 0.5, 1.5})));
  neg_(x);
  exp_(x);
  EXPECT_TRUE(tensors_close(x, vals({std::exp(-1.0), std::exp(-0.5), std::exp(-1.5)}, DType::f64)));
  uint64_t v1 = x.version();
  zero_(x);
  EXPECT_GT(x.version(), v1);
  EXPECT_TRUE(tensors_equal(x, vals({0, 0, 0})));
  fill_(x, 2.5);
  EXPECT_TRUE(tensors_equal(x, vals({2.5, 2.5, 2.5})));
  pow_(x, 2);
  sigmoid_(tanh_(sqrt_(x)));
  EXPECT_TRUE(tensors_close(x, vals({1 / (1 + std::exp(-std::tanh(2.5))), 1 / (1 + std::exp(-std::tanh(2.5))),
                                     1 / (1 + std::exp(-std::tanh(2.5)))}, DType::f64)));
  // Operators.
  Tensor y = vals({1, 2});
  y += vals({1, 1});
  y -= 0.5;
  y *= 4;
  y /= vals({2, 2.5});
  EXPECT_TRUE(tensors_equal(y, vals({3, 4})));
}

TEST(ElementwiseInplace, StridedSelfAndCastIntoSelf) {
  // In place into a non-contiguous view writes only the view's elements.
  Tensor base = zeros({3, 4});
  Tensor col = base.select(1, 2);
  add_(col, vals({1, 2, 3}));
  gelu_(col);
  fill_(base.select(1, 0), 7);
  auto v = base.to_vector<float>();
  EXPECT_EQ(v[0], 7.0f);
  EXPECT_NEAR(v[2], 0.8413447f, 1e-6);
  EXPECT_NEAR(v[10], 3 * 0.99865010f, 1e-5);
  EXPECT_EQ(v[1], 0.0f);
  // An f16 tensor updated with an f32 one: computed in f32, written back as f16.
  Tensor h = vals({1, 2}, DType::f16);
  add_(h, vals({0.25f, 0.5f}));
  EXPECT_EQ(h.dtype(), DType::f16);
  EXPECT_TRUE(tensors_equal(h, vals({1.25, 2.5})));
  // An int tensor may take an int result.
  Tensor i = vals({1, 2}, DType::i32);
  mul_(i, vals({3, 4}, DType::i64));
  EXPECT_EQ(i.dtype(), DType::i32);
  EXPECT_TRUE(tensors_equal(i, vals({3, 8}, DType::i32)));
  Tensor bl = vals({1, 0}, DType::b8);
  fill_(bl, 0.0);
  EXPECT_TRUE(tensors_equal(bl, vals({0, 0}, DType::b8)));
}

TEST(ElementwiseGolden, MatchesTorch) {
  auto f = load_fixture("elementwise");
  const Tensor& x = f.at("x");
  for (DType d : {DType::f32, DType::f64}) {
    SCOPED_TRACE(dtype_name(d));
    Tensor xd = x.to(d);
    EXPECT_TRUE(tensors_close(gelu(xd), f.at("gelu"), 1e-5, 1e-6));
    EXPECT_TRUE(tensors_close(gelu(xd, GeluApprox::tanh), f.at("gelu_tanh"), 1e-5, 1e-6));
    EXPECT_TRUE(tensors_close(mish(xd), f.at("mish"), 1e-5, 1e-6));
    EXPECT_TRUE(tensors_close(softplus(xd), f.at("softplus"), 1e-5, 1e-6));
    EXPECT_TRUE(tensors_close(softplus(xd, fixture_scalar(f, "beta"), fixture_scalar(f, "threshold")),
                              f.at("softplus_beta"), 1e-5, 1e-6));
    EXPECT_TRUE(tensors_equal(round(f.at("round_x").to(d)), f.at("round")));
  }
  // Half precision: the same values rounded once.
  EXPECT_TRUE(tensors_close(gelu(x.to(DType::f16)), f.at("gelu_f16"), 1e-3, 1e-4));
  EXPECT_TRUE(tensors_equal(round(f.at("round_half_x").to(DType::f16)), f.at("round_half")));
  EXPECT_TRUE(tensors_equal(round(f.at("round_half_x").to(DType::bf16)), f.at("round_half")));
}

TEST(ElementwiseMisuse, ClearErrors) {
  Tensor a = zeros({2, 3}), b = zeros({4}), i = zeros({2, 3}, DType::i32), bl = zeros({3}, DType::b8);
  EXPECT_KILN_ERROR(add(a, b), "add");
  EXPECT_KILN_ERROR(a * b, "mul");
  EXPECT_KILN_ERROR(where(zeros({2, 3}, DType::b8), a, b), "where");
  EXPECT_KILN_ERROR(where(a, a, a), "bool");
  EXPECT_KILN_ERROR(add_(ones({3}).expand({2, 3}), a), "expanded");
  EXPECT_KILN_ERROR(relu_(ones({3}).expand({2, 3})), "expanded");
  EXPECT_KILN_ERROR(add_(zeros({1, 3}), a), "doesn't match the broadcast shape");
  EXPECT_KILN_ERROR(add_(i, a), "can't be cast");
  EXPECT_KILN_ERROR(add_(i, 2.5), "can't be cast");
  EXPECT_KILN_ERROR(div_(i, 2), "can't be cast");
  EXPECT_KILN_ERROR(exp_(i), "can't be cast");
  EXPECT_KILN_ERROR(clamp_(i, Scalar(0.5), std::nullopt), "can't be cast");
  EXPECT_KILN_ERROR(add_(bl, bl + 1), "can't be cast");
  EXPECT_KILN_ERROR(sub(bl, bl), "two bool tensors");
  EXPECT_KILN_ERROR(bl - 1, "bool tensor");
  EXPECT_KILN_ERROR(-bl, "bool");
  EXPECT_KILN_ERROR(add(i, i, 0.5), "alpha");
  EXPECT_KILN_ERROR(clamp(a, std::nullopt, std::nullopt), "at least one");
  EXPECT_KILN_ERROR(pow(i, -1), "negative integer powers");
  EXPECT_KILN_ERROR(relu(bl), "bool");
  EXPECT_KILN_ERROR(exp(Tensor()), "undefined");
  EXPECT_KILN_ERROR(add(a, Tensor()), "undefined");
  EXPECT_KILN_ERROR(softplus(a, 0), "beta");
}

}  // namespace
}  // namespace kiln::test
