#pragma once
// CUDA sort, topk and unique (tensor/sort.h), with exactly the results of the CPU kernels
// (kernels/cpu/sort.h, Note [Sort order]): stable in both directions, NaN after every number
// ascending and before every number descending, -0.0 equal to 0.0, topk ties by lower index.
// Rows are contiguous [rows, n] in device memory; launches are asynchronous on `stream` and take
// their scratch from the caching allocator. rows * n < 2^31.
//
// Note [CUDA sort keys]
// Each value becomes an unsigned key (kernels/sort_key.h) whose unsigned order is Note [Sort order]: floats (16-bit
// ones through f32) have -0.0 made +0.0, every NaN made the one largest key, and the usual sign-bit flip; signed
// integers get their sign bit flipped. Descending sorts complement the key, so a stable ascending radix sort of the
// complemented keys is a stable descending sort (NaN first). Rows are sorted by two stable cub::DeviceRadixSort passes
// over (key, position) pairs: by key over all elements, then by row number; the second pass keeps the first's order
// inside each row.
#include <cstdint>

#include "kiln/kernels/cuda/stream.h"
#include "kiln/kernels/dtype.h"

namespace kiln::cuda {

// Sorts each row: values [rows, n] (x's dtype), indices [rows, n] (position in the row).
void sort_rows(DType dtype, const void* x, int64_t rows, int64_t n, bool descending, void* values, int64_t* indices,
               Stream stream);

// The k largest (or smallest) of each row, best first, ties by lower index: values [rows, k],
// indices [rows, k] (the first k columns of the stable sort in that direction).
void topk_rows(DType dtype, const void* x, int64_t rows, int64_t n, int64_t k, bool largest, void* values,
               int64_t* indices, Stream stream);

// Run-length encodes n ascending-sorted values (perm[i] = input position of sorted[i]), as
// cpu::unique_sorted: values [n] receives the distinct values, counts [n] (may be null) their
// counts, inverse [n] (may be null) the run number of each input position. Every NaN is its own
// run. Returns the number of distinct values; synchronises `stream` once to read it.
int64_t unique_sorted(DType dtype, const void* sorted, const int64_t* perm, int64_t n, void* values, int64_t* inverse,
                      int64_t* counts, Stream stream);

}  // namespace kiln::cuda
