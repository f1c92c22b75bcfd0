// Deterministic embedding backward (Note [Deterministic embedding backward] in
// embedding_backward.h). Steps, all on `stream`, no host synchronisation:
//   1. pos[k] = k; radix sort (ids, pos) by id over the bits that V - 1 needs;
//   2. flag[k] = 1 where a piece starts (k = 0, the id changes, or k % 32 == 0);
//   3. piece_id = exclusive prefix sum of flag; piece_begin[piece_id[k]] = k at every start, and
//      the last position writes the piece count and the sentinel piece_begin[count] = M;
//   4. dweight = 0; one block column per piece sums its rows into partial[piece];
//   5. one block column per piece that starts an id adds the id's partials into dweight[id].
// The piece count is only known on the device, so steps 4 and 5 launch the upper bound
// min(M, V) + ceil(M / 32) and blocks past the count return at once.
#include <cuda_runtime.h>

#include <algorithm>
#include <cub/device/device_radix_sort.cuh>
#include <cub/device/device_scan.cuh>

#include "kiln/kernels/cuda/check.h"
#include "kiln/kernels/cuda/embedding_backward.h"
#include "kiln/kernels/cuda/layer_reduce.cuh"
#include "kiln/kernels/layer_dtype.h"

namespace kiln::cuda {
namespace {

using layer::ceil_div;

constexpr int kPieceRows = 32;  // rows summed by one block into one partial row
constexpr int kThreads = 256;

// The sort key: ids are non-negative, so sorting their bits as unsigned gives the same order.
using Key = unsigned long long;
static_assert(sizeof(Key) == sizeof(int64_t));

struct Layout {
  Key* keys = nullptr;             // sorted ids [M]
  int32_t* pos_in = nullptr;       // [M]
  int32_t* pos = nullptr;          // positions in sorted order [M]
  int32_t* flag = nullptr;         // piece starts [M]
  int32_t* piece_id = nullptr;     // [M]
  int32_t* piece_begin = nullptr;  // [max_pieces + 1]
  int32_t* count = nullptr;        // [1] number of pieces
  void* partial = nullptr;         // [max_pieces, D] of the compute type
  void* cub_temp = nullptr;
  size_t cub_bytes = 0;
  size_t bytes = 0;
};

int64_t max_pieces(int64_t M, int64_t V) { return std::min(M, std::min(M, V) + ceil_div(M, kPieceRows)); }

int sort_end_bit(int64_t V) {
  int bits = 1;
  while (bits < 63 && (int64_t(1) << bits) < V) ++bits;
  return bits;  // V - 1 < 2^bits
}

// The CUB scratch needed by the sort and the scan (queried with null buffers, no launch).
size_t cub_scratch(int64_t M, int64_t V, Stream stream) {
  size_t sort_bytes = 0, scan_bytes = 0;
  KILN_CUDA_CHECK(cub::DeviceRadixSort::SortPairs(nullptr, sort_bytes, static_cast<const Key*>(nullptr),
                                                  static_cast<Key*>(nullptr), static_cast<const int32_t*>(nullptr),
                                                  static_cast<int32_t*>(nullptr), int(M), 0, sort_end_bit(V), stream));
  KILN_CUDA_CHECK(cub::DeviceScan::ExclusiveSum(nullptr, scan_bytes, static_cast<const int32_t*>(nullptr),
                                                static_cast<int32_t*>(nullptr), int(M), stream));
  return std::max(sort_bytes, scan_bytes);
}

Layout carve(void* base, size_t elem, int64_t M, int64_t D, int64_t V, size_t cub_bytes) {
  layer::Carver cv(base);
  Layout l;
  const int64_t P = max_pieces(M, V);
  l.keys = cv.take<Key>(size_t(M));
  l.pos_in = cv.take<int32_t>(size_t(M));
  l.pos = cv.take<int32_t>(size_t(M));
  l.flag = cv.take<int32_t>(size_t(M));
  l.piece_id = cv.take<int32_t>(size_t(M));
  l.piece_begin = cv.take<int32_t>(size_t(P + 1));
  l.count = cv.take<int32_t>(1);
  l.partial = cv.take<unsigned char>(size_t(P) * size_t(D) * elem);
  l.cub_temp = cv.take<unsigned char>(cub_bytes);
  l.cub_bytes = cub_bytes;
  l.bytes = cv.used();
  return l;
}

__global__ void iota_kernel(int32_t* pos, int32_t M) {
  for (int64_t k = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; k < M; k += int64_t(gridDim.x) * blockDim.x)
    pos[k] = int32_t(k);
}

__global__ void flag_kernel(const Key* __restrict__ keys, int32_t* __restrict__ flag, int32_t M) {
  for (int64_t k = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; k < M; k += int64_t(gridDim.x) * blockDim.x)
    flag[k] = (k % kPieceRows == 0 || keys[k] != keys[k - 1]) ? 1 : 0;
}

__global__ void begins_kernel(const int32_t* __restrict__ flag, const int32_t* __restrict__ piece_id,
                              int32_t* __restrict__ piece_begin, int32_t* __restrict__ count, int32_t M) {
  for (int64_t k = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; k < M; k += int64_t(gridDim.x) * blockDim.x) {
    if (flag[k]) piece_begin[piece_id[k]] = int32_t(k);
    if (k == M - 1) {
      const int32_t n = piece_id[k] + flag[k];
      *count = n;
      piece_begin[n] = M;
    }
  }
}

// Block (p, column block): partial[p, d] = sum of dout[pos[q], d] for q in piece p, in order.
template <class T>
__global__ void __launch_bounds__(kThreads)
    piece_kernel(const T* __restrict__ dout, const Key* __restrict__ keys, const int32_t* __restrict__ pos,
                 const int32_t* __restrict__ piece_begin, const int32_t* __restrict__ count,
                 compute_t<T>* __restrict__ partial, int64_t D, int64_t padding_idx) {
  using Cm = compute_t<T>;
  const int64_t p = blockIdx.x;
  if (p >= *count) return;
  const int64_t d = int64_t(blockIdx.y) * blockDim.x + threadIdx.x;
  if (d >= D) return;
  const int32_t q0 = piece_begin[p], q1 = piece_begin[p + 1];
  if (int64_t(keys[q0]) == padding_idx) return;  // never read back
  Cm acc = Cm(0);
  for (int32_t q = q0; q < q1; ++q) acc += Cm(dout[int64_t(pos[q]) * D + d]);
  partial[p * D + d] = acc;
}

// Block (p, column block) for a piece p that starts an id: dweight[id, d] = the id's partials
// added in order.
template <class T>
__global__ void __launch_bounds__(kThreads)
    combine_kernel(const Key* __restrict__ keys, const int32_t* __restrict__ piece_begin,
                   const int32_t* __restrict__ count, const compute_t<T>* __restrict__ partial, T* __restrict__ dweight,
                   int64_t D, int64_t padding_idx) {
  using Cm = compute_t<T>;
  const int64_t p = blockIdx.x;
  const int64_t n = *count;
  if (p >= n) return;
  const int64_t d = int64_t(blockIdx.y) * blockDim.x + threadIdx.x;
  if (d >= D) return;
  const int32_t q0 = piece_begin[p];
  const Key id = keys[q0];
  if (q0 > 0 && keys[q0 - 1] == id) return;  // not the id's first piece
  if (int64_t(id) == padding_idx) return;
  Cm acc = Cm(0);
  for (int64_t r = p; r < n && keys[piece_begin[r]] == id; ++r) acc += partial[r * D + d];
  dweight[int64_t(id) * D + d] = T(acc);
}

unsigned blocks_for(int64_t n) { return unsigned(std::min<int64_t>(ceil_div(n, kThreads), 4096)); }

void check_sizes(const char* op, int64_t M, int64_t D, int64_t V) {
  KILN_CHECK(M >= 0 && D >= 0 && V >= 0, op, ": sizes must be non-negative, got M=", M, " D=", D, " V=", V);
  KILN_CHECK(M < (int64_t(1) << 31) - 1, op, ": M = ", M, " indices exceed the supported 2^31 - 2");
  KILN_CHECK(M == 0 || V > 0, op, ": ", M, " indices into an empty weight (V = 0)");
}

// Threads per block over the D columns: a multiple of 32 up to kThreads.
int column_threads(int64_t D) { return layer::pow2_threads(D, 32, kThreads); }

}  // namespace

size_t embedding_backward_workspace_size(DType dtype, int64_t M, int64_t D, int64_t V) {
  const char* op = "cuda::embedding_backward_workspace_size";
  check_sizes(op, M, D, V);
  if (M == 0 || D == 0) return 0;
  size_t bytes = 0;
  dispatch_layer_dtype(dtype, op, [&](auto tag) {
    using T = decltype(tag);
    bytes = carve(nullptr, sizeof(compute_t<T>), M, D, V, cub_scratch(M, V, nullptr)).bytes;
  });
  return bytes;
}

void embedding_backward(DType dtype, const void* dout, const int64_t* ids, int64_t M, int64_t D, int64_t V,
                        int64_t padding_idx, void* dweight, void* workspace, size_t workspace_bytes, Stream stream) {
  const char* op = "cuda::embedding_backward";
  check_sizes(op, M, D, V);
  KILN_CHECK(padding_idx < V, op, ": padding_idx ", padding_idx, " is not below V = ", V);
  dispatch_layer_dtype(dtype, op, [&](auto tag) {
    using T = decltype(tag);
    using Cm = compute_t<T>;
    if (M == 0 || D == 0) {
      if (V * D > 0) KILN_CUDA_CHECK(cudaMemsetAsync(dweight, 0, size_t(V * D) * sizeof(T), stream));
      return;
    }
    // Every check before the first launch, so that an error leaves dweight untouched.
    const Layout l = carve(workspace, sizeof(Cm), M, D, V, cub_scratch(M, V, stream));
    layer::check_workspace(op, workspace, workspace_bytes, l.bytes);
    const int threads = column_threads(D);
    const int64_t col_blocks = ceil_div(D, threads);
    KILN_CHECK(col_blocks <= 65535, op, ": D = ", D, " needs ", col_blocks,
               " column blocks, above the grid limit 65535");
    const int32_t m = int32_t(M);
    KILN_CUDA_CHECK(cudaMemsetAsync(dweight, 0, size_t(V * D) * sizeof(T), stream));
    iota_kernel<<<blocks_for(M), kThreads, 0, stream>>>(l.pos_in, m);
    KILN_CUDA_CHECK_LAUNCH("embedding_backward iota_kernel");
    size_t temp = l.cub_bytes;
    KILN_CUDA_CHECK(cub::DeviceRadixSort::SortPairs(l.cub_temp, temp, reinterpret_cast<const Key*>(ids), l.keys,
                                                    static_cast<const int32_t*>(l.pos_in), l.pos, m, 0, sort_end_bit(V),
                                                    stream));
    flag_kernel<<<blocks_for(M), kThreads, 0, stream>>>(l.keys, l.flag, m);
    KILN_CUDA_CHECK_LAUNCH("embedding_backward flag_kernel");
    temp = l.cub_bytes;
    KILN_CUDA_CHECK(
        cub::DeviceScan::ExclusiveSum(l.cub_temp, temp, static_cast<const int32_t*>(l.flag), l.piece_id, m, stream));
    begins_kernel<<<blocks_for(M), kThreads, 0, stream>>>(l.flag, l.piece_id, l.piece_begin, l.count, m);
    KILN_CUDA_CHECK_LAUNCH("embedding_backward begins_kernel");
    const dim3 grid(unsigned(max_pieces(M, V)), unsigned(col_blocks));
    piece_kernel<T><<<grid, threads, 0, stream>>>(static_cast<const T*>(dout), l.keys, l.pos, l.piece_begin, l.count,
                                                  static_cast<Cm*>(l.partial), D, padding_idx);
    KILN_CUDA_CHECK_LAUNCH("embedding_backward piece_kernel");
    combine_kernel<T><<<grid, threads, 0, stream>>>(l.keys, l.piece_begin, l.count, static_cast<const Cm*>(l.partial),
                                                    static_cast<T*>(dweight), D, padding_idx);
    KILN_CUDA_CHECK_LAUNCH("embedding_backward combine_kernel");
  });
}

}  // namespace kiln::cuda
