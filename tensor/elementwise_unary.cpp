// Unary elementwise ops and their in-place variants. Dtype rules: Note [Elementwise dtypes] in
// elementwise_common.cpp; formulas: kernels/scalar_ops.h.
#include <cmath>
#include <limits>

#include "kiln/tensor/creation.h"
#include "kiln/tensor/elementwise_impl.h"

namespace kiln {

using elementwise::UnaryKind;
using elementwise::unary;

namespace {

UnaryParams leaky_params(double slope) {
  UnaryParams p;
  p.f0 = slope;
  return p;
}
UnaryParams softplus_params(double beta, double threshold) {
  KILN_CHECK(beta != 0, "softplus: beta must be non-zero");
  UnaryParams p;
  p.f0 = beta;
  p.f1 = threshold;
  return p;
}
UnaryOp gelu_op(GeluApprox a) { return a == GeluApprox::tanh ? UnaryOp::gelu_tanh : UnaryOp::gelu; }

// isnan / isinf / isfinite of an integer tensor need no kernel: all false (or all true).
Tensor int_predicate(const char* op, UnaryOp uop, const Tensor& x, bool value) {
  check_defined(x, op, "input");
  if (is_floating(x.dtype())) return unary(op, uop, UnaryKind::predicate, x);
  return full(x.shape(), Scalar(value), DType::b8, x.device());
}

// clamp: the result dtype is promoted with the given bounds; absent bounds are infinite.
struct ClampPlan {
  DType dtype;
  UnaryParams p;
};
ClampPlan clamp_plan(const Tensor& x, const std::optional<Scalar>& lo, const std::optional<Scalar>& hi,
                     const char* op) {
  check_defined(x, op, "input");
  KILN_CHECK(lo || hi, op, ": at least one of min or max must be given");
  DType d = x.dtype();
  if (lo) d = promote_with_scalar(d, *lo);
  if (hi) d = promote_with_scalar(d, *hi);
  KILN_CHECK(d != DType::b8, op, ": not supported for bool tensors");
  UnaryParams p;
  p.f0 = lo ? lo->to_double() : -std::numeric_limits<double>::infinity();
  p.f1 = hi ? hi->to_double() : std::numeric_limits<double>::infinity();
  p.i0 = lo ? lo->to_int() : std::numeric_limits<int64_t>::lowest();
  p.i1 = hi ? hi->to_int() : std::numeric_limits<int64_t>::max();
  return {d, p};
}

// pow(x, scalar): exponents with exact cheaper forms become those ops (as PyTorch does).
Tensor pow_scalar(const Tensor& x, const Scalar& e, const Tensor* self) {
  const char* op = self ? "pow_" : "pow";
  check_defined(x, op, "input");
  const DType d = promote_with_scalar(x.dtype(), e);
  KILN_CHECK(d != DType::b8, op, ": not supported for bool tensors");
  const Tensor src = x.dtype() == d ? x : x.to(d);
  UnaryParams p;
  if (!is_floating(d)) {
    KILN_CHECK(e.to_int() >= 0, op, ": integers to negative integer powers are not allowed (exponent ",
               e.to_int(), ")");
    p.i0 = e.to_int();
    return unary(op, UnaryOp::pow_scalar, UnaryKind::numeric, src, p, self);
  }
  const double v = e.to_double();
  if (v == 0.0) {
    if (self) return fill_(*self, Scalar(int64_t(1)));
    return ones(x.shape(), d, x.device());
  }
  if (v == 1.0) {
    if (self) {
      elementwise::check_inplace(*self, d, op);
      return *self;
    }
    return src.is_same(x) ? x.clone() : src;
  }
  if (v == 2.0) return unary(op, UnaryOp::square, UnaryKind::numeric, src, {}, self);
  if (v == 0.5) return unary(op, UnaryOp::sqrt, UnaryKind::floating, src, {}, self);
  if (v == -0.5) return unary(op, UnaryOp::rsqrt, UnaryKind::floating, src, {}, self);
  if (v == -1.0) return unary(op, UnaryOp::reciprocal, UnaryKind::floating, src, {}, self);
  p.f0 = v;
  return unary(op, UnaryOp::pow_scalar, UnaryKind::floating, src, p, self);
}

}  // namespace

// ---- out of place
Tensor neg(const Tensor& x) {
  KILN_CHECK(!x.defined() || x.dtype() != DType::b8,
             "neg: negation, the `-` operator, on a bool tensor is not supported; use logical_not instead");
  return unary("neg", UnaryOp::neg, UnaryKind::numeric, x);
}
Tensor abs(const Tensor& x) { return unary("abs", UnaryOp::abs, UnaryKind::numeric, x); }
Tensor sign(const Tensor& x) { return unary("sign", UnaryOp::sign, UnaryKind::any, x); }
Tensor exp(const Tensor& x) { return unary("exp", UnaryOp::exp, UnaryKind::floating, x); }
Tensor log(const Tensor& x) { return unary("log", UnaryOp::log, UnaryKind::floating, x); }
Tensor log1p(const Tensor& x) { return unary("log1p", UnaryOp::log1p, UnaryKind::floating, x); }
Tensor expm1(const Tensor& x) { return unary("expm1", UnaryOp::expm1, UnaryKind::floating, x); }
Tensor sqrt(const Tensor& x) { return unary("sqrt", UnaryOp::sqrt, UnaryKind::floating, x); }
Tensor rsqrt(const Tensor& x) { return unary("rsqrt", UnaryOp::rsqrt, UnaryKind::floating, x); }
Tensor reciprocal(const Tensor& x) { return unary("reciprocal", UnaryOp::reciprocal, UnaryKind::floating, x); }
Tensor square(const Tensor& x) {
  check_defined(x, "square", "input");
  return unary("square", UnaryOp::square, UnaryKind::numeric, x.dtype() == DType::b8 ? x.to(DType::i64) : x);
}
Tensor sin(const Tensor& x) { return unary("sin", UnaryOp::sin, UnaryKind::floating, x); }
Tensor cos(const Tensor& x) { return unary("cos", UnaryOp::cos, UnaryKind::floating, x); }
Tensor tanh(const Tensor& x) { return unary("tanh", UnaryOp::tanh, UnaryKind::floating, x); }
Tensor sigmoid(const Tensor& x) { return unary("sigmoid", UnaryOp::sigmoid, UnaryKind::floating, x); }
Tensor erf(const Tensor& x) { return unary("erf", UnaryOp::erf, UnaryKind::floating, x); }
Tensor erfc(const Tensor& x) { return unary("erfc", UnaryOp::erfc, UnaryKind::floating, x); }
Tensor relu(const Tensor& x) { return unary("relu", UnaryOp::relu, UnaryKind::numeric, x); }
Tensor leaky_relu(const Tensor& x, double negative_slope) {
  return unary("leaky_relu", UnaryOp::leaky_relu, UnaryKind::floating, x, leaky_params(negative_slope));
}
Tensor gelu(const Tensor& x, GeluApprox approximate) {
  return unary("gelu", gelu_op(approximate), UnaryKind::floating, x);
}
Tensor silu(const Tensor& x) { return unary("silu", UnaryOp::silu, UnaryKind::floating, x); }
Tensor mish(const Tensor& x) { return unary("mish", UnaryOp::mish, UnaryKind::floating, x); }
Tensor softplus(const Tensor& x, double beta, double threshold) {
  return unary("softplus", UnaryOp::softplus, UnaryKind::floating, x, softplus_params(beta, threshold));
}
Tensor floor(const Tensor& x) { return unary("floor", UnaryOp::floor, UnaryKind::numeric, x); }
Tensor ceil(const Tensor& x) { return unary("ceil", UnaryOp::ceil, UnaryKind::numeric, x); }
Tensor round(const Tensor& x) { return unary("round", UnaryOp::round, UnaryKind::numeric, x); }
Tensor clamp(const Tensor& x, std::optional<Scalar> min, std::optional<Scalar> max) {
  ClampPlan c = clamp_plan(x, min, max, "clamp");
  return unary("clamp", UnaryOp::clamp, UnaryKind::numeric, x.dtype() == c.dtype ? x : x.to(c.dtype), c.p);
}
Tensor clamp_min(const Tensor& x, Scalar min) { return clamp(x, min, std::nullopt); }
Tensor clamp_max(const Tensor& x, Scalar max) { return clamp(x, std::nullopt, max); }
Tensor pow(const Tensor& x, Scalar exponent) { return pow_scalar(x, exponent, nullptr); }
Tensor isnan(const Tensor& x) { return int_predicate("isnan", UnaryOp::isnan, x, false); }
Tensor isinf(const Tensor& x) { return int_predicate("isinf", UnaryOp::isinf, x, false); }
Tensor isfinite(const Tensor& x) { return int_predicate("isfinite", UnaryOp::isfinite, x, true); }
Tensor logical_not(const Tensor& x) { return unary("logical_not", UnaryOp::logical_not, UnaryKind::truth, x); }

// ---- in place
Tensor neg_(const Tensor& self) {
  KILN_CHECK(!self.defined() || self.dtype() != DType::b8,
             "neg_: negation on a bool tensor is not supported; use logical_not instead");
  return unary("neg_", UnaryOp::neg, UnaryKind::numeric, self, {}, &self);
}
Tensor abs_(const Tensor& self) { return unary("abs_", UnaryOp::abs, UnaryKind::numeric, self, {}, &self); }
Tensor sign_(const Tensor& self) { return unary("sign_", UnaryOp::sign, UnaryKind::any, self, {}, &self); }
Tensor exp_(const Tensor& self) { return unary("exp_", UnaryOp::exp, UnaryKind::floating, self, {}, &self); }
Tensor log_(const Tensor& self) { return unary("log_", UnaryOp::log, UnaryKind::floating, self, {}, &self); }
Tensor log1p_(const Tensor& self) { return unary("log1p_", UnaryOp::log1p, UnaryKind::floating, self, {}, &self); }
Tensor expm1_(const Tensor& self) { return unary("expm1_", UnaryOp::expm1, UnaryKind::floating, self, {}, &self); }
Tensor sqrt_(const Tensor& self) { return unary("sqrt_", UnaryOp::sqrt, UnaryKind::floating, self, {}, &self); }
Tensor rsqrt_(const Tensor& self) { return unary("rsqrt_", UnaryOp::rsqrt, UnaryKind::floating, self, {}, &self); }
Tensor reciprocal_(const Tensor& self) {
  return unary("reciprocal_", UnaryOp::reciprocal, UnaryKind::floating, self, {}, &self);
}
Tensor square_(const Tensor& self) {
  return unary("square_", UnaryOp::square, UnaryKind::numeric, self, {}, &self);
}
Tensor sin_(const Tensor& self) { return unary("sin_", UnaryOp::sin, UnaryKind::floating, self, {}, &self); }
Tensor cos_(const Tensor& self) { return unary("cos_", UnaryOp::cos, UnaryKind::floating, self, {}, &self); }
Tensor tanh_(const Tensor& self) { return unary("tanh_", UnaryOp::tanh, UnaryKind::floating, self, {}, &self); }
Tensor sigmoid_(const Tensor& self) {
  return unary("sigmoid_", UnaryOp::sigmoid, UnaryKind::floating, self, {}, &self);
}
Tensor erf_(const Tensor& self) { return unary("erf_", UnaryOp::erf, UnaryKind::floating, self, {}, &self); }
Tensor erfc_(const Tensor& self) { return unary("erfc_", UnaryOp::erfc, UnaryKind::floating, self, {}, &self); }
Tensor relu_(const Tensor& self) { return unary("relu_", UnaryOp::relu, UnaryKind::numeric, self, {}, &self); }
Tensor leaky_relu_(const Tensor& self, double negative_slope) {
  return unary("leaky_relu_", UnaryOp::leaky_relu, UnaryKind::floating, self, leaky_params(negative_slope), &self);
}
Tensor gelu_(const Tensor& self, GeluApprox approximate) {
  return unary("gelu_", gelu_op(approximate), UnaryKind::floating, self, {}, &self);
}
Tensor silu_(const Tensor& self) { return unary("silu_", UnaryOp::silu, UnaryKind::floating, self, {}, &self); }
Tensor mish_(const Tensor& self) { return unary("mish_", UnaryOp::mish, UnaryKind::floating, self, {}, &self); }
Tensor softplus_(const Tensor& self, double beta, double threshold) {
  return unary("softplus_", UnaryOp::softplus, UnaryKind::floating, self, softplus_params(beta, threshold), &self);
}
Tensor floor_(const Tensor& self) { return unary("floor_", UnaryOp::floor, UnaryKind::numeric, self, {}, &self); }
Tensor ceil_(const Tensor& self) { return unary("ceil_", UnaryOp::ceil, UnaryKind::numeric, self, {}, &self); }
Tensor round_(const Tensor& self) { return unary("round_", UnaryOp::round, UnaryKind::numeric, self, {}, &self); }
Tensor clamp_(const Tensor& self, std::optional<Scalar> min, std::optional<Scalar> max) {
  ClampPlan c = clamp_plan(self, min, max, "clamp_");
  elementwise::check_inplace(self, c.dtype, "clamp_");
  const Tensor src = self.dtype() == c.dtype ? self : self.to(c.dtype);
  return unary("clamp_", UnaryOp::clamp, UnaryKind::numeric, src, c.p, &self);
}
Tensor pow_(const Tensor& self, Scalar exponent) { return pow_scalar(self, exponent, &self); }

}  // namespace kiln
