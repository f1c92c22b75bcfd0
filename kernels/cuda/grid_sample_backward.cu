// grid_sample backward on CUDA. The grid gradient is per output point (one thread per point loops
// over the channels, as the CPU), so it has no write conflicts. The input gradient is scattered:
// each point adds into up to four input pixels, and points anywhere in the output may hit the same
// pixel.
//
// Note [Deterministic grid_sample backward]
// No float atomics, whatever the deterministic flag: the scatter is turned into a gather.
//   1. One thread per point q writes a record per tap, r = q * ntaps + k (ntaps = 4 for bilinear,
//      1 for nearest): key[r] = the flat input pixel n * H * W + y * W + x (a sentinel N * H * W
//      for taps outside the input or points that read nothing), weight[r] = the tap's weight, and
//      id[r] = r.
//   2. cub::DeviceRadixSort::SortPairs sorts (key, id) by key (on double buffers: the four record
//      arrays are all the extra memory besides CUB's small scratch). The sort is stable, so inside
//      one pixel the ids stay increasing: points in output order, then taps in order k.
//   3. One thread per pixel key finds where its run starts (a binary search over the sorted keys):
//      begin[key], with begin[N * H * W] = the number of in-range records.
//   4. One thread per dx element (n, c, pixel) sums dy[n, c, point(id)] * weight[id] over its run.
// The records depend only on the grid, so they are shared by all channels, and every sum is taken
// in a fixed order: the same as the CPU's (which walks points in order and adds taps 0..3). With
// no FMA contraction (Note [Resampling without FMA], kernels/CMakeLists.txt) results repeat bit for
// bit from run to run and follow the CPU's arithmetic operation for operation. Keys and ids are
// 32-bit when N * H * W and the record count fit, else 64-bit.
#include <algorithm>
#include <cstdint>
#include <cub/device/device_radix_sort.cuh>

#include "kiln/kernels/cuda/check.h"
#include "kiln/kernels/cuda/grid_sample.h"
#include "kiln/kernels/cuda/grid_sample_taps.cuh"
#include "kiln/kernels/cuda/layer_reduce.cuh"
#include "kiln/kernels/layer_dtype.h"

namespace kiln::cuda {
namespace {

using gs::kThreads;

struct Sizes {
  int64_t N, C, H, W, OH, OW;
  __host__ __device__ int64_t pixels() const { return N * H * W; }  // also the sentinel key
  __host__ __device__ int64_t points() const { return N * OH * OW; }
};

__host__ __device__ int ntaps_of(GridSampleMode mode) { return mode == GridSampleMode::nearest ? 1 : 4; }

// True when keys (up to the sentinel) and record ids fit in 32 bits.
bool use_32bit(const Sizes& s, int ntaps) {
  const int64_t lim = int64_t(UINT32_MAX) - 1;
  return s.pixels() + 1 <= lim && s.points() * ntaps <= lim;
}

// Bits the sort must look at: the sentinel N * H * W < 2^bits.
int key_bits(int64_t sentinel) {
  int bits = 1;
  while (bits < 63 && (int64_t(1) << bits) <= sentinel) ++bits;
  return bits;
}

template <class I, class C>
struct Layout {
  I* keys = nullptr;
  I* keys_alt = nullptr;
  I* ids = nullptr;
  I* ids_alt = nullptr;
  C* weights = nullptr;
  I* begin = nullptr;  // [pixels + 1]
  void* cub_temp = nullptr;
  size_t cub_bytes = 0;
  size_t bytes = 0;
};

// The sort runs on double buffers (keys / ids and their alternates, which the records fill
// anyway), so CUB's own scratch stays small.
template <class I>
size_t sort_scratch(int64_t records, int64_t sentinel, Stream stream) {
  size_t bytes = 0;
  cub::DoubleBuffer<I> keys(nullptr, nullptr), ids(nullptr, nullptr);
  KILN_CUDA_CHECK(
      cub::DeviceRadixSort::SortPairs(nullptr, bytes, keys, ids, I(records), 0, key_bits(sentinel), stream));
  return bytes;
}

template <class I, class C>
Layout<I, C> carve(void* base, const Sizes& s, int ntaps, size_t cub_bytes) {
  layer::Carver cv(base);
  const size_t R = size_t(s.points() * ntaps);
  Layout<I, C> l;
  l.keys = cv.take<I>(R);
  l.keys_alt = cv.take<I>(R);
  l.ids = cv.take<I>(R);
  l.ids_alt = cv.take<I>(R);
  l.weights = cv.take<C>(R);
  l.begin = cv.take<I>(size_t(s.pixels() + 1));
  l.cub_temp = cv.take<unsigned char>(cub_bytes);
  l.cub_bytes = cub_bytes;
  l.bytes = cv.used();
  return l;
}

// Step 1 of the Note plus the grid gradient. keys/ids/weights null: no records; dgrid null: no
// grid gradient.
// T: storage type; C = compute_t<T>: arithmetic and weights (16-bit data computed in f32, rounded
// once on store, as the CPU path that converts to f32 and back).
template <class T, class I>
__global__ void __launch_bounds__(kThreads)
    points_kernel(const T* __restrict__ dy, const T* __restrict__ x, const T* __restrict__ grid, T* __restrict__ dgrid,
                  I* __restrict__ keys, I* __restrict__ ids, compute_t<T>* __restrict__ weights, Sizes s,
                  GridSampleMode mode, GridSamplePadding padding, bool align_corners) {
  using C = compute_t<T>;
  const int64_t oplane = s.OH * s.OW, plane = s.H * s.W, total = s.points();
  const int ntaps = ntaps_of(mode);
  for (int64_t q = int64_t(blockIdx.x) * kThreads + threadIdx.x; q < total; q += int64_t(gridDim.x) * kThreads) {
    const int64_t n = q / oplane, p = q - n * oplane;
    C dix, diy;
    const C ix = grid_source_coord_grad(C(grid[2 * q]), s.W, padding, align_corners, &dix);
    const C iy = grid_source_coord_grad(C(grid[2 * q + 1]), s.H, padding, align_corners, &diy);
    const bool usable = gs::coord_usable(ix, iy);
    gs::Taps<C> t{};
    if (usable) t = gs::make_taps(ix, iy, mode);
    if (keys) {
#pragma unroll
      for (int k = 0; k < 4; ++k) {  // fixed bounds keep the taps in registers
        if (k >= ntaps) break;
        const int64_t r = q * ntaps + k;
        const bool in = usable && gs::inside(t.x[k], t.y[k], s.H, s.W);
        keys[r] = I(in ? n * plane + t.y[k] * s.W + t.x[k] : s.pixels());
        ids[r] = I(r);
        weights[r] = in ? t.w[k] : C(0);
      }
    }
    if (!dgrid) continue;
    C gx = C(0), gy = C(0);
    if (usable && mode == GridSampleMode::bilinear) {
      const int64_t x0 = t.x[0], y0 = t.y[0], x1 = x0 + 1, y1 = y0 + 1;
      const C tx = ix - floor(ix), ty = iy - floor(iy);
      const bool in00 = gs::inside(x0, y0, s.H, s.W), in10 = gs::inside(x1, y0, s.H, s.W);
      const bool in01 = gs::inside(x0, y1, s.H, s.W), in11 = gs::inside(x1, y1, s.H, s.W);
      const T* xp = x + n * s.C * plane;
      const T* dp = dy + n * s.C * oplane + p;
      for (int64_t c = 0; c < s.C; ++c, xp += plane, dp += oplane) {
        const C d = C(*dp);
        const C v00 = in00 ? C(xp[y0 * s.W + x0]) : C(0), v10 = in10 ? C(xp[y0 * s.W + x1]) : C(0);
        const C v01 = in01 ? C(xp[y1 * s.W + x0]) : C(0), v11 = in11 ? C(xp[y1 * s.W + x1]) : C(0);
        gx += d * ((v10 - v00) * (C(1) - ty) + (v11 - v01) * ty);
        gy += d * ((v01 - v00) * (C(1) - tx) + (v11 - v10) * tx);
      }
      gx *= dix;
      gy *= diy;
    }
    dgrid[2 * q] = T(gx);
    dgrid[2 * q + 1] = T(gy);
  }
}

// Step 3: begin[k] = first sorted position whose key >= k, for k in [0, pixels].
template <class I>
__global__ void __launch_bounds__(kThreads)
    run_begin_kernel(const I* __restrict__ keys_sorted, int64_t records, I* __restrict__ begin, int64_t pixels) {
  for (int64_t k = int64_t(blockIdx.x) * kThreads + threadIdx.x; k <= pixels; k += int64_t(gridDim.x) * kThreads) {
    int64_t lo = 0, hi = records;
    while (lo < hi) {
      const int64_t mid = lo + (hi - lo) / 2;
      if (int64_t(keys_sorted[mid]) >= k)
        hi = mid;
      else
        lo = mid + 1;
    }
    begin[k] = I(lo);
  }
}

// Step 4: one thread per dx element, consecutive threads on consecutive pixels of one channel.
template <class T, class I>
__global__ void __launch_bounds__(kThreads)
    gather_dx_kernel(const T* __restrict__ dy, const I* __restrict__ ids_sorted,
                     const compute_t<T>* __restrict__ weights, const I* __restrict__ begin, T* __restrict__ dx, Sizes s,
                     int ntaps) {
  using C = compute_t<T>;
  const int64_t plane = s.H * s.W, oplane = s.OH * s.OW, total = s.N * s.C * plane;
  for (int64_t i = int64_t(blockIdx.x) * kThreads + threadIdx.x; i < total; i += int64_t(gridDim.x) * kThreads) {
    const int64_t pix = i % plane, t = i / plane;
    const int64_t n = t / s.C;
    const int64_t key = n * plane + pix;
    const int64_t b = int64_t(begin[key]), e = int64_t(begin[key + 1]);
    // dy[n, c, p] for point q = n * OH * OW + p is at (t - n) * OH * OW + q (t = n * C + c).
    const T* g = dy + (t - n) * oplane;
    C acc = C(0);
    for (int64_t r = b; r < e; ++r) {
      const int64_t id = int64_t(ids_sorted[r]);
      acc += C(g[id / ntaps]) * weights[id];
    }
    dx[i] = T(acc);
  }
}

template <class T, class I>
void run_backward(const T* dy, const T* x, const T* grid, T* dx, T* dgrid, const Sizes& s, GridSampleMode mode,
                  GridSamplePadding padding, bool align_corners, void* workspace, size_t workspace_bytes,
                  Stream stream) {
  const char* op = "cuda::grid_sample_backward";
  const int ntaps = ntaps_of(mode);
  const int64_t records = s.points() * ntaps;
  if (!dx) {
    points_kernel<T, I><<<gs::blocks_for(s.points()), kThreads, 0, stream>>>(
        dy, x, grid, dgrid, nullptr, nullptr, nullptr, s, mode, padding, align_corners);
    KILN_CUDA_CHECK_LAUNCH("grid_sample_backward points_kernel");
    return;
  }
  using C = compute_t<T>;
  const Layout<I, C> l = carve<I, C>(workspace, s, ntaps, sort_scratch<I>(records, s.pixels(), stream));
  layer::check_workspace(op, workspace, workspace_bytes, l.bytes);
  points_kernel<T, I><<<gs::blocks_for(s.points()), kThreads, 0, stream>>>(
      dy, x, grid, dgrid, l.keys, l.ids, l.weights, s, mode, padding, align_corners);
  KILN_CUDA_CHECK_LAUNCH("grid_sample_backward points_kernel");
  // The buffer selectors are updated on the host, so Current() names the sorted arrays at once.
  size_t temp = l.cub_bytes;
  cub::DoubleBuffer<I> keys(l.keys, l.keys_alt), ids(l.ids, l.ids_alt);
  KILN_CUDA_CHECK(
      cub::DeviceRadixSort::SortPairs(l.cub_temp, temp, keys, ids, I(records), 0, key_bits(s.pixels()), stream));
  run_begin_kernel<I><<<gs::blocks_for(s.pixels() + 1), kThreads, 0, stream>>>(keys.Current(), records, l.begin,
                                                                                s.pixels());
  KILN_CUDA_CHECK_LAUNCH("grid_sample_backward run_begin_kernel");
  gather_dx_kernel<T, I><<<gs::blocks_for(s.N * s.C * s.H * s.W), kThreads, 0, stream>>>(
      dy, ids.Current(), l.weights, l.begin, dx, s, ntaps);
  KILN_CUDA_CHECK_LAUNCH("grid_sample_backward gather_dx_kernel");
}

}  // namespace

size_t grid_sample_backward_workspace_size(DType dtype, int64_t N, int64_t H, int64_t W, int64_t OH, int64_t OW,
                                           GridSampleMode mode, bool need_dx) {
  const Sizes s{N, 1, H, W, OH, OW};
  const int ntaps = ntaps_of(mode);
  const int64_t records = s.points() * ntaps;
  size_t bytes = 0;
  dispatch_layer_dtype(dtype, "cuda::grid_sample_backward_workspace_size", [&](auto tag) {
    using C = compute_t<decltype(tag)>;
    if (!need_dx || s.points() == 0 || s.pixels() == 0) return;
    if (use_32bit(s, ntaps))
      bytes = carve<uint32_t, C>(nullptr, s, ntaps, sort_scratch<uint32_t>(records, s.pixels(), nullptr)).bytes;
    else
      bytes = carve<unsigned long long, C>(nullptr, s, ntaps,
                                           sort_scratch<unsigned long long>(records, s.pixels(), nullptr))
                  .bytes;
  });
  return bytes;
}

void grid_sample_backward(DType dtype, const void* dy, const void* x, const void* grid, void* dx, void* dgrid,
                          int64_t N, int64_t C, int64_t H, int64_t W, int64_t OH, int64_t OW, GridSampleMode mode,
                          GridSamplePadding padding, bool align_corners, void* workspace, size_t workspace_bytes,
                          Stream stream) {
  const char* op = "cuda::grid_sample_backward";
  KILN_CHECK(H > 0 && W > 0, op, ": input spatial size must be non-empty, got ", H, "x", W);
  const Sizes s{N, C, H, W, OH, OW};
  dispatch_layer_dtype(dtype, op, [&](auto tag) {
    using T = decltype(tag);
    if (s.points() == 0 || C == 0) {
      // Nothing is read: dx is all zeros; dgrid is zeros (C == 0) or empty. Zero bits are 0.0 in every T.
      if (dx && N * C * H * W > 0) KILN_CUDA_CHECK(cudaMemsetAsync(dx, 0, size_t(N * C * H * W) * sizeof(T), stream));
      if (dgrid && s.points() > 0)
        KILN_CUDA_CHECK(cudaMemsetAsync(dgrid, 0, size_t(s.points() * 2) * sizeof(T), stream));
      return;
    }
    if (!dx && !dgrid) return;
    const T* dyp = static_cast<const T*>(dy);
    const T* xp = static_cast<const T*>(x);
    const T* gp = static_cast<const T*>(grid);
    T* dxp = static_cast<T*>(dx);
    T* dgp = static_cast<T*>(dgrid);
    if (use_32bit(s, ntaps_of(mode)))
      run_backward<T, uint32_t>(dyp, xp, gp, dxp, dgp, s, mode, padding, align_corners, workspace, workspace_bytes,
                                stream);
    else
      run_backward<T, unsigned long long>(dyp, xp, gp, dxp, dgp, s, mode, padding, align_corners, workspace,
                                          workspace_bytes, stream);
  });
}

}  // namespace kiln::cuda
