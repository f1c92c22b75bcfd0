#pragma once
// The two CUDA reduction kernels behind kernels/cuda/reduce.h, generic over a fold of
// kernels/reduce_math.h, and their launchers (one or two passes). Include from .cu files only.
//
// Note [CUDA reduction layouts]
// Every reduction is brought (by the tensor layer's plan, tensor/reduce_plan.h) to one of:
//  - segments: output o reduces A segments of B contiguous elements, segment a starting at
//    o * out_stride + a * seg_stride. A row reduce of x[outer, R] is A = 1, B = R, out_stride = R;
//    the split reduce of x[A, K, B] over dims 0 and 2 is out_stride = B, seg_stride = K * B.
//    Four lanes (at most 16 groups, see below), a warp (at most 4096 elements) or a block of
//    kThreads threads reduces one output (segment_kernel). The elements are walked in groups of
//    G = 16 / sizeof(T) consecutive elements of one segment; thread t takes groups t, t + S, t + 2S... (S threads per output)
//    and absorbs each group's elements in order. When every group is full and 16-byte aligned a
//    group is one vector load, else G scalar loads: the order of the folds is the same either
//    way, so the result does not depend on where the allocator put the tensor.
//  - columns: x[outer, R, inner] reduced over R with inner > 1: a block covers 32 consecutive
//    outputs (coalesced along inner) x 8 slices of R; slice k takes rows k, k + 8, ...; the 8
//    partials of an output are combined in slice order through shared memory (column_kernel).
// Long reductions with few outputs are cut into chunks of the reduced range, each chunk reduced
// by its own block into a partial in scratch memory, and the partials of an output are combined
// in chunk order by a second launch of the same kernels (Note [Deterministic block reduction]).
// Every choice (S, chunk sizes) is a function of the shape only, never of the device, so the same
// inputs give bit-identical results on every run and every GPU. No atomics.
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "kiln/kernels/cuda/allocator.h"
#include "kiln/kernels/cuda/check.h"
#include "kiln/kernels/cuda/stream.h"
#include "kiln/kernels/macros.h"
#include "kiln/kernels/reduce_math.h"

namespace kiln::cuda::red {

constexpr int kThreads = 256;        // block size of both kernels
constexpr int kColSlices = kThreads / 32;

KILN_HD int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }
KILN_HD int64_t imin(int64_t a, int64_t b) { return a < b ? a : b; }

// gridDim.x for `blocks` blocks (at most 2^31 - 1).
inline unsigned grid_x(int64_t blocks, const char* what) {
  KILN_CHECK(blocks > 0 && blocks <= 2147483647, what, ": ", blocks, " blocks is outside the CUDA grid limit");
  return unsigned(blocks);
}

// __shfl_down_sync of any accumulator within segments of `width` lanes (a power of two <= 32):
// scalars of up to 8 bytes by their bits, ArgAcc by field. All 32 lanes must call it.
template <class V>
__device__ __forceinline__ V shfl_down(V v, int off, int width = 32) {
  if constexpr (sizeof(V) == 8) {
    unsigned long long u;
    memcpy(&u, &v, 8);
    u = __shfl_down_sync(0xffffffffu, u, off, width);
    memcpy(&v, &u, 8);
    return v;
  } else if constexpr (sizeof(V) <= 4) {
    unsigned u = 0;
    memcpy(&u, &v, sizeof(V));
    u = __shfl_down_sync(0xffffffffu, u, off, width);
    memcpy(&v, &u, sizeof(V));
    return v;
  } else {
    V r;
    r.v = shfl_down(v.v, off, width);
    r.i = shfl_down(v.i, off, width);
    return r;
  }
}

// __shfl_up_sync of a scalar of up to 8 bytes, by its bits.
template <class V>
__device__ __forceinline__ V shfl_up(V v, int off) {
  static_assert(sizeof(V) == 8 || sizeof(V) <= 4);
  if constexpr (sizeof(V) == 8) {
    unsigned long long u;
    memcpy(&u, &v, 8);
    u = __shfl_up_sync(0xffffffffu, u, off);
    memcpy(&v, &u, 8);
  } else {
    unsigned u = 0;
    memcpy(&u, &v, sizeof(V));
    u = __shfl_up_sync(0xffffffffu, u, off);
    memcpy(&v, &u, sizeof(V));
  }
  return v;
}

// Fixed tree over each segment of W lanes of a warp (all 32 lanes call it); the first lane of each
// segment gets its segment's result.
template <int W = 32, class Op, class Acc>
__device__ __forceinline__ Acc warp_fold(const Op& op, Acc v) {
  for (int off = W / 2; off > 0; off >>= 1) v = op.combine(v, shfl_down(v, off, W));
  return v;
}

// Elements per group (16 bytes of T); 1 when combining partials.
template <class In, bool kCombine>
constexpr int kGroup = kCombine ? 1 : int(16 / sizeof(In));

struct Segments {
  int64_t outputs = 0;
  int64_t A = 1, B = 0;
  int64_t out_stride = 0, seg_stride = 0;
  int64_t chunk_groups = 0;  // groups per chunk (the whole output when nchunk == 1)
  int64_t nchunk = 1;
  bool vec = false;          // every group full and 16-byte aligned
};

// S <= 32: S lanes of a warp per output (S = 4 for very short reductions, 32 otherwise),
// kThreads / S outputs per block, no chunks; S = kThreads: one block per (output, chunk).
// In: T (kCombine false: op.step) or Op::Acc (kCombine: op.combine).
// partial: null (write the output through op.write) or [outputs * nchunk] accumulators.
template <int S, bool kCombine, class Op, class In>
__global__ void __launch_bounds__(kThreads)
    segment_kernel(Op op, const In* __restrict__ x, Segments L, typename Op::Acc* __restrict__ partial,
                   const typename Op::Acc* __restrict__ centre) {
  using Acc = typename Op::Acc;
  constexpr int G = kGroup<In, kCombine>;
  __shared__ Acc warp_part[kThreads / 32];
  constexpr bool kSub = S <= 32;
  const int tid = threadIdx.x % S;
  int64_t o, c;
  bool live = true;
  if constexpr (kSub) {
    // Lanes past the last output stay (without work) for the shuffles, which need the whole warp.
    o = int64_t(blockIdx.x) * (kThreads / S) + threadIdx.x / S;
    c = 0;
    live = o < L.outputs;
  } else {
    o = int64_t(blockIdx.x) / L.nchunk;
    c = int64_t(blockIdx.x) % L.nchunk;
  }
  const Acc cen = Op::kCenter && live ? centre[o] : Acc{};
  const int64_t gps = L.B > 0 ? ceil_div(L.B, G) : 1;  // groups per segment (no division by 0)
  const int64_t q_end = live ? imin((c + 1) * L.chunk_groups, L.B > 0 ? L.A * gps : 0) : 0;
  int64_t q = c * L.chunk_groups + tid;
  int64_t a = q / gps, g = q % gps;
  Acc acc = op.init();
  if constexpr (!kCombine) {
    if (L.vec && L.A == 1) {
      // Aligned rows: four vector loads in flight per thread, folded in the same order as the
      // loop below (groups q, q + S, q + 2S, q + 3S), so the result is the same as without.
      constexpr int U = 4;
      const uint4* row = reinterpret_cast<const uint4*>(x + o * L.out_stride);
      for (; q + (U - 1) * S < q_end; q += U * S) {
        uint4 u[U];
#pragma unroll
        for (int k = 0; k < U; ++k) u[k] = row[q + k * S];
#pragma unroll
        for (int k = 0; k < U; ++k) {
          In v[G];
          memcpy(v, &u[k], 16);
#pragma unroll
          for (int e = 0; e < G; ++e) acc = op.step(acc, compute_t<In>(v[e]), cen, (q + k * S) * G + e);
        }
      }
      a = 0;
      g = q;
    }
  }
  for (; q < q_end; q += S) {
    const int64_t b0 = g * G;
    const In* p = x + o * L.out_stride + a * L.seg_stride + b0;
    if constexpr (kCombine) {
      acc = op.combine(acc, *p);
    } else {
      const int64_t r0 = a * L.B + b0;
      if (L.vec) {
        const uint4 u = *reinterpret_cast<const uint4*>(p);
        In v[G];
        memcpy(v, &u, 16);
#pragma unroll
        for (int e = 0; e < G; ++e) acc = op.step(acc, compute_t<In>(v[e]), cen, r0 + e);
      } else {
        const int64_t n = imin(G, L.B - b0);
#pragma unroll
        for (int e = 0; e < G; ++e)
          if (e < n) acc = op.step(acc, compute_t<In>(p[e]), cen, r0 + e);
      }
    }
    g += S;
    if (g >= gps) {
      a += g / gps;
      g %= gps;
    }
  }
  acc = warp_fold<kSub ? S : 32>(op, acc);
  if constexpr (!kSub) {
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    if (lane == 0) warp_part[warp] = acc;
    __syncthreads();
    if (warp != 0) return;
    acc = lane < kThreads / 32 ? warp_part[lane] : op.init();
    acc = warp_fold(op, acc);
  }
  if (tid != 0 || !live) return;  // (block mode: only warp 0 is left, tid = threadIdx.x)
  if (partial)
    partial[o * L.nchunk + c] = acc;
  else
    op.write(o, acc, cen);
}

struct Columns {
  int64_t outer = 0, R = 0, inner = 0;
  int64_t chunk_rows = 0;  // rows of R per chunk (blockIdx.y)
  int64_t nchunk = 1;
};

// Block: 32 outputs (threadIdx.x % 32) x 8 slices of the rows of one chunk (threadIdx.x / 32).
// partial: null, or [nchunk, outer * inner] accumulators (chunk-major, so that the combining pass
// is again a column reduce).
template <bool kCombine, class Op, class In>
__global__ void __launch_bounds__(kThreads)
    column_kernel(Op op, const In* __restrict__ x, Columns L, typename Op::Acc* __restrict__ partial,
                  const typename Op::Acc* __restrict__ centre) {
  using Acc = typename Op::Acc;
  __shared__ Acc part[kColSlices][32];
  const int lane = threadIdx.x & 31, slice = threadIdx.x >> 5;
  const int64_t outputs = L.outer * L.inner;
  const int64_t j = int64_t(blockIdx.x) * 32 + lane;
  const int64_t c = blockIdx.y;
  const bool live = j < outputs;
  Acc acc = op.init();
  Acc cen{};
  if (live) {
    if constexpr (Op::kCenter) cen = centre[j];
    const int64_t o = j / L.inner, i = j % L.inner;
    const int64_t r_end = imin((c + 1) * L.chunk_rows, L.R);
    const In* base = x + o * L.R * L.inner + i;
#pragma unroll 4
    for (int64_t r = c * L.chunk_rows + slice; r < r_end; r += kColSlices) {
      if constexpr (kCombine)
        acc = op.combine(acc, base[r * L.inner]);
      else
        acc = op.step(acc, compute_t<In>(base[r * L.inner]), cen, r);
    }
  }
  part[slice][lane] = acc;
  __syncthreads();
  if (slice != 0 || !live) return;
  for (int k = 1; k < kColSlices; ++k) acc = op.combine(acc, part[k][lane]);
  if (partial)
    partial[c * outputs + j] = acc;
  else
    op.write(j, acc, cen);
}

// Scratch memory from the caching allocator, freed (stream-ordered) when the scope ends, after the
// kernels that use it have been queued on the same stream.
class Scratch {
 public:
  Scratch(size_t bytes, Stream s) {
    if (bytes == 0) return;
    int dev = 0;
    KILN_CUDA_CHECK(cudaGetDevice(&dev));
    p_ = device_allocate(bytes, dev, s);
  }
  ~Scratch() {
    if (p_) device_free(p_);
  }
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;
  template <class V>
  V* as() const {
    return static_cast<V*>(p_);
  }

 private:
  void* p_ = nullptr;
};

// The partial-combining pass keeps the fold but writes through op.write.
template <class Op>
void launch_segments(const Op& op, const typename Op::Acc* partial, int64_t outputs, int64_t nchunk,
                     const typename Op::Acc* centre, Stream s);

// Runs fold `op` over x read as Segments (A, B, out_stride, seg_stride set by the caller).
template <class Op, class T>
void run_segments(const Op& op, const T* x, Segments L, const typename Op::Acc* centre, Stream s) {
  using Acc = typename Op::Acc;
  if (L.outputs == 0) return;
  constexpr int G = kGroup<T, false>;
  const int64_t per_output = L.A * L.B;
  const int64_t groups = L.A * ceil_div(L.B, G);
  L.vec = L.B % G == 0 && reinterpret_cast<uintptr_t>(x) % 16 == 0 && L.out_stride % G == 0 &&
          L.seg_stride % G == 0;
  L.nchunk = 1;
  L.chunk_groups = groups;
  if (groups <= 16) {
    // Very short reductions: 4 lanes per output.
    const int64_t blocks = ceil_div(L.outputs, kThreads / 4);
    segment_kernel<4, false><<<grid_x(blocks, "reduce"), kThreads, 0, s>>>(op, x, L, (Acc*)nullptr, centre);
    KILN_CUDA_CHECK_LAUNCH("segment_kernel");
    return;
  }
  if (per_output <= 4096) {
    // Short reductions: a warp per output.
    const int64_t blocks = ceil_div(L.outputs, kThreads / 32);
    segment_kernel<32, false><<<grid_x(blocks, "reduce"), kThreads, 0, s>>>(op, x, L, (Acc*)nullptr, centre);
    KILN_CUDA_CHECK_LAUNCH("segment_kernel");
    return;
  }
  if (L.outputs < 512 && groups > 4096) {
    // Few long reductions: chunks of at least 2048 groups, about 1024 blocks in all.
    const int64_t want = ceil_div(1024, L.outputs);
    L.chunk_groups = std::max<int64_t>(2048, ceil_div(groups, want));
    L.nchunk = ceil_div(groups, L.chunk_groups);
  }
  if (L.nchunk == 1) {
    segment_kernel<kThreads, false><<<grid_x(L.outputs, "reduce"), kThreads, 0, s>>>(op, x, L, (Acc*)nullptr, centre);
    KILN_CUDA_CHECK_LAUNCH("segment_kernel");
    return;
  }
  Scratch part(size_t(L.outputs * L.nchunk) * sizeof(Acc), s);
  segment_kernel<kThreads, false>
      <<<grid_x(L.outputs * L.nchunk, "reduce"), kThreads, 0, s>>>(op, x, L, part.template as<Acc>(), centre);
  KILN_CUDA_CHECK_LAUNCH("segment_kernel");
  launch_segments(op, part.template as<Acc>(), L.outputs, L.nchunk, centre, s);
}

template <class Op>
void launch_segments(const Op& op, const typename Op::Acc* partial, int64_t outputs, int64_t nchunk,
                     const typename Op::Acc* centre, Stream s) {
  using Acc = typename Op::Acc;
  Segments P;
  P.outputs = outputs;
  P.A = 1;
  P.B = nchunk;
  P.out_stride = nchunk;
  P.chunk_groups = nchunk;
  P.nchunk = 1;
  if (nchunk <= 256) {
    segment_kernel<32, true><<<grid_x(ceil_div(outputs, kThreads / 32), "reduce"), kThreads, 0, s>>>(
        op, partial, P, (Acc*)nullptr, centre);
  } else {
    segment_kernel<kThreads, true><<<grid_x(outputs, "reduce"), kThreads, 0, s>>>(op, partial, P, (Acc*)nullptr, centre);
  }
  KILN_CUDA_CHECK_LAUNCH("segment_kernel (partials)");
}

// Runs fold `op` over x[outer, R, inner] reduced over R (inner > 1).
template <class Op, class T>
void run_columns(const Op& op, const T* x, int64_t outer, int64_t R, int64_t inner, const typename Op::Acc* centre,
                 Stream s) {
  using Acc = typename Op::Acc;
  const int64_t outputs = outer * inner;
  if (outputs == 0) return;
  Columns L{outer, R, inner, std::max<int64_t>(R, 1), 1};
  const int64_t col_blocks = ceil_div(outputs, 32);
  if (col_blocks < 128 && R > 512) {
    // Few output blocks for a long R: about 512 blocks, chunks of at least 256 rows.
    const int64_t want = ceil_div(512, col_blocks);
    L.chunk_rows = std::max<int64_t>(256, ceil_div(R, want));
    L.nchunk = ceil_div(R, L.chunk_rows);
  }
  if (L.nchunk == 1) {
    column_kernel<false><<<dim3(grid_x(col_blocks, "reduce"), 1), kThreads, 0, s>>>(op, x, L, (Acc*)nullptr, centre);
    KILN_CUDA_CHECK_LAUNCH("column_kernel");
    return;
  }
  Scratch part(size_t(outputs * L.nchunk) * sizeof(Acc), s);
  column_kernel<false><<<dim3(grid_x(col_blocks, "reduce"), unsigned(L.nchunk)), kThreads, 0, s>>>(
      op, x, L, part.template as<Acc>(), centre);
  KILN_CUDA_CHECK_LAUNCH("column_kernel");
  Columns P{1, L.nchunk, outputs, L.nchunk, 1};
  column_kernel<true><<<dim3(grid_x(col_blocks, "reduce"), 1), kThreads, 0, s>>>(op, part.template as<const Acc>(), P,
                                                                          (Acc*)nullptr, centre);
  KILN_CUDA_CHECK_LAUNCH("column_kernel (partials)");
}

// x[outer, R, inner] reduced over R: segments when inner == 1, columns otherwise.
template <class Op, class T>
void run_reduce(const Op& op, const T* x, int64_t outer, int64_t R, int64_t inner, const typename Op::Acc* centre,
                Stream s) {
  if (outer == 0 || inner == 0) return;
  if (inner == 1) {
    Segments L;
    L.outputs = outer;
    L.A = 1;
    L.B = R;
    L.out_stride = R;
    L.seg_stride = 0;
    run_segments(op, x, L, centre, s);
  } else {
    run_columns(op, x, outer, R, inner, centre, s);
  }
}

// x[A, K, B] reduced over dims 0 and 2 into K outputs.
template <class Op, class T>
void run_reduce_split(const Op& op, const T* x, int64_t A, int64_t K, int64_t B, const typename Op::Acc* centre,
                      Stream s) {
  Segments L;
  L.outputs = K;
  L.A = A;
  L.B = B;
  L.out_stride = B;
  L.seg_stride = K * B;
  run_segments(op, x, L, centre, s);
}

}  // namespace kiln::cuda::red
