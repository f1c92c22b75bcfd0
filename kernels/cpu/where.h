#pragma once
// where on the CPU: out = cond ? a : b over a Loop (operands out, cond, a, b); cond is bool, a, b
// and out have element type dtype.
#include "kiln/kernels/cpu/isa.h"
#include "kiln/kernels/dtype.h"
#include "kiln/kernels/loop.h"

KILN_DECLARE_ISA_FN(void, where_kernel, const kiln::Loop& loop, kiln::DType dtype, void* out, const bool* cond,
                    const void* a, const void* b)

namespace kiln::cpu {
inline void where(const Loop& loop, DType dtype, void* out, const bool* cond, const void* a, const void* b) {
  KILN_ISA_CALL(where_kernel, loop, dtype, out, cond, a, b);
}
}  // namespace kiln::cpu
