#pragma once
// Elementwise ops: unary math and activations, binary arithmetic / comparisons / logic with numpy
// broadcasting, where, in-place variants and the C++ operators.
//
// Result dtypes (Note [Elementwise dtypes], tensor/elementwise_common.cpp):
// - binary ops promote their operands with promote_types / promote_with_scalar (tensor/dtype.h):
//   i32 + f32 -> f32, u8 + i64 -> i64, f16 + bf16 -> f32, int tensor + 2.5 -> f32,
//   f16 tensor + 2.5 -> f16; div is true division (integers give f32); comparisons and logical
//   ops give bool.
// - floating functions (exp, log, sqrt, sin, tanh, sigmoid, gelu, ...) give f32 for integer or
//   bool inputs; neg, abs, sign, relu, clamp, floor, ceil, round, square keep integer dtypes;
//   isnan / isinf / isfinite / logical_not give bool.
// - f16 / bf16 are computed in f32 and rounded once.
// In-place variants (name_) write into their first argument, which must not be an expanded view;
// the result dtype must be castable to its dtype like PyTorch (a floating result cannot go into
// an integer tensor, nor a non-bool one into a bool tensor), and its shape must be the broadcast
// shape. They bump the storage version and return the first argument.
#include <optional>

#include "kiln/tensor/tensor.h"

namespace kiln {

// ---- unary (any shape; output has the input's shape)
Tensor neg(const Tensor& x);  // not for bool
Tensor abs(const Tensor& x);  // not for bool
Tensor sign(const Tensor& x);  // -1, 0, 1 (0 for NaN)
Tensor exp(const Tensor& x);
Tensor log(const Tensor& x);
Tensor log1p(const Tensor& x);
Tensor expm1(const Tensor& x);
Tensor sqrt(const Tensor& x);
Tensor rsqrt(const Tensor& x);
Tensor reciprocal(const Tensor& x);
Tensor square(const Tensor& x);  // bool gives i64, as pow(x, 2)
Tensor sin(const Tensor& x);
Tensor cos(const Tensor& x);
Tensor tanh(const Tensor& x);
Tensor sigmoid(const Tensor& x);
Tensor erf(const Tensor& x);   // 2/sqrt(pi) integral_0^x exp(-t^2) dt
Tensor erfc(const Tensor& x);  // 1 - erf(x), without the cancellation for large x
Tensor relu(const Tensor& x);  // not for bool
Tensor leaky_relu(const Tensor& x, double negative_slope = 0.01);
enum class GeluApprox { none, tanh };
// x Phi(x) with the exact normal CDF (none) or its tanh approximation.
Tensor gelu(const Tensor& x, GeluApprox approximate = GeluApprox::none);
Tensor silu(const Tensor& x);  // x sigmoid(x)
Tensor mish(const Tensor& x);  // x tanh(softplus(x))
// log(1 + exp(beta x)) / beta, and x where beta x > threshold.
Tensor softplus(const Tensor& x, double beta = 1, double threshold = 20);
Tensor floor(const Tensor& x);
Tensor ceil(const Tensor& x);
Tensor round(const Tensor& x);  // half to even
// min(max(x, min), max); at least one bound must be given; min > max gives max everywhere.
// The result dtype is promoted with the bounds (an integer tensor with a float bound gives f32).
Tensor clamp(const Tensor& x, std::optional<Scalar> min, std::optional<Scalar> max);
Tensor clamp_min(const Tensor& x, Scalar min);
Tensor clamp_max(const Tensor& x, Scalar max);
// x^exponent; dtype promote_with_scalar(x, exponent). Integer tensors refuse negative integer
// exponents. Exponents 0, 1, 2, 0.5, -0.5, -1 take exact cheaper paths (ones, copy, square,
// sqrt, rsqrt, reciprocal).
Tensor pow(const Tensor& x, Scalar exponent);
Tensor isnan(const Tensor& x);
Tensor isinf(const Tensor& x);
Tensor isfinite(const Tensor& x);
Tensor logical_not(const Tensor& x);

// ---- binary (numpy broadcasting of the two shapes)
// a + alpha b. Bool tensors need a bool alpha, integer results an integer (or bool) alpha.
Tensor add(const Tensor& a, const Tensor& b, Scalar alpha = 1);
Tensor add(const Tensor& a, Scalar b, Scalar alpha = 1);
Tensor add(Scalar a, const Tensor& b);
// a - alpha b. Not for bool operands (use logical_xor / logical_not).
Tensor sub(const Tensor& a, const Tensor& b, Scalar alpha = 1);
Tensor sub(const Tensor& a, Scalar b, Scalar alpha = 1);
Tensor sub(Scalar a, const Tensor& b);
Tensor mul(const Tensor& a, const Tensor& b);
Tensor mul(const Tensor& a, Scalar b);
Tensor mul(Scalar a, const Tensor& b);
// True division: integer (and bool) operands give f32.
Tensor div(const Tensor& a, const Tensor& b);
Tensor div(const Tensor& a, Scalar b);
Tensor div(Scalar a, const Tensor& b);
// a^b elementwise. Integer bases with negative integer exponents give 0 (1 or -1 for bases 1 / -1).
Tensor pow(const Tensor& a, const Tensor& b);
Tensor pow(Scalar a, const Tensor& b);
// NaN-propagating elementwise min / max.
Tensor minimum(const Tensor& a, const Tensor& b);
Tensor maximum(const Tensor& a, const Tensor& b);
// fmod: remainder with the sign of a (C fmod); remainder: with the sign of b (Python %).
// Integer division by zero gives 0.
Tensor fmod(const Tensor& a, const Tensor& b);
Tensor fmod(const Tensor& a, Scalar b);
Tensor remainder(const Tensor& a, const Tensor& b);
Tensor remainder(const Tensor& a, Scalar b);
// The gradient of relu from its output: grad where y > 0, else 0 (a NaN y passes grad, as
// PyTorch's threshold_backward). Floating tensors, broadcast like the other binary ops.
Tensor relu_backward(const Tensor& grad, const Tensor& y);
// Comparisons (operands promoted to a common dtype first) -> bool.
Tensor eq(const Tensor& a, const Tensor& b);
Tensor eq(const Tensor& a, Scalar b);
Tensor ne(const Tensor& a, const Tensor& b);
Tensor ne(const Tensor& a, Scalar b);
Tensor lt(const Tensor& a, const Tensor& b);
Tensor lt(const Tensor& a, Scalar b);
Tensor le(const Tensor& a, const Tensor& b);
Tensor le(const Tensor& a, Scalar b);
Tensor gt(const Tensor& a, const Tensor& b);
Tensor gt(const Tensor& a, Scalar b);
Tensor ge(const Tensor& a, const Tensor& b);
Tensor ge(const Tensor& a, Scalar b);
// Truth values (x != 0) combined -> bool.
Tensor logical_and(const Tensor& a, const Tensor& b);
Tensor logical_or(const Tensor& a, const Tensor& b);
Tensor logical_xor(const Tensor& a, const Tensor& b);

// cond ? a : b with 3-way broadcasting; cond must be bool, a and b are promoted to one dtype.
Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b);
Tensor where(const Tensor& cond, const Tensor& a, Scalar b);
Tensor where(const Tensor& cond, Scalar a, const Tensor& b);

// ---- in-place (see the header comment for the rules)
Tensor add_(const Tensor& self, const Tensor& other, Scalar alpha = 1);
Tensor add_(const Tensor& self, Scalar other, Scalar alpha = 1);
Tensor sub_(const Tensor& self, const Tensor& other, Scalar alpha = 1);
Tensor sub_(const Tensor& self, Scalar other, Scalar alpha = 1);
Tensor mul_(const Tensor& self, const Tensor& other);
Tensor mul_(const Tensor& self, Scalar other);
Tensor div_(const Tensor& self, const Tensor& other);
Tensor div_(const Tensor& self, Scalar other);
Tensor pow_(const Tensor& self, const Tensor& exponent);
Tensor pow_(const Tensor& self, Scalar exponent);
Tensor clamp_(const Tensor& self, std::optional<Scalar> min, std::optional<Scalar> max);
Tensor neg_(const Tensor& self);
Tensor abs_(const Tensor& self);
Tensor sign_(const Tensor& self);
Tensor exp_(const Tensor& self);
Tensor log_(const Tensor& self);
Tensor log1p_(const Tensor& self);
Tensor expm1_(const Tensor& self);
Tensor sqrt_(const Tensor& self);
Tensor rsqrt_(const Tensor& self);
Tensor reciprocal_(const Tensor& self);
Tensor square_(const Tensor& self);
Tensor sin_(const Tensor& self);
Tensor cos_(const Tensor& self);
Tensor tanh_(const Tensor& self);
Tensor sigmoid_(const Tensor& self);
Tensor erf_(const Tensor& self);
Tensor erfc_(const Tensor& self);
Tensor relu_(const Tensor& self);
Tensor leaky_relu_(const Tensor& self, double negative_slope = 0.01);
Tensor gelu_(const Tensor& self, GeluApprox approximate = GeluApprox::none);
Tensor silu_(const Tensor& self);
Tensor mish_(const Tensor& self);
Tensor softplus_(const Tensor& self, double beta = 1, double threshold = 20);
Tensor floor_(const Tensor& self);
Tensor ceil_(const Tensor& self);
Tensor round_(const Tensor& self);
// Sets every element (converted to the tensor's dtype); zero_ sets 0.
Tensor fill_(const Tensor& self, Scalar value);
Tensor zero_(const Tensor& self);

// ---- operators (same semantics as the functions above)
// The arithmetic operators are inline templates with a dummy parameter so that the autograd
// layer's non-template operators win overload resolution where they are visible: Note
// [Differentiable operators] in autograd/operators.h. Comparisons are plain functions.
template <class = void> Tensor operator-(const Tensor& x) { return neg(x); }
template <class = void> Tensor operator+(const Tensor& a, const Tensor& b) { return add(a, b); }
template <class = void> Tensor operator+(const Tensor& a, Scalar b) { return add(a, b); }
template <class = void> Tensor operator+(Scalar a, const Tensor& b) { return add(a, b); }
template <class = void> Tensor operator-(const Tensor& a, const Tensor& b) { return sub(a, b); }
template <class = void> Tensor operator-(const Tensor& a, Scalar b) { return sub(a, b); }
template <class = void> Tensor operator-(Scalar a, const Tensor& b) { return sub(a, b); }
template <class = void> Tensor operator*(const Tensor& a, const Tensor& b) { return mul(a, b); }
template <class = void> Tensor operator*(const Tensor& a, Scalar b) { return mul(a, b); }
template <class = void> Tensor operator*(Scalar a, const Tensor& b) { return mul(a, b); }
template <class = void> Tensor operator/(const Tensor& a, const Tensor& b) { return div(a, b); }
template <class = void> Tensor operator/(const Tensor& a, Scalar b) { return div(a, b); }
template <class = void> Tensor operator/(Scalar a, const Tensor& b) { return div(a, b); }
template <class = void> Tensor& operator+=(Tensor& a, const Tensor& b) { add_(a, b); return a; }
template <class = void> Tensor& operator+=(Tensor& a, Scalar b) { add_(a, b); return a; }
template <class = void> Tensor& operator-=(Tensor& a, const Tensor& b) { sub_(a, b); return a; }
template <class = void> Tensor& operator-=(Tensor& a, Scalar b) { sub_(a, b); return a; }
template <class = void> Tensor& operator*=(Tensor& a, const Tensor& b) { mul_(a, b); return a; }
template <class = void> Tensor& operator*=(Tensor& a, Scalar b) { mul_(a, b); return a; }
template <class = void> Tensor& operator/=(Tensor& a, const Tensor& b) { div_(a, b); return a; }
template <class = void> Tensor& operator/=(Tensor& a, Scalar b) { div_(a, b); return a; }
Tensor operator==(const Tensor& a, const Tensor& b);
Tensor operator==(const Tensor& a, Scalar b);
Tensor operator==(Scalar a, const Tensor& b);
Tensor operator!=(const Tensor& a, const Tensor& b);
Tensor operator!=(const Tensor& a, Scalar b);
Tensor operator!=(Scalar a, const Tensor& b);
Tensor operator<(const Tensor& a, const Tensor& b);
Tensor operator<(const Tensor& a, Scalar b);
Tensor operator<(Scalar a, const Tensor& b);
Tensor operator<=(const Tensor& a, const Tensor& b);
Tensor operator<=(const Tensor& a, Scalar b);
Tensor operator<=(Scalar a, const Tensor& b);
Tensor operator>(const Tensor& a, const Tensor& b);
Tensor operator>(const Tensor& a, Scalar b);
Tensor operator>(Scalar a, const Tensor& b);
Tensor operator>=(const Tensor& a, const Tensor& b);
Tensor operator>=(const Tensor& a, Scalar b);
Tensor operator>=(Scalar a, const Tensor& b);

}  // namespace kiln
