#pragma once
// Elementwise binary kernels on the CPU: out = op(a, b) over a Loop (operands out, a, b).
// `dtype` is the element type of a and b (the tensor layer promotes them to one type first), and
// of out unless the op is a comparison or logical op, whose out is bool. A non-null sa / sb makes
// that operand a scalar (its Loop strides must be 0 and its pointer is not read); the scalar is
// used in the compute type (f32 for 16-bit floats), as PyTorch does for Python numbers.
// alpha scales b for add and sub (out = a + alpha * b / a - alpha * b).
#include "kiln/kernels/cpu/isa.h"
#include "kiln/kernels/loop.h"
#include "kiln/kernels/scalar_ops.h"

KILN_DECLARE_ISA_FN(void, binary_kernel, kiln::BinaryOp op, const kiln::Loop& loop, kiln::DType dtype, void* out,
                    const void* a, const void* b, const kiln::ScalarArg* sa, const kiln::ScalarArg* sb,
                    const kiln::ScalarArg& alpha)

namespace kiln::cpu {
inline void binary(BinaryOp op, const Loop& loop, DType dtype, void* out, const void* a, const void* b,
                   const ScalarArg* sa, const ScalarArg* sb, const ScalarArg& alpha) {
  KILN_ISA_CALL(binary_kernel, op, loop, dtype, out, a, b, sa, sb, alpha);
}
}  // namespace kiln::cpu
