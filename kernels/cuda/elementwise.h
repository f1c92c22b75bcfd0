#pragma once
// Elementwise kernels on CUDA: the device twins of kernels/cpu/unary.h, binary.h, where.h and of
// cpu::fill (kernels/cpu/copy.h). Same Loop (kernels/loop.h: operand 0 is the output, strides in
// elements, 0 for a broadcast dimension), same op codes and parameters (kernels/scalar_ops.h),
// same formulas, same dtype rules; every pointer is device memory. All launches are asynchronous
// on `stream`; nothing synchronises. Plain C++ declarations (no CUDA headers), so the tensor layer
// can include this file; defined in unary.cu, binary.cu, where.cu and fill.cu.
#include <cstdint>

#include "kiln/kernels/cuda/stream.h"
#include "kiln/kernels/dtype.h"
#include "kiln/kernels/loop.h"
#include "kiln/kernels/scalar_ops.h"

namespace kiln::cuda {

// out = op(in) over loop (operands out, in). dtype is in's element type, and out's unless the op
// is a predicate (isnan, isinf, isfinite, logical_not: out is bool).
void unary(UnaryOp op, const Loop& loop, DType dtype, void* out, const void* in, const UnaryParams& params,
           Stream stream);

// out = op(a, b) over loop (operands out, a, b). dtype is the element type of a and b, and of out
// unless the op is a comparison or logical op (out is bool). A non-null sa / sb makes that operand
// a host-side scalar (its loop strides must be 0; its pointer is not read; the value is passed to
// the kernel by value). alpha scales b for add / sub.
void binary(BinaryOp op, const Loop& loop, DType dtype, void* out, const void* a, const void* b,
            const ScalarArg* sa, const ScalarArg* sb, const ScalarArg& alpha, Stream stream);

// out = cond ? a : b over loop (operands out, cond, a, b); cond is bool, the others dtype.
void where(const Loop& loop, DType dtype, void* out, const bool* cond, const void* a, const void* b,
           Stream stream);

// Fills n contiguous elements of dtype d with a value (floating dtypes use fvalue, integers
// ivalue, bool "fvalue != 0 || ivalue != 0"), as cpu::fill.
void fill(DType d, void* out, int64_t n, double fvalue, int64_t ivalue, Stream stream);
// The same over a strided Loop (operand 0 = out; a view that is not contiguous).
void fill_strided(const Loop& loop, DType d, void* out, double fvalue, int64_t ivalue, Stream stream);

}  // namespace kiln::cuda
