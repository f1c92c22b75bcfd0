// Binary elementwise kernels, compiled once per instruction set (Note [ISA dispatch] in
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
#include "kiln/kernels/cpu/binary.h"

#include "kiln/kernels/cpu/vec/elementwise_loops.h"

namespace KILN_ISA_NAMESPACE {

void binary_kernel(BinaryOp op, const Loop& loop, DType dtype, void* out, const void* a, const void* b,
                   const ScalarArg* sa, const ScalarArg* sb, const ScalarArg& alpha) {
  using namespace ew;
  // f(T{}) runs op for dtype T; each case picks the dtypes its op is defined for.
  auto run = [&](auto op_fn) {
    return [&, op_fn](auto t) { binary_loop<decltype(t)>(loop, out, a, b, sa, sb, op_fn); };
  };
  switch (op) {
    case BinaryOp::add:
    case BinaryOp::sub:
      return dispatch_dtype(dtype, [&](auto t) {
        using T = decltype(t);
        using C = compute_t<T>;
        if constexpr (std::is_same_v<C, bool>) {
          binary_loop<T>(loop, out, a, b, sa, sb, ops::Add{});  // bools: alpha is true, a + b = a or b
        } else {
          const C al = ew::scalar_as<C>(alpha);
          const bool neg = op == BinaryOp::sub;
          if (al == C(1) && !neg) binary_loop<T>(loop, out, a, b, sa, sb, ops::Add{});
          else if (al == C(1)) binary_loop<T>(loop, out, a, b, sa, sb, ops::Sub{});
          else binary_loop<T>(loop, out, a, b, sa, sb, ops::AddAlpha<C>{neg ? C(-al) : al});
        }
      });
    case BinaryOp::mul: return dispatch_dtype(dtype, run(ops::Mul{}));
    case BinaryOp::div: return dispatch_floating(dtype, "div", run(ops::Div{}));
    case BinaryOp::pow: return dispatch_numeric(dtype, "pow", run(ops::Pow{}));
    case BinaryOp::minimum: return dispatch_dtype(dtype, run(ops::Minimum{}));
    case BinaryOp::maximum: return dispatch_dtype(dtype, run(ops::Maximum{}));
    case BinaryOp::fmod: return dispatch_numeric(dtype, "fmod", run(ops::Fmod{}));
    case BinaryOp::remainder: return dispatch_numeric(dtype, "remainder", run(ops::Remainder{}));
    case BinaryOp::relu_backward: return dispatch_floating(dtype, "relu_backward", run(ops::ReluBackward{}));
    case BinaryOp::eq: return dispatch_dtype(dtype, run(ops::Eq{}));
    case BinaryOp::ne: return dispatch_dtype(dtype, run(ops::Ne{}));
    case BinaryOp::lt: return dispatch_dtype(dtype, run(ops::Lt{}));
    case BinaryOp::le: return dispatch_dtype(dtype, run(ops::Le{}));
    case BinaryOp::gt: return dispatch_dtype(dtype, run(ops::Gt{}));
    case BinaryOp::ge: return dispatch_dtype(dtype, run(ops::Ge{}));
    case BinaryOp::logical_and: return dispatch_dtype(dtype, run(ops::LogicalAnd{}));
    case BinaryOp::logical_or: return dispatch_dtype(dtype, run(ops::LogicalOr{}));
    case BinaryOp::logical_xor: return dispatch_dtype(dtype, run(ops::LogicalXor{}));
  }
  KILN_FAIL("binary_kernel: unknown op ", int(op));
}

}  // namespace KILN_ISA_NAMESPACE
