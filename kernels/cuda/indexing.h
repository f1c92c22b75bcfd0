#pragma once
// CUDA kernels of the indexing ops (tensor/indexing.h): index validation, gathers (index_select,
// gather, index, embedding), scatters (scatter, scatter_add, index_add, index_put, index_copy),
// masks (masked_fill, masked_select, nonzero) and one_hot. The CPU references are in
// kernels/cpu/indexing.h. Plain C++ declarations; every pointer is device memory, every launch is
// asynchronous on `stream` unless a function says it synchronises. Strides are in elements and
// must be non-negative. Index arrays are int64; a negative index i means i + dim_size.
//
// Note [CUDA index validation]
// The CPU checks indices before it moves anything and names the first bad one. On CUDA the index
// values live on the device, so find_bad_index runs one kernel that records the smallest bad
// position (atomicMin on an integer: the result does not depend on scheduling) and reads that one
// value back: one small host synchronisation per indexing op that takes indices. It runs before
// the op's own kernels, so those may assume valid indices and never write out of bounds; on a
// bad index the tensor layer copies the index tensor to the host and raises the CPU's error text.
//
// Note [Deterministic CUDA scatter]
// Every scatter (assignment or accumulation) is one code path without float atomics: for each
// source element it computes (destination offset, source offset), radix-sorts the pairs by
// destination (cub::DeviceRadixSort, stable: sources of one destination stay in increasing
// source position, which is the CPU's order), and then one thread per destination walks its
// segment in that order (scatter_rows, for whole-row scatters, sorts only the row indices and
// runs one thread per destination row and column). Assignment keeps the last source in index
// order, as the CPU does.
// Accumulation starts from the destination's value and adds the sources one at a time with the
// CPU's exact arithmetic (the same rounding points, products not fused into adds), so results are
// bit-identical to the CPU. The cost: a destination hit by many sources is summed by one thread
// (embedding backward of f32/f16/bf16/f64 uses the two-level kernel in embedding_backward.h
// instead, which agrees with the CPU to rounding).
#include <cstddef>
#include <cstdint>

#include "kiln/kernels/cuda/stream.h"
#include "kiln/kernels/dtype.h"
#include "kiln/kernels/index_math.h"  // IndexGeometry, ScatterMode

namespace kiln::cuda {

// Position of the first index outside [lo, hi) among n (or -1 when all are valid). Synchronises
// `stream` once (Note [CUDA index validation]).
int64_t find_bad_index(const int64_t* idx, int64_t n, int64_t lo, int64_t hi, Stream stream);
// Largest of n > 0 indices. Synchronises `stream` once.
int64_t max_index(const int64_t* idx, int64_t n, Stream stream);

// Gathers and scatters use IndexGeometry and ScatterMode from kernels/index_math.h.

// Flat row numbers out[i] = ((idx[0][i] * sizes[1] + idx[1][i]) * sizes[2] + ...) with negatives
// wrapped (k <= kMaxDims arrays of n valid indices; the pointer array itself is host memory;
// k == 0 writes zeros).
void combine_indices(int k, const int64_t* const* idx, const int64_t* sizes, int64_t n, int64_t* out, Stream stream);

// out[other(c)] = data[indexed(c)] for every position c of g (IndexGeometry, index_math.h);
// elements moved as raw bytes of elem_size.
void gather(int64_t elem_size, const IndexGeometry& g, const int64_t* idx, const void* data, void* out, Stream stream);

// dest[indexed(c)] (op)= src[other(c)] for every position c (Note [Deterministic CUDA scatter]),
// each destination combined by scatter_combine (index_math.h). alpha (add_alpha only) is alpha_f
// for floating dtypes, alpha_i otherwise. Fewer than 2^31 positions. Takes its scratch from the
// caching allocator.
void scatter(DType dtype, ScatterMode mode, const IndexGeometry& g, const int64_t* idx, void* dest, const void* src,
             double alpha_f, int64_t alpha_i, Stream stream);

// The row case of scatter (index_add, index_put, integer embedding backward): dest [outer, n, inner]
// row idx[j] (op)= src [outer, m, inner] row j for every j < m, both contiguous. Only the m
// indices are sorted (not every element), then one thread per (outer, destination row, column)
// combines that row's sources in position order: the same results as scatter() over
// rows_geometry, with scratch for m indices instead of outer * m * inner elements. m < 2^31.
void scatter_rows(DType dtype, ScatterMode mode, const int64_t* idx, int64_t outer, int64_t n, int64_t m,
                  int64_t inner, void* dest, const void* src, double alpha_f, int64_t alpha_i, Stream stream);

// masked_fill: out[c] = value where mask[c], over a box sizes[ndim] with out strides and mask
// strides (0 where the mask broadcasts). value_bits holds the value's bytes (elem_size of them,
// little-endian in the low bytes).
void masked_fill(int64_t elem_size, int ndim, const int64_t* sizes, const int64_t* out_strides,
                 const int64_t* mask_strides, void* out, const bool* mask, uint64_t value_bits, Stream stream);

// Mask compaction (masked_select, nonzero). mask_count fills incl[i] with the number of true
// values in mask[0..i] (n < 2^31) and returns the total: synchronises `stream` once to read it.
int64_t mask_count(const bool* mask, int64_t n, int64_t* incl, Stream stream);
// out[incl[i] - 1] = x[i] for every true mask[i] (x, mask contiguous, n elements).
void masked_select(int64_t elem_size, const void* x, const bool* mask, const int64_t* incl, int64_t n, void* out,
                   Stream stream);
// Coordinates of the true values of a contiguous mask of shape sizes[ndim] (ndim >= 1) into
// out [count, ndim].
void nonzero_coords(const bool* mask, const int64_t* incl, int ndim, const int64_t* sizes, int64_t* out, Stream stream);

// one_hot: out [n, classes] (zeroed by the caller) gets out[i, idx[i]] = 1 (indices valid).
void one_hot(const int64_t* idx, int64_t n, int64_t classes, int64_t* out, Stream stream);

}  // namespace kiln::cuda
