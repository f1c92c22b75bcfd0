// CUDA sort, topk, unique (kernels/cuda/sort.h; Note [CUDA sort keys]).
#include <cuda_runtime.h>

#include <climits>
#include <cub/device/device_radix_sort.cuh>
#include <cub/device/device_scan.cuh>
#include <type_traits>

#include "kiln/kernels/cuda/check.h"
#include "kiln/kernels/cuda/indexing_scratch.cuh"
#include "kiln/kernels/cuda/sort.h"
#include "kiln/kernels/sort_key.h"

namespace kiln::cuda {
namespace {

using index_util::blocks_for;
using index_util::kThreads;

template <class T>
__global__ void keys_kernel(const T* __restrict__ x, int64_t total, bool descending, SortKey<T>* __restrict__ keys,
                            int* __restrict__ pos) {
  KILN_GRID_LOOP(i, total) {
    const SortKey<T> k = sort_key(x[i]);
    keys[i] = descending ? SortKey<T>(~k) : k;
    pos[i] = int(i);
  }
}

__global__ void row_keys_kernel(const int* __restrict__ pos, int64_t total, int64_t n,
                                unsigned int* __restrict__ rows) {
  KILN_GRID_LOOP(i, total) rows[i] = static_cast<unsigned int>(pos[i] / n);
}

// Output column c of row r (c < k) is sorted element r * n + c.
template <class T>
__global__ void write_sorted_kernel(const T* __restrict__ x, const int* __restrict__ pos, int64_t n, int64_t k,
                                    int64_t total_out, T* __restrict__ values, int64_t* __restrict__ indices) {
  KILN_GRID_LOOP(e, total_out) {
    const int64_t r = e / k, c = e - r * k;
    const int64_t p = pos[r * n + c];
    values[e] = x[p];
    indices[e] = p - r * n;
  }
}

template <class T>
__global__ void run_heads_kernel(const T* __restrict__ s, int64_t n, int64_t* __restrict__ heads) {
  using C = compute_t<T>;
  // A new run unless equal to the previous value (NaN equals nothing: each NaN is its own run).
  KILN_GRID_LOOP(i, n) heads[i] = (i == 0 || !(C(s[i]) == C(s[i - 1]))) ? 1 : 0;
}

template <class T>
__global__ void run_values_kernel(const T* __restrict__ s, const int64_t* __restrict__ perm,
                                  const int64_t* __restrict__ runs, int64_t n, T* __restrict__ values,
                                  int64_t* __restrict__ starts, int64_t* __restrict__ inverse) {
  KILN_GRID_LOOP(i, n) {
    const int64_t r = runs[i] - 1;
    if (i == 0 || runs[i - 1] != runs[i]) {
      values[r] = s[i];
      starts[r] = i;
    }
    if (inverse) inverse[perm[i]] = r;
  }
}

__global__ void run_counts_kernel(const int64_t* __restrict__ runs, const int64_t* __restrict__ starts, int64_t n,
                                  int64_t* __restrict__ counts) {
  const int64_t u = runs[n - 1];
  KILN_GRID_LOOP(r, u) counts[r] = (r + 1 < u ? starts[r + 1] : n) - starts[r];
}

void check_total(const char* op, int64_t rows, int64_t n) {
  KILN_CHECK(rows >= 0 && n >= 0, op, ": sizes must be non-negative, got rows=", rows, " n=", n);
  KILN_CHECK(n == 0 || rows < INT_MAX / n, op, ": rows * n = ", rows, " * ", n, " exceeds the supported 2^31 - 2");
}

// Stable sort of every row into pos (element numbers r * n + c in sorted order).
template <class T>
void sort_positions(const T* x, int64_t rows, int64_t n, bool descending, int* pos_out, Stream stream) {
  using K = SortKey<T>;
  const int64_t total = rows * n;
  const int row_bits = index_util::bits_for(uint64_t(rows - 1));
  size_t bytes1 = 0, bytes2 = 0;
  KILN_CUDA_CHECK(cub::DeviceRadixSort::SortPairs(
      nullptr, bytes1, static_cast<const K*>(nullptr), static_cast<K*>(nullptr), static_cast<const int*>(nullptr),
      static_cast<int*>(nullptr), int(total), 0, sort_key_bits<T>(), stream));
  if (rows > 1)
    KILN_CUDA_CHECK(cub::DeviceRadixSort::SortPairs(
        nullptr, bytes2, static_cast<const unsigned int*>(nullptr), static_cast<unsigned int*>(nullptr),
        static_cast<const int*>(nullptr), static_cast<int*>(nullptr), int(total), 0, row_bits, stream));
  const size_t temp_bytes = bytes1 > bytes2 ? bytes1 : bytes2;
  const size_t kpiece = index_util::align256(size_t(total) * sizeof(K)),
               ipiece = index_util::align256(size_t(total) * 4);
  index_util::Scratch s(2 * kpiece + 4 * ipiece + temp_bytes, stream);
  unsigned char* b = s.as<unsigned char>();
  K* keys_in = reinterpret_cast<K*>(b);
  K* keys_out = reinterpret_cast<K*>(b + kpiece);
  int* pos_in = reinterpret_cast<int*>(b + 2 * kpiece);
  int* pos1 = reinterpret_cast<int*>(b + 2 * kpiece + ipiece);
  unsigned int* rkeys_in = reinterpret_cast<unsigned int*>(b + 2 * kpiece + 2 * ipiece);
  unsigned int* rkeys_out = reinterpret_cast<unsigned int*>(b + 2 * kpiece + 3 * ipiece);
  void* temp = b + 2 * kpiece + 4 * ipiece;
  keys_kernel<T><<<blocks_for(total), kThreads, 0, stream>>>(x, total, descending, keys_in, pos_in);
  KILN_CUDA_CHECK_LAUNCH("sort keys");
  size_t tb = temp_bytes;
  KILN_CUDA_CHECK(cub::DeviceRadixSort::SortPairs(temp, tb, static_cast<const K*>(keys_in), keys_out,
                                                  static_cast<const int*>(pos_in), rows > 1 ? pos1 : pos_out,
                                                  int(total), 0, sort_key_bits<T>(), stream));
  if (rows <= 1) return;
  row_keys_kernel<<<blocks_for(total), kThreads, 0, stream>>>(pos1, total, n, rkeys_in);
  KILN_CUDA_CHECK_LAUNCH("sort row keys");
  tb = temp_bytes;
  KILN_CUDA_CHECK(cub::DeviceRadixSort::SortPairs(temp, tb, static_cast<const unsigned int*>(rkeys_in), rkeys_out,
                                                  static_cast<const int*>(pos1), pos_out, int(total), 0, row_bits,
                                                  stream));
}

// Sorts and writes the first k columns of each row.
template <class T>
void sort_first_k(const T* x, int64_t rows, int64_t n, int64_t k, bool descending, T* values, int64_t* indices,
                  Stream stream) {
  const int64_t total = rows * n;
  index_util::Scratch pos(size_t(total) * sizeof(int), stream);
  sort_positions<T>(x, rows, n, descending, pos.as<int>(), stream);
  const int64_t total_out = rows * k;
  write_sorted_kernel<T>
      <<<blocks_for(total_out), kThreads, 0, stream>>>(x, pos.as<int>(), n, k, total_out, values, indices);
  KILN_CUDA_CHECK_LAUNCH("sort write");
}

}  // namespace

void sort_rows(DType dtype, const void* x, int64_t rows, int64_t n, bool descending, void* values, int64_t* indices,
               Stream stream) {
  check_total("cuda::sort_rows", rows, n);
  if (rows == 0 || n == 0) return;
  dispatch_dtype(dtype, [&](auto tag) {
    using T = decltype(tag);
    sort_first_k<T>(static_cast<const T*>(x), rows, n, n, descending, static_cast<T*>(values), indices, stream);
  });
}

void topk_rows(DType dtype, const void* x, int64_t rows, int64_t n, int64_t k, bool largest, void* values,
               int64_t* indices, Stream stream) {
  check_total("cuda::topk_rows", rows, n);
  KILN_CHECK(k >= 0 && k <= n, "cuda::topk_rows: k ", k, " is out of range for rows of ", n);
  if (rows == 0 || k == 0) return;
  dispatch_dtype(dtype, [&](auto tag) {
    using T = decltype(tag);
    sort_first_k<T>(static_cast<const T*>(x), rows, n, k, largest, static_cast<T*>(values), indices, stream);
  });
}

int64_t unique_sorted(DType dtype, const void* sorted, const int64_t* perm, int64_t n, void* values, int64_t* inverse,
                      int64_t* counts, Stream stream) {
  check_total("cuda::unique_sorted", 1, n);
  if (n == 0) return 0;
  size_t temp_bytes = 0;
  KILN_CUDA_CHECK(cub::DeviceScan::InclusiveSum(nullptr, temp_bytes, static_cast<const int64_t*>(nullptr),
                                                static_cast<int64_t*>(nullptr), int(n), stream));
  const size_t piece = index_util::align256(size_t(n) * 8);
  index_util::Scratch s(3 * piece + temp_bytes, stream);
  unsigned char* b = s.as<unsigned char>();
  int64_t* heads = reinterpret_cast<int64_t*>(b);
  int64_t* runs = reinterpret_cast<int64_t*>(b + piece);
  int64_t* starts = reinterpret_cast<int64_t*>(b + 2 * piece);
  dispatch_dtype(dtype, [&](auto tag) {
    using T = decltype(tag);
    const T* sv = static_cast<const T*>(sorted);
    run_heads_kernel<T><<<blocks_for(n), kThreads, 0, stream>>>(sv, n, heads);
    KILN_CUDA_CHECK_LAUNCH("unique heads");
    size_t tb = temp_bytes;
    KILN_CUDA_CHECK(
        cub::DeviceScan::InclusiveSum(b + 3 * piece, tb, static_cast<const int64_t*>(heads), runs, int(n), stream));
    run_values_kernel<T>
        <<<blocks_for(n), kThreads, 0, stream>>>(sv, perm, runs, n, static_cast<T*>(values), starts, inverse);
    KILN_CUDA_CHECK_LAUNCH("unique values");
    if (counts) {
      run_counts_kernel<<<blocks_for(n), kThreads, 0, stream>>>(runs, starts, n, counts);
      KILN_CUDA_CHECK_LAUNCH("unique counts");
    }
  });
  return index_util::read_back(runs + (n - 1), stream);
}

}  // namespace kiln::cuda
