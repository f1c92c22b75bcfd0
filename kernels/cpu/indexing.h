#pragma once
// CPU kernels of the indexing ops (tensor/indexing.h). Index arrays are contiguous int64 that the
// tensor layer has already validated (find_bad_index); a negative index i means i + size.
//
// Note [Deterministic accumulation]
// scatter_add, index_add, index_put(accumulate) and embedding_backward add several source values
// into one destination. Work is partitioned by destination: every destination element is owned by
// exactly one task, which adds its sources in increasing source position. The result is therefore
// bit-identical whatever the number of threads and the chunking.
#include <cstdint>

#include "kiln/kernels/dtype.h"
#include "kiln/kernels/loop.h"

namespace kiln::cpu {

// Calls f(U{}) with U an unsigned integer type of elem_size bytes (1, 2, 4 or 8): data-movement
// kernels copy elements as raw bits, so they need one instantiation per size, not per dtype.
template <class F>
decltype(auto) dispatch_elem_size(int64_t elem_size, F&& f) {
  switch (elem_size) {
    case 1: return f(uint8_t{});
    case 2: return f(uint16_t{});
    case 4: return f(uint32_t{});
    default: return f(uint64_t{});
  }
}

// Position of the first index outside [lo, hi) among n indices, or -1 when all are valid.
int64_t find_bad_index(const int64_t* idx, int64_t n, int64_t lo, int64_t hi);
// Largest of n indices (n > 0).
int64_t max_index(const int64_t* idx, int64_t n);

// Flat row number of k index arrays into dims of the given sizes (row-major, negatives wrapped):
// out[i] = ((idx[0][i] * sizes[1] + idx[1][i]) * sizes[2] + ...).
void combine_indices(int k, const int64_t* const* idx, const int64_t* sizes, int64_t n, int64_t* out);

// ---- index_select: x [outer, n, inner] -> out [outer, m, inner], out[o, j] = x[o, idx[j]].
// Both contiguous; elements are moved as raw bytes of elem_size.
void index_select_rows(int64_t elem_size, const void* x, int64_t outer, int64_t n, int64_t inner,
                       const int64_t* idx, int64_t m, void* out);

// ---- gather over a Loop with operands 0 = out, 1 = index, 2 = x restricted to the index shape
// with stride 0 along the gathered dim: out = x[... + wrap(index) * x_dim_stride].
void gather_loop(const Loop& loop, int64_t elem_size, void* out, const int64_t* idx, const void* x,
                 int64_t x_dim_stride, int64_t dim_size);

// ---- scatter over a Loop with operands 0 = dest restricted to the index shape with stride 0
// along the scattered dim, 1 = index, 2 = src. The loop's innermost dimension must be the
// scattered dim (make_loop puts it there, its stride being 0 for operand 0): rows are run in
// parallel, each row in index order (Note [Deterministic accumulation]; for a plain scatter the
// last write to a destination wins).
void scatter_loop(const Loop& loop, int64_t elem_size, void* dest, const int64_t* idx, const void* src,
                  int64_t dest_dim_stride, int64_t dim_size);
void scatter_add_loop(const Loop& loop, DType dtype, void* dest, const int64_t* idx, const void* src,
                      int64_t dest_dim_stride, int64_t dim_size);

// ---- index_add: dest [outer, n, inner] += alpha * src [outer, m, inner] scattered by idx [m]
// along the middle dim (both contiguous, same dtype). Sources of one destination row are summed
// in compute_t in index order, then stored once (Note [Deterministic accumulation]).
void index_add_rows(DType dtype, void* dest, int64_t outer, int64_t n, int64_t inner, const int64_t* idx,
                    int64_t m, const void* src, double alpha_f, int64_t alpha_i);
// ---- index_copy: dest [n, inner] row idx[p] = src [m, inner] row p; with repeated indices the last
// position wins.
void index_copy_rows(int64_t elem_size, void* dest, int64_t n, int64_t inner, const int64_t* idx, int64_t m,
                     const void* src);

// ---- masked_fill over a Loop with operands 0 = out, 1 = mask (bool): out = value where mask.
// `value` points to one element of out's type.
void masked_fill_loop(const Loop& loop, int64_t elem_size, void* out, const bool* mask, const void* value);

// ---- mask compaction (masked_select, nonzero). The n mask values are cut into chunks of
// kMaskChunk; count_true fills counts[chunk] with the number of true values in each chunk.
constexpr int64_t kMaskChunk = 1 << 16;
void count_true(const bool* mask, int64_t n, int64_t* counts);
// out[k] = x[i] for the k-th true mask[i]; offsets[c] is the exclusive prefix sum of counts.
void masked_select(int64_t elem_size, const void* x, const bool* mask, int64_t n, const int64_t* offsets,
                   void* out);
// Coordinates of the true values of a contiguous mask of shape sizes[ndim] into out [count, ndim].
void nonzero_coords(const bool* mask, int ndim, const int64_t* sizes, const int64_t* offsets, int64_t* out);

// ---- one_hot: out [n, classes] (zeroed by the caller) gets out[i, idx[i]] = 1.
void one_hot(const int64_t* idx, int64_t n, int64_t classes, int64_t* out);

}  // namespace kiln::cpu
