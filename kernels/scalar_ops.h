#pragma once
// Scalar formulas of the elementwise ops, shared by the CPU kernels and (later) the CUDA kernels
// so that both compute the same thing (DESIGN.md section 3).
//
// Each functor maps values of the compute type C (compute_t<T>: f32 for the 16-bit floats, T
// otherwise) to C, or to bool for predicates and comparisons. The CPU kernels call them inside
// contiguous loops that GCC vectorises, so the formulas are branch-free (selects, no early
// returns); f32 transcendental functions come from kernels/cpu/vec_math.h (Note [Vectorisable
// math]), f64 ones from libm. Functors with parameters (slopes, bounds, exponents) hold them
// converted to C.
#include <cmath>
#include <cstdint>
#include <limits>
#include <type_traits>

#include "kiln/kernels/cpu/vec_math.h"
#include "kiln/kernels/dtype.h"

namespace kiln {

// Op codes the tensor layer passes to the kernels of both devices.
enum class UnaryOp : uint8_t {
  neg, abs, sign, exp, log, log1p, expm1, sqrt, rsqrt, reciprocal, square, sin, cos, tanh, sigmoid, erf, erfc,
  relu, leaky_relu, gelu, gelu_tanh, silu, mish, softplus, floor, ceil, round, clamp, pow_scalar,
  isnan, isinf, isfinite, logical_not,
};
enum class BinaryOp : uint8_t {
  add, sub, mul, div, pow, minimum, maximum, fmod, remainder, relu_backward,
  eq, ne, lt, le, gt, ge, logical_and, logical_or, logical_xor,
};
// Parameters of the unary ops that take some: leaky_relu (f0 = slope), softplus (f0 = beta,
// f1 = threshold), clamp (f0/f1 = min/max for floating types, i0/i1 for integers; absent bounds
// are +-inf or the integer limits), pow_scalar (f0 / i0 = exponent).
struct UnaryParams {
  double f0 = 0, f1 = 0;
  int64_t i0 = 0, i1 = 0;
};
// A scalar operand of a binary op, in both forms (the kernel picks the one of its compute type).
struct ScalarArg {
  double f = 0;
  int64_t i = 0;
};
// The scalar operand in compute type C.
template <class C>
inline C scalar_as(const ScalarArg& s) {
  if constexpr (std::is_same_v<C, bool>) return s.i != 0 || s.f != 0;
  else if constexpr (std::is_floating_point_v<C>) return C(s.f);
  else return C(s.i);
}

namespace ops {

template <class C> constexpr bool kFloat = std::is_floating_point_v<C>;

// ---- math of the compute type: vec_math for f32, libm for f64
KILN_HD float m_exp(float x) { return vm::exp(x); }
KILN_HD double m_exp(double x) { return std::exp(x); }
KILN_HD float m_log(float x) { return vm::log(x); }
KILN_HD double m_log(double x) { return std::log(x); }
KILN_HD float m_log1p(float x) { return vm::log1p(x); }
KILN_HD double m_log1p(double x) { return std::log1p(x); }
KILN_HD float m_expm1(float x) { return vm::expm1(x); }
KILN_HD double m_expm1(double x) { return std::expm1(x); }
KILN_HD float m_tanh(float x) { return vm::tanh(x); }
KILN_HD double m_tanh(double x) { return std::tanh(x); }
KILN_HD float m_sigmoid(float x) { return vm::sigmoid(x); }
KILN_HD double m_sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }
KILN_HD float m_sin(float x) { return vm::sin(x); }
KILN_HD double m_sin(double x) { return std::sin(x); }
KILN_HD float m_cos(float x) { return vm::cos(x); }
KILN_HD double m_cos(double x) { return std::cos(x); }
KILN_HD float m_erf(float x) { return vm::erf(x); }
KILN_HD double m_erf(double x) { return std::erf(x); }
KILN_HD float m_erfc(float x) { return vm::erfc(x); }
KILN_HD double m_erfc(double x) { return std::erfc(x); }

// Round half to even without libm: adding and subtracting 2^(p-1) (p = significand bits) rounds
// in the default mode; values that large are integers already. The sign is restored so -0.4 -> -0.
template <class C>
KILN_HD C round_half_even(C x) {
  const C big = std::is_same_v<C, float> ? C(8388608.0) : C(4503599627370496.0);
  C ax = x < C(0) ? -x : x;
  C r = (ax + big) - big;
  r = ax < big ? r : ax;
  return x < C(0) ? -r : r;
}

// ---- unary
struct Neg { template <class C> KILN_HD C operator()(C x) const { return C(-x); } };
struct Abs {
  template <class C> KILN_HD C operator()(C x) const {
    if constexpr (std::is_unsigned_v<C>) return x;
    else if constexpr (kFloat<C>) return std::fabs(x);
    else return x < C(0) ? C(-x) : x;
  }
};
// Sign: -1, 0 or 1 (0 for NaN, as PyTorch); bool maps to itself.
struct Sign {
  template <class C> KILN_HD C operator()(C x) const {
    if constexpr (std::is_same_v<C, bool>) return x;
    else if constexpr (std::is_unsigned_v<C>) return C(x != C(0));
    else return C(int(C(0) < x) - int(x < C(0)));
  }
};
struct Exp { template <class C> KILN_HD C operator()(C x) const { return m_exp(x); } };
struct Log { template <class C> KILN_HD C operator()(C x) const { return m_log(x); } };
struct Log1p { template <class C> KILN_HD C operator()(C x) const { return m_log1p(x); } };
struct Expm1 { template <class C> KILN_HD C operator()(C x) const { return m_expm1(x); } };
struct Sqrt { template <class C> KILN_HD C operator()(C x) const { return std::sqrt(x); } };
struct Rsqrt { template <class C> KILN_HD C operator()(C x) const { return C(1) / std::sqrt(x); } };
struct Reciprocal { template <class C> KILN_HD C operator()(C x) const { return C(1) / x; } };
struct Square { template <class C> KILN_HD C operator()(C x) const { return C(x * x); } };
struct Sin { template <class C> KILN_HD C operator()(C x) const { return m_sin(x); } };
struct Cos { template <class C> KILN_HD C operator()(C x) const { return m_cos(x); } };
struct Tanh { template <class C> KILN_HD C operator()(C x) const { return m_tanh(x); } };
struct Sigmoid { template <class C> KILN_HD C operator()(C x) const { return m_sigmoid(x); } };
struct Erf { template <class C> KILN_HD C operator()(C x) const { return m_erf(x); } };
struct Erfc { template <class C> KILN_HD C operator()(C x) const { return m_erfc(x); } };
// relu keeps NaN (x < 0 is false for NaN).
struct Relu {
  template <class C> KILN_HD C operator()(C x) const {
    if constexpr (std::is_unsigned_v<C>) return x;
    else return x < C(0) ? C(0) : x;
  }
};
template <class C> struct LeakyRelu {
  C slope;
  KILN_HD C operator()(C x) const { return x > C(0) ? x : x * slope; }
};
// gelu(x) = x Phi(x) = x/2 (1 + erf(x/sqrt2)); f32 through vm::gelu (Note [Fast gelu]). f64:
// erfc(-x/sqrt2) below 0, where 1 + erf(x/sqrt2) would cancel.
struct Gelu {
  template <class C> KILN_HD C operator()(C x) const {
    if constexpr (std::is_same_v<C, float>) {
      return vm::gelu(x);
    } else {
      C y = x * C(0.70710678118654752440);
      return C(0.5) * x * (y < C(0) ? std::erfc(-y) : C(1) + std::erf(y));
    }
  }
};
// gelu with the tanh approximation: x/2 (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))).
struct GeluTanh {
  template <class C> KILN_HD C operator()(C x) const {
    C inner = C(0.79788456080286535588) * (x + C(0.044715) * x * x * x);
    return C(0.5) * x * (C(1) + m_tanh(inner));
  }
};
struct Silu { template <class C> KILN_HD C operator()(C x) const { return x * m_sigmoid(x); } };
// mish(x) = x tanh(softplus(x)); log1p(exp(x)) overflows to inf for large x, and tanh(inf) = 1.
struct Mish { template <class C> KILN_HD C operator()(C x) const { return x * m_tanh(m_log1p(m_exp(x))); } };
// softplus(x) = log(1 + exp(beta x)) / beta, and x itself where beta x > threshold.
template <class C> struct Softplus {
  C beta, threshold;
  KILN_HD C operator()(C x) const {
    C bx = x * beta;
    C sp = m_log1p(m_exp(bx)) / beta;
    return bx > threshold ? x : sp;
  }
};
struct Floor {
  template <class C> KILN_HD C operator()(C x) const {
    if constexpr (kFloat<C>) return std::floor(x);
    else return x;
  }
};
struct Ceil {
  template <class C> KILN_HD C operator()(C x) const {
    if constexpr (kFloat<C>) return std::ceil(x);
    else return x;
  }
};
struct Round {
  template <class C> KILN_HD C operator()(C x) const {
    if constexpr (kFloat<C>) return round_half_even(x);
    else return x;
  }
};
// clamp(x, lo, hi) = min(max(x, lo), hi): NaN stays NaN, and lo > hi gives hi (as PyTorch).
template <class C> struct Clamp {
  C lo, hi;
  KILN_HD C operator()(C x) const {
    C y = x < lo ? lo : x;
    return y > hi ? hi : y;
  }
};
// x^e for a floating exponent that is none of the special cases the tensor layer maps to
// cheaper ops (0, 1, 2, 0.5, -0.5, -1).
template <class C> struct PowScalar {
  C e;
  KILN_HD C operator()(C x) const { return std::pow(x, e); }
};
// Integer power by squaring for e >= 0 (wraps around on overflow like C++ unsigned arithmetic).
template <class C>
KILN_HD C ipow(C base, int64_t e) {
  using U = std::make_unsigned_t<std::conditional_t<std::is_same_v<C, bool>, uint8_t, C>>;
  U r = 1, b = U(base);
  while (e > 0) {
    if (e & 1) r = U(r * b);
    b = U(b * b);
    e >>= 1;
  }
  return C(r);
}
template <class C> struct PowInt {
  int64_t e;
  KILN_HD C operator()(C x) const { return ipow(x, e); }
};
struct IsNan { template <class C> KILN_HD bool operator()(C x) const { return x != x; } };
struct IsInf {
  // vm::kInf rather than numeric_limits (a host-only constexpr function for nvcc).
  template <class C> KILN_HD bool operator()(C x) const { return x == C(vm::kInf) || x == C(-vm::kInf); }
};
struct IsFinite { template <class C> KILN_HD bool operator()(C x) const { return x - x == C(0); } };
struct LogicalNot { template <class C> KILN_HD bool operator()(C x) const { return x == C(0); } };

// ---- binary
struct Add { template <class C> KILN_HD C operator()(C a, C b) const { return C(a + b); } };
template <class C> struct AddAlpha {
  C alpha;
  KILN_HD C operator()(C a, C b) const { return C(a + alpha * b); }
};
struct Sub { template <class C> KILN_HD C operator()(C a, C b) const { return C(a - b); } };
struct Mul { template <class C> KILN_HD C operator()(C a, C b) const { return C(a * b); } };
struct Div { template <class C> KILN_HD C operator()(C a, C b) const { return a / b; } };
// pow of two tensors. Integers: negative exponents give 1 for base 1, +-1 for base -1, 0 else
// (the truncated real result), as PyTorch.
struct Pow {
  template <class C> KILN_HD C operator()(C a, C b) const {
    if constexpr (kFloat<C>) {
      return std::pow(a, b);
    } else if constexpr (std::is_signed_v<C>) {
      if (b >= C(0)) return ipow(a, int64_t(b));
      if (a == C(1)) return C(1);
      if (a == C(-1)) return (b & 1) ? C(-1) : C(1);
      return C(0);
    } else {
      return ipow(a, int64_t(b));
    }
  }
};
// minimum / maximum propagate NaN from either side.
struct Minimum {
  template <class C> KILN_HD C operator()(C a, C b) const {
    C m = a < b ? a : b;
    if constexpr (kFloat<C>) m = b != b ? b : (a != a ? a : m);
    return m;
  }
};
struct Maximum {
  template <class C> KILN_HD C operator()(C a, C b) const {
    C m = a > b ? a : b;
    if constexpr (kFloat<C>) m = b != b ? b : (a != a ? a : m);
    return m;
  }
};
// fmod: C's truncated remainder (sign of a). Integer division by zero (and INT_MIN % -1, which
// traps) give 0 instead of a trap.
struct Fmod {
  template <class C> KILN_HD C operator()(C a, C b) const {
    if constexpr (kFloat<C>) return std::fmod(a, b);
    else if constexpr (std::is_signed_v<C>) return (b == C(0) || b == C(-1)) ? C(0) : C(a % b);
    else return b == C(0) ? C(0) : C(a % b);
  }
};
// remainder: Python's modulo (sign of b).
struct Remainder {
  template <class C> KILN_HD C operator()(C a, C b) const {
    C m = Fmod{}(a, b);
    if constexpr (std::is_unsigned_v<C>) return m;
    else return (m != C(0) && ((b < C(0)) != (m < C(0)))) ? C(m + b) : m;
  }
};
// relu_backward(grad, y): the gradient of relu given its output y, grad where y > 0 and 0 elsewhere
// (a NaN output passes its gradient through, as PyTorch's threshold_backward). One pass instead
// of a comparison and a select.
struct ReluBackward {
  template <class C> KILN_HD C operator()(C g, C y) const { return y <= C(0) ? C(0) : g; }
};
struct Eq { template <class C> KILN_HD bool operator()(C a, C b) const { return a == b; } };
struct Ne { template <class C> KILN_HD bool operator()(C a, C b) const { return a != b; } };
struct Lt { template <class C> KILN_HD bool operator()(C a, C b) const { return a < b; } };
struct Le { template <class C> KILN_HD bool operator()(C a, C b) const { return a <= b; } };
struct Gt { template <class C> KILN_HD bool operator()(C a, C b) const { return a > b; } };
struct Ge { template <class C> KILN_HD bool operator()(C a, C b) const { return a >= b; } };
struct LogicalAnd { template <class C> KILN_HD bool operator()(C a, C b) const { return (a != C(0)) & (b != C(0)); } };
struct LogicalOr { template <class C> KILN_HD bool operator()(C a, C b) const { return (a != C(0)) | (b != C(0)); } };
struct LogicalXor { template <class C> KILN_HD bool operator()(C a, C b) const { return (a != C(0)) != (b != C(0)); } };

// The one switch from a BinaryOp to its formula, shared by the CPU and CUDA kernels: calls
// run(T{}, formula) with T the dtype's C++ type, for the dtypes the op is defined on (a kernel
// called with another dtype throws). add / sub fold alpha into the formula.
template <class Run>
void visit_binary_op(BinaryOp op, DType dtype, const ScalarArg& alpha, Run&& run) {
  auto with = [&](auto fn) { return [&, fn](auto t) { run(t, fn); }; };
  switch (op) {
    case BinaryOp::add:
    case BinaryOp::sub:
      return dispatch_dtype(dtype, [&](auto t) {
        using C = compute_t<decltype(t)>;
        if constexpr (std::is_same_v<C, bool>) {
          run(t, Add{});  // bools: alpha is true, a + b = a or b
        } else {
          const C al = scalar_as<C>(alpha);
          const bool neg = op == BinaryOp::sub;
          if (al == C(1) && !neg) run(t, Add{});
          else if (al == C(1)) run(t, Sub{});
          else run(t, AddAlpha<C>{neg ? C(-al) : al});
        }
      });
    case BinaryOp::mul: return dispatch_dtype(dtype, with(Mul{}));
    case BinaryOp::div: return dispatch_floating(dtype, "div", with(Div{}));
    case BinaryOp::pow: return dispatch_numeric(dtype, "pow", with(Pow{}));
    case BinaryOp::minimum: return dispatch_dtype(dtype, with(Minimum{}));
    case BinaryOp::maximum: return dispatch_dtype(dtype, with(Maximum{}));
    case BinaryOp::fmod: return dispatch_numeric(dtype, "fmod", with(Fmod{}));
    case BinaryOp::remainder: return dispatch_numeric(dtype, "remainder", with(Remainder{}));
    case BinaryOp::relu_backward: return dispatch_floating(dtype, "relu_backward", with(ReluBackward{}));
    case BinaryOp::eq: return dispatch_dtype(dtype, with(Eq{}));
    case BinaryOp::ne: return dispatch_dtype(dtype, with(Ne{}));
    case BinaryOp::lt: return dispatch_dtype(dtype, with(Lt{}));
    case BinaryOp::le: return dispatch_dtype(dtype, with(Le{}));
    case BinaryOp::gt: return dispatch_dtype(dtype, with(Gt{}));
    case BinaryOp::ge: return dispatch_dtype(dtype, with(Ge{}));
    case BinaryOp::logical_and: return dispatch_dtype(dtype, with(LogicalAnd{}));
    case BinaryOp::logical_or: return dispatch_dtype(dtype, with(LogicalOr{}));
    case BinaryOp::logical_xor: return dispatch_dtype(dtype, with(LogicalXor{}));
  }
  KILN_FAIL("binary kernel: unknown op ", int(op));
}

}  // namespace ops
}  // namespace kiln
