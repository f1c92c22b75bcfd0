// CUDA cumsum / cumprod (kernels/cuda/reduce.h: scan), accumulated in f64 for floating inputs and in
// i64 otherwise, as the CPU.
//
// Note [CUDA scan]
// Rows (inner == 1) are cut into chunks of nt * kItems elements (nt threads, from the row length
// only). A block scans one chunk: the chunk is staged through shared memory (coalesced loads and
// stores, padded against bank conflicts), each thread scans its kItems consecutive elements sequentially, and the threads' totals
// go through a fixed warp-shuffle scan. A row of several chunks takes three launches: the chunk
// totals (the same block code, writing only the total), a sequential exclusive scan of each row's
// chunk totals (one thread per row), and the chunk scans started from that carry.
// Columns (inner > 1) are scanned by one thread per column walking R in order, exactly the CPU's
// order; when there are few columns and R is long, R is cut into chunks the same three-pass way.
// Every choice depends on the shape only: deterministic, no atomics.
#include <cuda_runtime.h>

#include <type_traits>

#include "kiln/kernels/cuda/reduce.h"
#include "kiln/kernels/cuda/reduce_kernels.cuh"

namespace kiln::cuda {
namespace {

using red::ceil_div;
using red::imin;

template <class T>
using scan_acc_t = std::conditional_t<reduce_math::kFloat<T>, double, int64_t>;
template <class T>
using scan_out_t = std::conditional_t<reduce_math::kFloat<T>, T, int64_t>;

constexpr int kItems = 16;
constexpr int kMaxThreads = 256;
constexpr int kMaxChunk = kItems * kMaxThreads;

// Staging index with one pad element per 32: thread t reads elements 16t .. 16t + 15, and without
// the padding the threads of a warp would hit the same few shared-memory banks.
__device__ __forceinline__ int pad(int i) { return i + (i >> 5); }
constexpr int kStageElems = kMaxChunk + kMaxChunk / 32;

template <bool kProd, class Acc>
__device__ __forceinline__ Acc sop(Acc a, Acc b) {
  return kProd ? a * b : a + b;
}

template <class T, class Acc>
__device__ __forceinline__ scan_out_t<T> to_out(Acc a) {
  if constexpr (reduce_math::kFloat<T>)
    return T(compute_t<T>(a));
  else
    return a;
}

// One block per (row o, chunk c). totals: null (write y, starting from carry[o * nchunk + c] when
// carry is set) or [outer * nchunk] (write only the chunk's total).
template <class T, bool kProd>
__global__ void __launch_bounds__(kMaxThreads)
    scan_rows_kernel(const T* __restrict__ x, scan_out_t<T>* __restrict__ y, int64_t R, int64_t chunk, int64_t nchunk,
                     const scan_acc_t<T>* __restrict__ carry, scan_acc_t<T>* __restrict__ totals) {
  using Acc = scan_acc_t<T>;
  using Out = scan_out_t<T>;
  static_assert(sizeof(T) <= 8 && sizeof(Out) <= 8);
  __shared__ alignas(16) unsigned char stage[kStageElems * 8];
  __shared__ Acc warp_total[kMaxThreads / 32];
  const Acc id = kProd ? Acc(1) : Acc(0);
  const int64_t o = int64_t(blockIdx.x) / nchunk, c = int64_t(blockIdx.x) % nchunk;
  const int64_t start = c * chunk;
  const int n = int(imin(chunk, R - start));
  const T* xr = x + o * R + start;
  T* sx = reinterpret_cast<T*>(stage);
  for (int i = threadIdx.x; i < n; i += blockDim.x) sx[pad(i)] = xr[i];
  __syncthreads();
  Acc v[kItems];
  Acc run = id;
  const int i0 = threadIdx.x * kItems;
  for (int k = 0; k < kItems; ++k) {
    if (i0 + k < n) run = sop<kProd>(run, Acc(compute_t<T>(sx[pad(i0 + k)])));
    v[k] = run;
  }
  // Exclusive scan of the thread totals: within each warp, then over the warp totals.
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nwarps = blockDim.x >> 5;
  Acc incl = run;
  for (int off = 1; off < 32; off <<= 1) {
    const Acc up = red::shfl_up(incl, off);
    if (lane >= off) incl = sop<kProd>(up, incl);
  }
  if (lane == 31) warp_total[warp] = incl;
  __syncthreads();  // also: every thread has finished reading sx
  if (warp == 0) {
    Acc w = lane < nwarps ? warp_total[lane] : id;
    for (int off = 1; off < 32; off <<= 1) {
      const Acc up = red::shfl_up(w, off);
      if (lane >= off) w = sop<kProd>(up, w);
    }
    if (lane < nwarps) warp_total[lane] = w;
  }
  __syncthreads();
  if (totals) {
    if (threadIdx.x == 0) totals[o * nchunk + c] = warp_total[nwarps - 1];
    return;
  }
  Acc excl = red::shfl_up(incl, 1);
  if (lane == 0) excl = id;
  Acc base = carry ? carry[o * nchunk + c] : id;
  base = sop<kProd>(base, warp > 0 ? sop<kProd>(warp_total[warp - 1], excl) : excl);
  Out* so = reinterpret_cast<Out*>(stage);
  for (int k = 0; k < kItems; ++k)
    if (i0 + k < n) so[pad(i0 + k)] = to_out<T>(sop<kProd>(base, v[k]));
  __syncthreads();
  Out* yr = y + o * R + start;
  for (int i = threadIdx.x; i < n; i += blockDim.x) yr[i] = so[pad(i)];
}

// In place: t[line, c] (the chunk totals) becomes the exclusive scan over c of each line.
template <class Acc, bool kProd>
__global__ void scan_carry_kernel(Acc* __restrict__ t, int64_t lines, int64_t nchunk) {
  for (int64_t l = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; l < lines; l += int64_t(gridDim.x) * blockDim.x) {
    Acc run = kProd ? Acc(1) : Acc(0);
    for (int64_t c = 0; c < nchunk; ++c) {
      const Acc v = t[l * nchunk + c];
      t[l * nchunk + c] = run;
      run = sop<kProd>(run, v);
    }
  }
}

// One thread per (column j, chunk blockIdx.y) of x[outer, R, inner]; totals / carry as above,
// indexed [j * nchunk + c].
template <class T, bool kProd>
__global__ void scan_cols_kernel(const T* __restrict__ x, scan_out_t<T>* __restrict__ y, int64_t outer, int64_t R,
                                 int64_t inner, int64_t chunk_rows, int64_t nchunk,
                                 const scan_acc_t<T>* __restrict__ carry, scan_acc_t<T>* __restrict__ totals) {
  using Acc = scan_acc_t<T>;
  const int64_t j = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (j >= outer * inner) return;
  const int64_t c = blockIdx.y;
  const int64_t o = j / inner, i = j % inner;
  const int64_t r1 = imin(R, (c + 1) * chunk_rows);
  const int64_t base = o * R * inner + i;
  Acc acc = (!totals && carry) ? carry[j * nchunk + c] : (kProd ? Acc(1) : Acc(0));
  for (int64_t r = c * chunk_rows; r < r1; ++r) {
    acc = sop<kProd>(acc, Acc(compute_t<T>(x[base + r * inner])));
    if (!totals) y[base + r * inner] = to_out<T>(acc);
  }
  if (totals) totals[j * nchunk + c] = acc;
}

template <class Acc, bool kProd>
void launch_carry(Acc* t, int64_t lines, int64_t nchunk, Stream s) {
  const int64_t blocks = std::min<int64_t>(ceil_div(lines, 256), 65535);
  scan_carry_kernel<Acc, kProd><<<unsigned(blocks), 256, 0, s>>>(t, lines, nchunk);
  KILN_CUDA_CHECK_LAUNCH("scan_carry_kernel");
}

template <class T, bool kProd>
void scan_typed(const T* x, int64_t outer, int64_t R, int64_t inner, scan_out_t<T>* y, Stream s) {
  using Acc = scan_acc_t<T>;
  if (inner == 1) {
    int nt = 32;
    while (nt < kMaxThreads && int64_t(nt) * kItems < R) nt *= 2;
    const int64_t chunk = int64_t(nt) * kItems;
    const int64_t nchunk = ceil_div(R, chunk);
    const unsigned blocks = red::grid_x(outer * nchunk, "cumsum");
    if (nchunk == 1) {
      scan_rows_kernel<T, kProd><<<blocks, nt, 0, s>>>(x, y, R, chunk, 1, nullptr, nullptr);
      KILN_CUDA_CHECK_LAUNCH("scan_rows_kernel");
      return;
    }
    red::Scratch carry(size_t(outer * nchunk) * sizeof(Acc), s);
    scan_rows_kernel<T, kProd><<<blocks, nt, 0, s>>>(x, y, R, chunk, nchunk, nullptr, carry.as<Acc>());
    KILN_CUDA_CHECK_LAUNCH("scan_rows_kernel (totals)");
    launch_carry<Acc, kProd>(carry.as<Acc>(), outer, nchunk, s);
    scan_rows_kernel<T, kProd><<<blocks, nt, 0, s>>>(x, y, R, chunk, nchunk, carry.as<const Acc>(), nullptr);
    KILN_CUDA_CHECK_LAUNCH("scan_rows_kernel");
    return;
  }
  const int64_t lines = outer * inner;
  int64_t chunk_rows = R, nchunk = 1;
  if (lines < 8192 && R > 4096) {
    const int64_t want = ceil_div(16384, lines);
    chunk_rows = std::max<int64_t>(512, ceil_div(R, want));
    nchunk = ceil_div(R, chunk_rows);
  }
  const dim3 grid(red::grid_x(ceil_div(lines, 256), "cumsum"), unsigned(nchunk));
  if (nchunk == 1) {
    scan_cols_kernel<T, kProd><<<grid, 256, 0, s>>>(x, y, outer, R, inner, chunk_rows, 1, nullptr, nullptr);
    KILN_CUDA_CHECK_LAUNCH("scan_cols_kernel");
    return;
  }
  red::Scratch carry(size_t(lines * nchunk) * sizeof(Acc), s);
  scan_cols_kernel<T, kProd><<<grid, 256, 0, s>>>(x, y, outer, R, inner, chunk_rows, nchunk, nullptr, carry.as<Acc>());
  KILN_CUDA_CHECK_LAUNCH("scan_cols_kernel (totals)");
  launch_carry<Acc, kProd>(carry.as<Acc>(), lines, nchunk, s);
  scan_cols_kernel<T, kProd>
      <<<grid, 256, 0, s>>>(x, y, outer, R, inner, chunk_rows, nchunk, carry.as<const Acc>(), nullptr);
  KILN_CUDA_CHECK_LAUNCH("scan_cols_kernel");
}

}  // namespace

void scan(bool prod, DType dtype, const void* x, int64_t outer, int64_t R, int64_t inner, void* y, Stream stream) {
  if (outer == 0 || R == 0 || inner == 0) return;
  dispatch_dtype(dtype, [&](auto tag) {
    using T = decltype(tag);
    auto* out = static_cast<scan_out_t<T>*>(y);
    if (prod)
      scan_typed<T, true>(static_cast<const T*>(x), outer, R, inner, out, stream);
    else
      scan_typed<T, false>(static_cast<const T*>(x), outer, R, inner, out, stream);
  });
}

}  // namespace kiln::cuda
