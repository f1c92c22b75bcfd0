#pragma once
// Strided copy with dtype conversion: out (operand 0 of loop, dtype dst) = convert(in).
#include "kiln/kernels/cpu/isa.h"
#include "kiln/kernels/dtype.h"
#include "kiln/kernels/loop.h"

KILN_DECLARE_ISA_FN(void, copy_cast, const kiln::Loop& loop, kiln::DType dst, void* out, kiln::DType src, const void* in)

namespace kiln::cpu {
inline void copy_cast(const Loop& loop, DType dst, void* out, DType src, const void* in) {
  KILN_ISA_CALL(copy_cast, loop, dst, out, src, in);
}
// Fills n contiguous elements of dtype d with a value (integers use ivalue, floats fvalue).
void fill(DType d, void* out, int64_t n, double fvalue, int64_t ivalue);
}  // namespace kiln::cpu
