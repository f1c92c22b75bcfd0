// 2-d pooling on CUDA. Forward kernels give each output element one thread (grid-stride), which
// walks its window in the CPU's order. Backward kernels gather (Note [Pool backward by gathering]
// in kernels/pool_math.h), except max_pool2d_backward, which does not know the window geometry:
//
// Note [Max-pool backward by sorting]
// max_pool2d_backward receives only dy, the saved indices and the input shape, so an input element
// cannot enumerate the outputs that may point at it. Instead, every output o becomes a pair
// (key = plane * in_plane + idx[o], value = dy[o]); a stable radix sort by key (cub) groups the
// pairs of each input element with their outputs still in increasing order; the first pair of each
// group adds the group's values in that order and writes the element, and dx is zero elsewhere.
// No atomics: runs are bit-identical, and the additions happen in the CPU's order.
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cub/device/device_radix_sort.cuh>

#include "kiln/kernels/cuda/allocator.h"
#include "kiln/kernels/cuda/check.h"
#include "kiln/kernels/cuda/layer_reduce.cuh"
#include "kiln/kernels/cuda/pool.h"
#include "kiln/kernels/layer_dtype.h"
#include "kiln/kernels/pool_math.h"

namespace kiln::cuda {
namespace {

constexpr int kThreads = 256;

// Grid-stride launch size for n items: at most 2^20 blocks.
unsigned blocks_for(int64_t n) {
  return unsigned(std::min<int64_t>(layer::ceil_div(n, kThreads), int64_t(1) << 20));
}

// Grid-stride loop bounds: this thread's first item and the step between its items.
__device__ __forceinline__ int64_t first_item() { return int64_t(blockIdx.x) * blockDim.x + threadIdx.x; }
__device__ __forceinline__ int64_t item_step() { return int64_t(gridDim.x) * blockDim.x; }

__device__ __forceinline__ int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }

template <class Cm>
__device__ __forceinline__ Cm neg_inf() {
  return -Cm(INFINITY);
}

template <class T>
__global__ void __launch_bounds__(kThreads)
    max_pool_forward_kernel(const T* __restrict__ x, T* __restrict__ y, int64_t* __restrict__ idx, int64_t total,
                            Pool2dGeom g) {
  using Cm = compute_t<T>;
  for (int64_t i = first_item(); i < total; i += item_step()) {
    const int64_t ow = i % g.OW, t = i / g.OW, oh = t % g.OH, p = t / g.OH;
    const T* xp = x + p * g.H * g.W;
    const int64_t hs = oh * g.sh - g.ph, ws = ow * g.sw - g.pw;
    const int64_t h0 = pool::first_valid(hs, g.dh), w0 = pool::first_valid(ws, g.dw);
    const int64_t h1 = min64(hs + (g.kh - 1) * g.dh + 1, g.H), w1 = min64(ws + (g.kw - 1) * g.dw + 1, g.W);
    Cm best = neg_inf<Cm>();
    int64_t bi = h0 * g.W + w0;
    for (int64_t ih = h0; ih < h1; ih += g.dh)
      for (int64_t iw = w0; iw < w1; iw += g.dw) {
        const Cm v = Cm(xp[ih * g.W + iw]);
        if (pool::max_takes(v, best)) {
          best = v;
          bi = ih * g.W + iw;
        }
      }
    y[i] = T(best);
    idx[i] = bi;
  }
}

template <class T>
__global__ void __launch_bounds__(kThreads)
    avg_pool_forward_kernel(const T* __restrict__ x, T* __restrict__ y, int64_t total, Pool2dGeom g,
                            bool count_include_pad, int64_t divisor) {
  using Cm = compute_t<T>;
  for (int64_t i = first_item(); i < total; i += item_step()) {
    const int64_t ow = i % g.OW, t = i / g.OW, oh = t % g.OH, p = t / g.OH;
    const pool::AvgSpan hsp = pool::avg_span(oh, g.H, g.kh, g.sh, g.ph);
    const pool::AvgSpan wsp = pool::avg_span(ow, g.W, g.kw, g.sw, g.pw);
    if (hsp.lo >= hsp.hi || wsp.lo >= wsp.hi) {
      y[i] = T(Cm(0));
      continue;
    }
    const T* xp = x + p * g.H * g.W;
    Cm s = Cm(0);
    for (int64_t ih = hsp.lo; ih < hsp.hi; ++ih)
      for (int64_t iw = wsp.lo; iw < wsp.hi; ++iw) s += Cm(xp[ih * g.W + iw]);
    y[i] = T(s / Cm(pool::avg_divisor(hsp, wsp, count_include_pad, divisor)));
  }
}

// One thread per input element: the outputs whose windows cover it, in increasing order.
template <class T>
__global__ void __launch_bounds__(kThreads)
    avg_pool_backward_kernel(const T* __restrict__ dy, T* __restrict__ dx, int64_t total, Pool2dGeom g,
                             bool count_include_pad, int64_t divisor) {
  using Cm = compute_t<T>;
  for (int64_t i = first_item(); i < total; i += item_step()) {
    const int64_t iw = i % g.W, t = i / g.W, ih = t % g.H, p = t / g.H;
    int64_t oh0, oh1, ow0, ow1;
    pool::pool_cover_range(ih, g.kh, g.sh, g.ph, g.OH, oh0, oh1);
    pool::pool_cover_range(iw, g.kw, g.sw, g.pw, g.OW, ow0, ow1);
    const T* gp = dy + p * g.OH * g.OW;
    Cm acc = Cm(0);
    for (int64_t oh = oh0; oh < oh1; ++oh) {
      const pool::AvgSpan hsp = pool::avg_span(oh, g.H, g.kh, g.sh, g.ph);
      for (int64_t ow = ow0; ow < ow1; ++ow) {
        const pool::AvgSpan wsp = pool::avg_span(ow, g.W, g.kw, g.sw, g.pw);
        acc += Cm(gp[oh * g.OW + ow]) / Cm(pool::avg_divisor(hsp, wsp, count_include_pad, divisor));
      }
    }
    dx[i] = T(acc);
  }
}

template <class T>
__global__ void __launch_bounds__(kThreads)
    adaptive_avg_forward_kernel(const T* __restrict__ x, T* __restrict__ y, int64_t total, int64_t H, int64_t W,
                                int64_t OH, int64_t OW) {
  using Cm = compute_t<T>;
  for (int64_t i = first_item(); i < total; i += item_step()) {
    const int64_t ow = i % OW, t = i / OW, oh = t % OH, p = t / OH;
    const int64_t h0 = pool::adaptive_start(oh, H, OH), h1 = pool::adaptive_end(oh, H, OH);
    const int64_t w0 = pool::adaptive_start(ow, W, OW), w1 = pool::adaptive_end(ow, W, OW);
    const T* xp = x + p * H * W;
    Cm s = Cm(0);
    for (int64_t ih = h0; ih < h1; ++ih)
      for (int64_t iw = w0; iw < w1; ++iw) s += Cm(xp[ih * W + iw]);
    y[i] = T(s / Cm((h1 - h0) * (w1 - w0)));
  }
}

template <class T>
__global__ void __launch_bounds__(kThreads)
    adaptive_avg_backward_kernel(const T* __restrict__ dy, T* __restrict__ dx, int64_t total, int64_t H, int64_t W,
                                 int64_t OH, int64_t OW) {
  using Cm = compute_t<T>;
  for (int64_t i = first_item(); i < total; i += item_step()) {
    const int64_t iw = i % W, t = i / W, ih = t % H, p = t / H;
    int64_t oh0, oh1, ow0, ow1;
    pool::adaptive_cover_range(ih, H, OH, oh0, oh1);
    pool::adaptive_cover_range(iw, W, OW, ow0, ow1);
    const T* gp = dy + p * OH * OW;
    Cm acc = Cm(0);
    for (int64_t oh = oh0; oh < oh1; ++oh) {
      const int64_t hn = pool::adaptive_end(oh, H, OH) - pool::adaptive_start(oh, H, OH);
      for (int64_t ow = ow0; ow < ow1; ++ow) {
        const int64_t wn = pool::adaptive_end(ow, W, OW) - pool::adaptive_start(ow, W, OW);
        acc += Cm(gp[oh * OW + ow]) / Cm(hn * wn);
      }
    }
    dx[i] = T(acc);
  }
}

template <class T>
__global__ void __launch_bounds__(kThreads)
    adaptive_max_forward_kernel(const T* __restrict__ x, T* __restrict__ y, int64_t* __restrict__ idx, int64_t total,
                                int64_t H, int64_t W, int64_t OH, int64_t OW) {
  using Cm = compute_t<T>;
  for (int64_t i = first_item(); i < total; i += item_step()) {
    const int64_t ow = i % OW, t = i / OW, oh = t % OH, p = t / OH;
    const int64_t h0 = pool::adaptive_start(oh, H, OH), h1 = pool::adaptive_end(oh, H, OH);
    const int64_t w0 = pool::adaptive_start(ow, W, OW), w1 = pool::adaptive_end(ow, W, OW);
    const T* xp = x + p * H * W;
    Cm best = neg_inf<Cm>();
    int64_t bi = h0 * W + w0;
    for (int64_t ih = h0; ih < h1; ++ih)
      for (int64_t iw = w0; iw < w1; ++iw) {
        const Cm v = Cm(xp[ih * W + iw]);
        if (pool::max_takes(v, best)) {
          best = v;
          bi = ih * W + iw;
        }
      }
    y[i] = T(best);
    idx[i] = bi;
  }
}

template <class T>
__global__ void __launch_bounds__(kThreads)
    adaptive_max_backward_kernel(const T* __restrict__ dy, const int64_t* __restrict__ idx, T* __restrict__ dx,
                                 int64_t total, int64_t H, int64_t W, int64_t OH, int64_t OW) {
  using Cm = compute_t<T>;
  for (int64_t i = first_item(); i < total; i += item_step()) {
    const int64_t iw = i % W, t = i / W, ih = t % H, p = t / H;
    const int64_t me = ih * W + iw;
    int64_t oh0, oh1, ow0, ow1;
    pool::adaptive_cover_range(ih, H, OH, oh0, oh1);
    pool::adaptive_cover_range(iw, W, OW, ow0, ow1);
    const T* gp = dy + p * OH * OW;
    const int64_t* ip = idx + p * OH * OW;
    Cm acc = Cm(0);
    for (int64_t oh = oh0; oh < oh1; ++oh)
      for (int64_t ow = ow0; ow < ow1; ++ow)
        if (ip[oh * OW + ow] == me) acc += Cm(gp[oh * OW + ow]);
    dx[i] = T(acc);
  }
}

// Adaptive pools with large windows (global pooling above all): one warp per output. Each lane
// walks a strided share of the window, then the warp combines lanes with a fixed shuffle tree
// (sums for kMax = false; pool::max_merge for kMax = true, which keeps the CPU's choice of
// position). All 32 lanes of a warp work on the same output, so the full-mask shuffles are safe.
template <class T, bool kMax>
__global__ void __launch_bounds__(kThreads)
    adaptive_window_warp_kernel(const T* __restrict__ x, T* __restrict__ y, int64_t* __restrict__ idx, int64_t total,
                                int64_t H, int64_t W, int64_t OH, int64_t OW) {
  using Cm = compute_t<T>;
  const int lane = threadIdx.x & 31;
  const int64_t warps = item_step() >> 5;
  for (int64_t i = first_item() >> 5; i < total; i += warps) {
    const int64_t ow = i % OW, t = i / OW, oh = t % OH, p = t / OH;
    const int64_t h0 = pool::adaptive_start(oh, H, OH), h1 = pool::adaptive_end(oh, H, OH);
    const int64_t w0 = pool::adaptive_start(ow, W, OW), w1 = pool::adaptive_end(ow, W, OW);
    const int64_t ww = w1 - w0, area = (h1 - h0) * ww;
    const T* xp = x + p * H * W;
    Cm acc = kMax ? neg_inf<Cm>() : Cm(0);
    int64_t at = INT64_MAX;
    for (int64_t j = lane; j < area; j += 32) {
      const int64_t pos = (h0 + j / ww) * W + w0 + j % ww;
      const Cm v = Cm(xp[pos]);
      if constexpr (kMax)
        pool::max_merge(acc, at, v, pos);
      else
        acc += v;
    }
    for (int off = 16; off > 0; off >>= 1) {
      const Cm other = __shfl_down_sync(0xffffffffu, acc, off);
      if constexpr (kMax) {
        const int64_t other_at = __shfl_down_sync(0xffffffffu, (long long)at, off);
        pool::max_merge(acc, at, other, other_at);
      } else {
        acc += other;
      }
    }
    if (lane == 0) {
      if constexpr (kMax) {
        y[i] = T(acc);
        idx[i] = at;
      } else {
        y[i] = T(acc / Cm(area));
      }
    }
  }
}

// Windows of at least this many values (the largest adaptive window) take the warp kernel.
constexpr int64_t kWarpWindow = 64;

bool use_warp_kernel(int64_t H, int64_t W, int64_t OH, int64_t OW) {
  return layer::ceil_div(H, OH) * layer::ceil_div(W, OW) >= kWarpWindow;
}

unsigned warp_blocks_for(int64_t n) {
  return unsigned(std::min<int64_t>(layer::ceil_div(n, kThreads / 32), int64_t(1) << 20));
}

// ---- max_pool2d_backward (Note [Max-pool backward by sorting]).
using Key = unsigned long long;

template <class T>
__global__ void __launch_bounds__(kThreads)
    max_pairs_kernel(const T* __restrict__ dy, const int64_t* __restrict__ idx, Key* __restrict__ keys,
                     compute_t<T>* __restrict__ vals, int64_t n, int64_t out_plane, int64_t in_plane, Key sentinel) {
  using Cm = compute_t<T>;
  for (int64_t o = first_item(); o < n; o += item_step()) {
    const int64_t p = o / out_plane, i = idx[o];
    keys[o] = (i >= 0 && i < in_plane) ? Key(p * in_plane + i) : sentinel;
    vals[o] = Cm(dy[o]);
  }
}

template <class T>
__global__ void __launch_bounds__(kThreads)
    max_segments_kernel(const Key* __restrict__ keys, const compute_t<T>* __restrict__ vals, T* __restrict__ dx,
                        int64_t n, Key sentinel) {
  using Cm = compute_t<T>;
  for (int64_t j = first_item(); j < n; j += item_step()) {
    const Key k = keys[j];
    if (k >= sentinel || (j > 0 && keys[j - 1] == k)) continue;
    Cm acc = Cm(0);
    for (int64_t q = j; q < n && keys[q] == k; ++q) acc += vals[q];
    dx[k] = T(acc);
  }
}

int bits_for(uint64_t v) {  // smallest b with v < 2^b
  int b = 1;
  while (b < 64 && (uint64_t(1) << b) <= v) ++b;
  return b;
}

}  // namespace

void max_pool2d_forward(DType dtype, const void* x, void* y, int64_t* idx, int64_t planes, const Pool2dGeom& g,
                        Stream stream) {
  const int64_t total = planes * g.OH * g.OW;
  if (total == 0) return;
  dispatch_layer_dtype(dtype, "cuda::max_pool2d_forward", [&](auto tag) {
    using T = decltype(tag);
    max_pool_forward_kernel<T><<<blocks_for(total), kThreads, 0, stream>>>(static_cast<const T*>(x),
                                                                            static_cast<T*>(y), idx, total, g);
    KILN_CUDA_CHECK_LAUNCH("max_pool_forward_kernel");
  });
}

void max_pool2d_backward(DType dtype, const void* dy, const int64_t* idx, void* dx, int64_t planes,
                         int64_t in_plane, int64_t out_plane, int device, Stream stream) {
  const char* op = "cuda::max_pool2d_backward";
  const int64_t total_in = planes * in_plane, n = planes * out_plane;
  if (total_in == 0) return;
  KILN_CHECK(n < (int64_t(1) << 31), op, ": ", n, " outputs exceed the sort's limit of 2^31 - 1");
  dispatch_layer_dtype(dtype, op, [&](auto tag) {
    using T = decltype(tag);
    using Cm = compute_t<T>;
    KILN_CUDA_CHECK(cudaMemsetAsync(dx, 0, size_t(total_in) * sizeof(T), stream));
    if (n == 0) return;
    const Key sentinel = Key(total_in);
    const int end_bit = bits_for(uint64_t(total_in));
    size_t cub_bytes = 0;
    KILN_CUDA_CHECK(cub::DeviceRadixSort::SortPairs(nullptr, cub_bytes, static_cast<const Key*>(nullptr),
                                                    static_cast<Key*>(nullptr), static_cast<const Cm*>(nullptr),
                                                    static_cast<Cm*>(nullptr), int(n), 0, end_bit, stream));
    layer::Carver count(nullptr);
    count.take<Key>(size_t(n));
    count.take<Key>(size_t(n));
    count.take<Cm>(size_t(n));
    count.take<Cm>(size_t(n));
    count.take<unsigned char>(cub_bytes);
    void* ws = device_allocate(count.used(), device, stream);
    layer::Carver cv(ws);
    Key* keys_in = cv.take<Key>(size_t(n));
    Key* keys_out = cv.take<Key>(size_t(n));
    Cm* vals_in = cv.take<Cm>(size_t(n));
    Cm* vals_out = cv.take<Cm>(size_t(n));
    void* cub_temp = cv.take<unsigned char>(cub_bytes);
    try {
      max_pairs_kernel<T><<<blocks_for(n), kThreads, 0, stream>>>(static_cast<const T*>(dy), idx, keys_in, vals_in,
                                                                   n, out_plane, in_plane, sentinel);
      KILN_CUDA_CHECK_LAUNCH("max_pairs_kernel");
      KILN_CUDA_CHECK(cub::DeviceRadixSort::SortPairs(cub_temp, cub_bytes, keys_in, keys_out, vals_in, vals_out,
                                                      int(n), 0, end_bit, stream));
      max_segments_kernel<T><<<blocks_for(n), kThreads, 0, stream>>>(keys_out, vals_out, static_cast<T*>(dx), n,
                                                                      sentinel);
      KILN_CUDA_CHECK_LAUNCH("max_segments_kernel");
    } catch (...) {
      device_free(ws);
      throw;
    }
    device_free(ws);  // stream-ordered: reused only by work queued after these kernels
  });
}

void avg_pool2d_forward(DType dtype, const void* x, void* y, int64_t planes, const Pool2dGeom& g,
                        bool count_include_pad, int64_t divisor, Stream stream) {
  const int64_t total = planes * g.OH * g.OW;
  if (total == 0) return;
  dispatch_layer_dtype(dtype, "cuda::avg_pool2d_forward", [&](auto tag) {
    using T = decltype(tag);
    avg_pool_forward_kernel<T><<<blocks_for(total), kThreads, 0, stream>>>(
        static_cast<const T*>(x), static_cast<T*>(y), total, g, count_include_pad, divisor);
    KILN_CUDA_CHECK_LAUNCH("avg_pool_forward_kernel");
  });
}

void avg_pool2d_backward(DType dtype, const void* dy, void* dx, int64_t planes, const Pool2dGeom& g,
                         bool count_include_pad, int64_t divisor, Stream stream) {
  const int64_t total = planes * g.H * g.W;
  if (total == 0) return;
  dispatch_layer_dtype(dtype, "cuda::avg_pool2d_backward", [&](auto tag) {
    using T = decltype(tag);
    avg_pool_backward_kernel<T><<<blocks_for(total), kThreads, 0, stream>>>(
        static_cast<const T*>(dy), static_cast<T*>(dx), total, g, count_include_pad, divisor);
    KILN_CUDA_CHECK_LAUNCH("avg_pool_backward_kernel");
  });
}

void adaptive_avg_pool2d_forward(DType dtype, const void* x, void* y, int64_t planes, int64_t H, int64_t W,
                                 int64_t OH, int64_t OW, Stream stream) {
  const int64_t total = planes * OH * OW;
  if (total == 0) return;
  dispatch_layer_dtype(dtype, "cuda::adaptive_avg_pool2d_forward", [&](auto tag) {
    using T = decltype(tag);
    if (use_warp_kernel(H, W, OH, OW)) {
      adaptive_window_warp_kernel<T, false><<<warp_blocks_for(total), kThreads, 0, stream>>>(
          static_cast<const T*>(x), static_cast<T*>(y), nullptr, total, H, W, OH, OW);
      KILN_CUDA_CHECK_LAUNCH("adaptive_window_warp_kernel (avg)");
      return;
    }
    adaptive_avg_forward_kernel<T><<<blocks_for(total), kThreads, 0, stream>>>(
        static_cast<const T*>(x), static_cast<T*>(y), total, H, W, OH, OW);
    KILN_CUDA_CHECK_LAUNCH("adaptive_avg_forward_kernel");
  });
}

void adaptive_avg_pool2d_backward(DType dtype, const void* dy, void* dx, int64_t planes, int64_t H, int64_t W,
                                  int64_t OH, int64_t OW, Stream stream) {
  const int64_t total = planes * H * W;
  if (total == 0) return;
  dispatch_layer_dtype(dtype, "cuda::adaptive_avg_pool2d_backward", [&](auto tag) {
    using T = decltype(tag);
    adaptive_avg_backward_kernel<T><<<blocks_for(total), kThreads, 0, stream>>>(
        static_cast<const T*>(dy), static_cast<T*>(dx), total, H, W, OH, OW);
    KILN_CUDA_CHECK_LAUNCH("adaptive_avg_backward_kernel");
  });
}

void adaptive_max_pool2d_forward(DType dtype, const void* x, void* y, int64_t* idx, int64_t planes, int64_t H,
                                 int64_t W, int64_t OH, int64_t OW, Stream stream) {
  const int64_t total = planes * OH * OW;
  if (total == 0) return;
  dispatch_layer_dtype(dtype, "cuda::adaptive_max_pool2d_forward", [&](auto tag) {
    using T = decltype(tag);
    if (use_warp_kernel(H, W, OH, OW)) {
      adaptive_window_warp_kernel<T, true><<<warp_blocks_for(total), kThreads, 0, stream>>>(
          static_cast<const T*>(x), static_cast<T*>(y), idx, total, H, W, OH, OW);
      KILN_CUDA_CHECK_LAUNCH("adaptive_window_warp_kernel (max)");
      return;
    }
    adaptive_max_forward_kernel<T><<<blocks_for(total), kThreads, 0, stream>>>(
        static_cast<const T*>(x), static_cast<T*>(y), idx, total, H, W, OH, OW);
    KILN_CUDA_CHECK_LAUNCH("adaptive_max_forward_kernel");
  });
}

void adaptive_max_pool2d_backward(DType dtype, const void* dy, const int64_t* idx, void* dx, int64_t planes,
                                  int64_t H, int64_t W, int64_t OH, int64_t OW, Stream stream) {
  const int64_t total = planes * H * W;
  if (total == 0) return;
  dispatch_layer_dtype(dtype, "cuda::adaptive_max_pool2d_backward", [&](auto tag) {
    using T = decltype(tag);
    adaptive_max_backward_kernel<T><<<blocks_for(total), kThreads, 0, stream>>>(
        static_cast<const T*>(dy), idx, static_cast<T*>(dx), total, H, W, OH, OW);
    KILN_CUDA_CHECK_LAUNCH("adaptive_max_backward_kernel");
  });
}

}  // namespace kiln::cuda
