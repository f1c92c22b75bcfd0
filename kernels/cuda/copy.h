#pragma once
// The CUDA copy / cast kernel: out (operand 0 of loop, dtype dst) = convert<dst>(in) element by
// element, over the same Loop the CPU's copy_cast takes (kernels/loop.h: strides in elements, any
// sign, 0 for a broadcast source dimension). Every dtype pair; the casts are kernels/convert.h's,
// so CUDA and CPU agree (float -> integer truncates toward zero; out-of-range values, NaN included,
// are undefined on both and may differ). out and in are device pointers; out must not overlap in
// (except out == in with equal geometry). Asynchronous on `stream`; n == 0 launches nothing.
// Callable from plain C++.
#include "kiln/kernels/cuda/stream.h"
#include "kiln/kernels/dtype.h"
#include "kiln/kernels/loop.h"

namespace kiln::cuda {

void copy_cast(const Loop& loop, DType dst, void* out, DType src, const void* in, Stream stream);

}  // namespace kiln::cuda
