// Unary elementwise kernels, compiled once per instruction set (Note [ISA dispatch] in
// kernels/cpu/isa.h). The loops are in elementwise_loops.h (Note [Elementwise loops]), the
// formulas in kernels/scalar_ops.h.
// Let GCC if-convert the float compares and selects of the formulas into vector blends: with the
// default -ftrapping-math it keeps them as branches (AVX2, SSE) or as masked fix-up paths
// (AVX-512), because a compare may raise an FP exception flag; kiln never reads those flags.
// Placed before the includes so every function of this file has the same options (Note
// [Elementwise loops]).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("no-trapping-math")
#endif
#include "kiln/kernels/cpu/unary.h"

#include <cmath>
#include <limits>

#include "kiln/kernels/cpu/vec/elementwise_loops.h"

namespace KILN_ISA_NAMESPACE {
namespace {

// sin / cos of |x| > vm::kTrigMaxArg in f32: the vectorised reduction is not exact that far out,
// so those (rare) elements are recomputed with libm in double.
template <bool kIsSin>
struct TrigFix {
  static constexpr bool kActive = true;
  bool need(float x) const { return vm::trig_needs_libm(x); }
  float slow(float x) const { return float(kIsSin ? std::sin(double(x)) : std::cos(double(x))); }
};

template <class T>
void run_trig(bool is_sin, const Loop& loop, void* out, const void* in) {
  using C = compute_t<T>;
  if constexpr (std::is_same_v<C, float> && !std::is_same_v<T, Half>) {  // f16 never exceeds 65504
    if (is_sin) ew::unary_loop<T>(loop, out, in, ops::Sin{}, TrigFix<true>{});
    else ew::unary_loop<T>(loop, out, in, ops::Cos{}, TrigFix<false>{});
  } else {
    if (is_sin) ew::unary_loop<T>(loop, out, in, ops::Sin{});
    else ew::unary_loop<T>(loop, out, in, ops::Cos{});
  }
}

template <class T>
void run_clamp(const Loop& loop, void* out, const void* in, const UnaryParams& p) {
  using C = compute_t<T>;
  if constexpr (std::is_floating_point_v<C>) {
    ew::unary_loop<T>(loop, out, in, ops::Clamp<C>{C(p.f0), C(p.f1)});
  } else {
    // Integer bounds outside the range of C are pulled to its limits.
    const int64_t lo_lim = int64_t(std::numeric_limits<C>::lowest()), hi_lim = int64_t(std::numeric_limits<C>::max());
    const C lo = C(std::min(std::max(p.i0, lo_lim), hi_lim)), hi = C(std::min(std::max(p.i1, lo_lim), hi_lim));
    ew::unary_loop<T>(loop, out, in, ops::Clamp<C>{lo, hi});
  }
}

}  // namespace

void unary_kernel(UnaryOp op, const Loop& loop, DType dtype, void* out, const void* in, const UnaryParams& p) {
  using namespace ew;
  switch (op) {
    case UnaryOp::neg:
      return dispatch_numeric(dtype, "neg", [&](auto t) { unary_loop<decltype(t)>(loop, out, in, ops::Neg{}); });
    case UnaryOp::abs:
      return dispatch_numeric(dtype, "abs", [&](auto t) { unary_loop<decltype(t)>(loop, out, in, ops::Abs{}); });
    case UnaryOp::sign:
      return dispatch_dtype(dtype, [&](auto t) { unary_loop<decltype(t)>(loop, out, in, ops::Sign{}); });
    case UnaryOp::exp:
      return dispatch_floating(dtype, "exp", [&](auto t) { unary_loop<decltype(t)>(loop, out, in, ops::Exp{}); });
    case UnaryOp::log:
      return dispatch_floating(dtype, "log", [&](auto t) { unary_loop<decltype(t)>(loop, out, in, ops::Log{}); });
    case UnaryOp::log1p:
      return dispatch_floating(dtype, "log1p", [&](auto t) { unary_loop<decltype(t)>(loop, out, in, ops::Log1p{}); });
    case UnaryOp::expm1:
      return dispatch_floating(dtype, "expm1", [&](auto t) { unary_loop<decltype(t)>(loop, out, in, ops::Expm1{}); });
    case UnaryOp::sqrt:
      return dispatch_floating(dtype, "sqrt", [&](auto t) { unary_loop<decltype(t)>(loop, out, in, ops::Sqrt{}); });
    case UnaryOp::rsqrt:
      return dispatch_floating(dtype, "rsqrt", [&](auto t) { unary_loop<decltype(t)>(loop, out, in, ops::Rsqrt{}); });
    case UnaryOp::reciprocal:
      return dispatch_floating(dtype, "reciprocal",
                               [&](auto t) { unary_loop<decltype(t)>(loop, out, in, ops::Reciprocal{}); });
    case UnaryOp::square:
      return dispatch_numeric(dtype, "square", [&](auto t) { unary_loop<decltype(t)>(loop, out, in, ops::Square{}); });
    case UnaryOp::sin:
      return dispatch_floating(dtype, "sin", [&](auto t) { run_trig<decltype(t)>(true, loop, out, in); });
    case UnaryOp::cos:
      return dispatch_floating(dtype, "cos", [&](auto t) { run_trig<decltype(t)>(false, loop, out, in); });
    case UnaryOp::tanh:
      return dispatch_floating(dtype, "tanh", [&](auto t) { unary_loop<decltype(t)>(loop, out, in, ops::Tanh{}); });
    case UnaryOp::sigmoid:
      return dispatch_floating(dtype, "sigmoid", [&](auto t) { unary_loop<decltype(t)>(loop, out, in, ops::Sigmoid{}); });
    case UnaryOp::erf:
      return dispatch_floating(dtype, "erf", [&](auto t) { unary_loop<decltype(t)>(loop, out, in, ops::Erf{}); });
    case UnaryOp::erfc:
      return dispatch_floating(dtype, "erfc", [&](auto t) { unary_loop<decltype(t)>(loop, out, in, ops::Erfc{}); });
    case UnaryOp::relu:
      return dispatch_numeric(dtype, "relu", [&](auto t) { unary_loop<decltype(t)>(loop, out, in, ops::Relu{}); });
    case UnaryOp::leaky_relu:
      return dispatch_floating(dtype, "leaky_relu", [&](auto t) {
        using C = compute_t<decltype(t)>;
        unary_loop<decltype(t)>(loop, out, in, ops::LeakyRelu<C>{C(p.f0)});
      });
    case UnaryOp::gelu:
      return dispatch_floating(dtype, "gelu", [&](auto t) { unary_loop<decltype(t)>(loop, out, in, ops::Gelu{}); });
    case UnaryOp::gelu_tanh:
      return dispatch_floating(dtype, "gelu", [&](auto t) { unary_loop<decltype(t)>(loop, out, in, ops::GeluTanh{}); });
    case UnaryOp::silu:
      return dispatch_floating(dtype, "silu", [&](auto t) { unary_loop<decltype(t)>(loop, out, in, ops::Silu{}); });
    case UnaryOp::mish:
      return dispatch_floating(dtype, "mish", [&](auto t) { unary_loop<decltype(t)>(loop, out, in, ops::Mish{}); });
    case UnaryOp::softplus:
      return dispatch_floating(dtype, "softplus", [&](auto t) {
        using C = compute_t<decltype(t)>;
        unary_loop<decltype(t)>(loop, out, in, ops::Softplus<C>{C(p.f0), C(p.f1)});
      });
    case UnaryOp::floor:
      return dispatch_numeric(dtype, "floor", [&](auto t) { unary_loop<decltype(t)>(loop, out, in, ops::Floor{}); });
    case UnaryOp::ceil:
      return dispatch_numeric(dtype, "ceil", [&](auto t) { unary_loop<decltype(t)>(loop, out, in, ops::Ceil{}); });
    case UnaryOp::round:
      return dispatch_numeric(dtype, "round", [&](auto t) { unary_loop<decltype(t)>(loop, out, in, ops::Round{}); });
    case UnaryOp::clamp:
      return dispatch_numeric(dtype, "clamp", [&](auto t) { run_clamp<decltype(t)>(loop, out, in, p); });
    case UnaryOp::pow_scalar:
      return dispatch_numeric(dtype, "pow", [&](auto t) {
        using T = decltype(t);
        using C = compute_t<T>;
        if constexpr (std::is_floating_point_v<C>) unary_loop<T>(loop, out, in, ops::PowScalar<C>{C(p.f0)});
        else unary_loop<T>(loop, out, in, ops::PowInt<C>{p.i0});
      });
    case UnaryOp::isnan:
      return dispatch_floating(dtype, "isnan", [&](auto t) { unary_loop<decltype(t)>(loop, out, in, ops::IsNan{}); });
    case UnaryOp::isinf:
      return dispatch_floating(dtype, "isinf", [&](auto t) { unary_loop<decltype(t)>(loop, out, in, ops::IsInf{}); });
    case UnaryOp::isfinite:
      return dispatch_floating(dtype, "isfinite",
                               [&](auto t) { unary_loop<decltype(t)>(loop, out, in, ops::IsFinite{}); });
    case UnaryOp::logical_not:
      return dispatch_dtype(dtype, [&](auto t) { unary_loop<decltype(t)>(loop, out, in, ops::LogicalNot{}); });
  }
  KILN_FAIL("unary_kernel: unknown op ", int(op));
}

}  // namespace KILN_ISA_NAMESPACE
