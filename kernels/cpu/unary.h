#pragma once
// Elementwise unary kernels on the CPU: out = op(in) over a Loop (operand 0 = out, 1 = in).
// `dtype` is the element type of in, and of out unless the op is a predicate (isnan, isinf,
// isfinite, logical_not), whose out is bool. The tensor layer has already chosen dtype (integer
// inputs of floating functions are cast to f32 first); see kernels/scalar_ops.h for the formulas.
#include "kiln/kernels/cpu/isa.h"
#include "kiln/kernels/loop.h"
#include "kiln/kernels/scalar_ops.h"

KILN_DECLARE_ISA_FN(void, unary_kernel, kiln::UnaryOp op, const kiln::Loop& loop, kiln::DType dtype, void* out,
                    const void* in, const kiln::UnaryParams& params)

namespace kiln::cpu {
inline void unary(UnaryOp op, const Loop& loop, DType dtype, void* out, const void* in, const UnaryParams& params) {
  KILN_ISA_CALL(unary_kernel, op, loop, dtype, out, in, params);
}
}  // namespace kiln::cpu
