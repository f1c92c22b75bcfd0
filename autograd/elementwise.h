#pragma once
// Differentiable elementwise ops: kiln::ag::<name> has the same name, arguments, result shape and
// dtype as kiln::<name> in tensor/elementwise.h, and records a graph node when grad mode is on
// and a floating input requires grad (Note [Autograd graph] in node.h). Binary ops broadcast like
// the raw ops; each operand's gradient is reduced back to its own shape with sum_to.
//
// Gradient conventions at non-differentiable points (PyTorch's):
// - sign, floor, ceil, round: zero gradient everywhere.
// - abs: sign(x) (0 at 0); relu: 0 at 0; leaky_relu: negative_slope at x <= 0.
// - clamp / clamp_min / clamp_max: the gradient passes where min <= x <= max (bounds included).
// - minimum / maximum: the gradient goes to the chosen operand; on a tie it is split half-half.
// - where: cond gets no gradient; a gets it where cond is true, b where it is false.
// - pow(x, e): d/dx = e x^(e-1) (0 when e == 0); pow(a, b) d/db = a^b log(a), taken as 0 where
//   a == 0 and b >= 0 (PyTorch's masking).
// Non-differentiable ops (comparisons, logical ops, isnan, fmod, remainder) have no ag version:
// call the kiln:: ones.
#include <optional>

#include "kiln/autograd/node.h"
#include "kiln/tensor/elementwise.h"

namespace kiln::ag {

// ---- unary (elementwise_unary.cpp: math; elementwise_activation.cpp: activations;
//      elementwise_clamp.cpp: clamp, rounding)
Tensor neg(const Tensor& x);
Tensor abs(const Tensor& x);
Tensor sign(const Tensor& x);  // zero gradient
Tensor exp(const Tensor& x);
Tensor log(const Tensor& x);
Tensor log1p(const Tensor& x);
Tensor expm1(const Tensor& x);
Tensor sqrt(const Tensor& x);
Tensor rsqrt(const Tensor& x);
Tensor reciprocal(const Tensor& x);
Tensor square(const Tensor& x);
Tensor sin(const Tensor& x);
Tensor cos(const Tensor& x);
Tensor tanh(const Tensor& x);
Tensor sigmoid(const Tensor& x);
Tensor erf(const Tensor& x);
Tensor erfc(const Tensor& x);
Tensor relu(const Tensor& x);
Tensor leaky_relu(const Tensor& x, double negative_slope = 0.01);
Tensor gelu(const Tensor& x, GeluApprox approximate = GeluApprox::none);
Tensor silu(const Tensor& x);
Tensor mish(const Tensor& x);
Tensor softplus(const Tensor& x, double beta = 1, double threshold = 20);
Tensor floor(const Tensor& x);  // zero gradient
Tensor ceil(const Tensor& x);   // zero gradient
Tensor round(const Tensor& x);  // zero gradient
Tensor clamp(const Tensor& x, std::optional<Scalar> min, std::optional<Scalar> max);
Tensor clamp_min(const Tensor& x, Scalar min);
Tensor clamp_max(const Tensor& x, Scalar max);

// ---- binary (elementwise_binary.cpp; pow in elementwise_pow.cpp)
Tensor add(const Tensor& a, const Tensor& b, Scalar alpha = 1);
Tensor add(const Tensor& a, Scalar b, Scalar alpha = 1);
Tensor add(Scalar a, const Tensor& b);
Tensor sub(const Tensor& a, const Tensor& b, Scalar alpha = 1);
Tensor sub(const Tensor& a, Scalar b, Scalar alpha = 1);
Tensor sub(Scalar a, const Tensor& b);
Tensor mul(const Tensor& a, const Tensor& b);
Tensor mul(const Tensor& a, Scalar b);
Tensor mul(Scalar a, const Tensor& b);
Tensor div(const Tensor& a, const Tensor& b);
Tensor div(const Tensor& a, Scalar b);
Tensor div(Scalar a, const Tensor& b);
Tensor pow(const Tensor& x, Scalar exponent);
Tensor pow(const Tensor& a, const Tensor& b);
Tensor pow(Scalar a, const Tensor& b);
Tensor minimum(const Tensor& a, const Tensor& b);
Tensor maximum(const Tensor& a, const Tensor& b);

// ---- where (elementwise_where.cpp); cond is a bool tensor and gets no gradient
Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b);
Tensor where(const Tensor& cond, const Tensor& a, Scalar b);
Tensor where(const Tensor& cond, Scalar a, const Tensor& b);

}  // namespace kiln::ag
