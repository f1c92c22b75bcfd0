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
  ops::visit_binary_op(op, dtype, alpha,
                       [&](auto t, auto fn) { ew::binary_loop<decltype(t)>(loop, out, a, b, sa, sb, fn); });
}

}  // namespace KILN_ISA_NAMESPACE
