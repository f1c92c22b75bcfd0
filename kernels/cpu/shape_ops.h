#pragma once
// CPU kernels of the shape ops that are not plain strided copies (tensor/shape_ops.h).
#include <cstdint>

#include "kiln/kernels/loop.h"

namespace kiln::cpu {

// Index-mapped padding (reflect / replicate / circular): in [outer, in_sizes[0..k)] and out
// [outer, out_sizes[0..k)] are contiguous; maps[d][c] is the input coordinate of output
// coordinate c in padded dim d. Elements are moved as raw bytes of elem_size.
void pad_mapped(int64_t elem_size, const void* in, void* out, int64_t outer, int k, const int64_t* in_sizes,
                const int64_t* out_sizes, const int64_t* const* maps);

// Copy over a Loop (operand 0 = out, 1 = in) whose input strides may be negative, as raw bytes;
// a reversed inner stretch (strides 1 and -1) gets its own vectorisable loop.
void flip_copy(const Loop& loop, int64_t elem_size, void* out, const void* in);

// In place on contiguous data [batch, M, N]: zeroes (all-zero bits) element (i, j) when
// j - i > k (lower = true, tril) or j - i < k (lower = false, triu).
void triangle_zero(int64_t elem_size, void* data, int64_t batch, int64_t M, int64_t N, int64_t k, bool lower);

}  // namespace kiln::cpu
