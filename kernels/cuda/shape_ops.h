#pragma once
// CUDA kernels of the shape ops that are not plain strided copies (tensor/shape_ops.h): the same
// operations as kernels/cpu/shape_ops.h. Elements are moved as raw bytes of elem_size (1, 2, 4 or
// 8), so every dtype goes through the same kernels. Pointers are device memory; launches are
// asynchronous on `stream`.
#include <cstdint>

#include "kiln/kernels/cuda/stream.h"
#include "kiln/kernels/loop.h"
#include "kiln/kernels/pad_math.h"

namespace kiln::cuda {

// Copy over a Loop (operand 0 = out, 1 = in; strides in elements, the input's may be negative).
// `in` points at the element of index (0, ..., 0) of the (flipped) view.
void flip_copy(const Loop& loop, int64_t elem_size, void* out, const void* in, Stream stream);

// In place on contiguous data [batch, M, N]: zeroes (all-zero bits) element (i, j) when
// j - i > k (lower = true, tril) or j - i < k (lower = false, triu).
void triangle_zero(int64_t elem_size, void* data, int64_t batch, int64_t M, int64_t N, int64_t k, bool lower,
                   Stream stream);

// Index-mapped padding: in [outer, in_sizes[0..k)] and out [outer, out_sizes[0..k)] are contiguous
// (1 <= k <= kMaxDims, in_sizes > 0); output coordinate c of padded dim d reads input coordinate
// pad_source_index(mode, c, before[d], in_sizes[d]) (kernels/pad_math.h). Sizes are host arrays.
void pad_mapped(int64_t elem_size, const void* in, void* out, int64_t outer, int k, const int64_t* in_sizes,
                const int64_t* out_sizes, const int64_t* before, PadIndexMode mode, Stream stream);

}  // namespace kiln::cuda
