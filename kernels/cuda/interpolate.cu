// CUDA kernels of upsample_nearest2d / upsample_bilinear2d and their backward passes. The source
// coordinates come from kernels/interpolate_math.h, as on the CPU; this file maps threads to
// elements. One thread per output element (forward) or per input element (backward), consecutive
// threads on consecutive columns so that rows are read and written coalesced; grid-stride loops,
// int64 indices.
//
// Note [Interpolate backward by gathering]
// The CPU backward scatters each output gradient into the (up to four) input pixels it read. On
// the GPU a scatter would need float atomics, whose order (and so whose rounding) changes from run
// to run. Instead each thread owns one input pixel and gathers: along each axis the source index
// of an output (nearest: src(o); bilinear: the left tap i0(o)) is non-decreasing in o, because it
// is floor of a monotone rounded expression. So the outputs that read input row i form one range:
//   nearest:  { o : src(o) == i },        bilinear: { o : i0(o) in [i - 1, i] }
// (the right tap is i1 = min(i0 + 1, in - 1)), found by two binary searches over o, and the 2-d set
// is the product of the row range and the column range. The ranges are widened by one output on
// each side and every candidate re-checks its taps exactly, so even a search that disagreed by one
// step with the taps could only add candidates that are then skipped, never lose one.
// Contributions are added in the CPU's order (outputs row-major, then taps (h0, w0), (h0, w1),
// (h1, w0), (h1, w1)), and this file is compiled without FMA contraction (Note [Resampling without
// FMA], kernels/CMakeLists.txt), so the sums repeat bit for bit and equal the CPU's operation for
// operation. The cost is the reads of the scatter plus O(log OH + log OW) index evaluations per pixel.
#include <algorithm>

#include "kiln/kernels/cuda/check.h"
#include "kiln/kernels/cuda/interpolate.h"
#include "kiln/kernels/interpolate_math.h"
#include "kiln/kernels/layer_dtype.h"

namespace kiln::cuda {
namespace {

constexpr int kThreads = 256;
constexpr int64_t kMaxBlocks = 1 << 20;  // grid-stride beyond this

int blocks_for(int64_t n) { return int(std::min<int64_t>((n + kThreads - 1) / kThreads, kMaxBlocks)); }

struct NearestAxis {
  int64_t in, out;
  float scale;  // nearest_scale(in, out, user scale)
  __device__ int64_t src(int64_t o) const { return nearest_source_index(scale, o, in); }
};

template <class C>
struct LinearAxis {
  int64_t in, out;
  C scale;  // linear_scale<C>(in, out, align_corners, user scale)
  bool align_corners;
  __device__ void taps(int64_t o, int64_t& i0, int64_t& i1, C& l0, C& l1) const {
    linear_taps(linear_source_coord(scale, o, align_corners), in, i0, i1, l1);
    l0 = C(1) - l1;
  }
  __device__ int64_t left(int64_t o) const {
    int64_t i0, i1;
    C l0, l1;
    taps(o, i0, i1, l0, l1);
    return i0;
  }
};

// First o in [0, n) with key(o) >= t, or n; key must be non-decreasing.
template <class F>
__device__ int64_t first_at_least(int64_t n, int64_t t, const F& key) {
  int64_t lo = 0, hi = n;
  while (lo < hi) {
    const int64_t mid = lo + (hi - lo) / 2;
    if (key(mid) >= t)
      hi = mid;
    else
      lo = mid + 1;
  }
  return lo;
}

// Candidate outputs [*b, *e) that may read input index i: keys in [lo_key, hi_key], widened by one
// on each side (Note [Interpolate backward by gathering]).
template <class F>
__device__ void candidate_range(int64_t n, int64_t lo_key, int64_t hi_key, const F& key, int64_t* b, int64_t* e) {
  const int64_t first = first_at_least(n, lo_key, key);
  const int64_t last = first_at_least(n, hi_key + 1, key);
  *b = first > 0 ? first - 1 : 0;
  *e = last < n ? last + 1 : n;
}

// T is the storage type (f32, f64, f16, bf16), C = compute_t<T> the arithmetic type: a 16-bit
// value is widened exactly to f32, computed as the CPU computes it in f32, and rounded once when
// stored, which is what the CPU path (convert to f32, compute, convert back) gives.
template <class T>
__global__ void __launch_bounds__(kThreads)
    nearest_forward_kernel(const T* __restrict__ x, T* __restrict__ y, int64_t total, NearestAxis ah, NearestAxis aw) {
  for (int64_t i = int64_t(blockIdx.x) * kThreads + threadIdx.x; i < total; i += int64_t(gridDim.x) * kThreads) {
    const int64_t ow = i % aw.out, t = i / aw.out;
    const int64_t oh = t % ah.out, p = t / ah.out;
    y[i] = x[(p * ah.in + ah.src(oh)) * aw.in + aw.src(ow)];
  }
}

template <class T>
__global__ void __launch_bounds__(kThreads)
    nearest_backward_kernel(const T* __restrict__ dy, T* __restrict__ dx, int64_t total, NearestAxis ah,
                            NearestAxis aw) {
  using C = compute_t<T>;
  for (int64_t i = int64_t(blockIdx.x) * kThreads + threadIdx.x; i < total; i += int64_t(gridDim.x) * kThreads) {
    const int64_t iw = i % aw.in, t = i / aw.in;
    const int64_t ih = t % ah.in, p = t / ah.in;
    int64_t hb, he, wb, we;
    candidate_range(ah.out, ih, ih, [&](int64_t o) { return ah.src(o); }, &hb, &he);
    candidate_range(aw.out, iw, iw, [&](int64_t o) { return aw.src(o); }, &wb, &we);
    C acc = C(0);
    for (int64_t oh = hb; oh < he; ++oh) {
      if (ah.src(oh) != ih) continue;
      const T* g = dy + (p * ah.out + oh) * aw.out;
      for (int64_t ow = wb; ow < we; ++ow)
        if (aw.src(ow) == iw) acc += C(g[ow]);
    }
    dx[i] = T(acc);
  }
}

template <class T>
__global__ void __launch_bounds__(kThreads)
    bilinear_forward_kernel(const T* __restrict__ x, T* __restrict__ y, int64_t total, LinearAxis<compute_t<T>> ah,
                            LinearAxis<compute_t<T>> aw) {
  using C = compute_t<T>;
  for (int64_t i = int64_t(blockIdx.x) * kThreads + threadIdx.x; i < total; i += int64_t(gridDim.x) * kThreads) {
    const int64_t ow = i % aw.out, t = i / aw.out;
    const int64_t oh = t % ah.out, p = t / ah.out;
    int64_t h0, h1, a, b;
    C hl0, hl1, w0, w1;
    ah.taps(oh, h0, h1, hl0, hl1);
    aw.taps(ow, a, b, w0, w1);
    const T* r0 = x + (p * ah.in + h0) * aw.in;
    const T* r1 = x + (p * ah.in + h1) * aw.in;
    y[i] = T(hl0 * (w0 * C(r0[a]) + w1 * C(r0[b])) + hl1 * (w0 * C(r1[a]) + w1 * C(r1[b])));
  }
}

template <class T>
__global__ void __launch_bounds__(kThreads)
    bilinear_backward_kernel(const T* __restrict__ dy, T* __restrict__ dx, int64_t total, LinearAxis<compute_t<T>> ah,
                             LinearAxis<compute_t<T>> aw) {
  using C = compute_t<T>;
  for (int64_t i = int64_t(blockIdx.x) * kThreads + threadIdx.x; i < total; i += int64_t(gridDim.x) * kThreads) {
    const int64_t iw = i % aw.in, t = i / aw.in;
    const int64_t ih = t % ah.in, p = t / ah.in;
    int64_t hb, he, wb, we;
    candidate_range(ah.out, ih - 1, ih, [&](int64_t o) { return ah.left(o); }, &hb, &he);
    candidate_range(aw.out, iw - 1, iw, [&](int64_t o) { return aw.left(o); }, &wb, &we);
    C acc = C(0);
    for (int64_t oh = hb; oh < he; ++oh) {
      int64_t h0, h1;
      C hl0, hl1;
      ah.taps(oh, h0, h1, hl0, hl1);
      const bool top = h0 == ih, bottom = h1 == ih;
      if (!top && !bottom) continue;
      const T* g = dy + (p * ah.out + oh) * aw.out;
      for (int64_t ow = wb; ow < we; ++ow) {
        int64_t a, b;
        C w0, w1;
        aw.taps(ow, a, b, w0, w1);
        const bool left = a == iw, right = b == iw;
        if (!left && !right) continue;
        const C d = C(g[ow]);
        if (top) {
          if (left) acc += hl0 * w0 * d;
          if (right) acc += hl0 * w1 * d;
        }
        if (bottom) {
          if (left) acc += hl1 * w0 * d;
          if (right) acc += hl1 * w1 * d;
        }
      }
    }
    dx[i] = T(acc);
  }
}

template <class C>
LinearAxis<C> linear_axis(int64_t in, int64_t out, bool align_corners, double scale) {
  return LinearAxis<C>{in, out, linear_scale<C>(in, out, align_corners, scale), align_corners};
}

}  // namespace

void upsample_nearest2d_forward(DType dtype, const void* x, void* y, int64_t planes, int64_t H, int64_t W,
                                int64_t OH, int64_t OW, double scale_h, double scale_w, Stream stream) {
  const int64_t total = planes * OH * OW;
  const NearestAxis ah{H, OH, nearest_scale(H, OH, scale_h)}, aw{W, OW, nearest_scale(W, OW, scale_w)};
  dispatch_layer_dtype(dtype, "cuda::upsample_nearest2d_forward", [&](auto tag) {
    using T = decltype(tag);
    if (total == 0) return;
    nearest_forward_kernel<T><<<blocks_for(total), kThreads, 0, stream>>>(static_cast<const T*>(x),
                                                                          static_cast<T*>(y), total, ah, aw);
    KILN_CUDA_CHECK_LAUNCH("nearest_forward_kernel");
  });
}

void upsample_nearest2d_backward(DType dtype, const void* dy, void* dx, int64_t planes, int64_t H, int64_t W,
                                 int64_t OH, int64_t OW, double scale_h, double scale_w, Stream stream) {
  const int64_t total = planes * H * W;
  const NearestAxis ah{H, OH, nearest_scale(H, OH, scale_h)}, aw{W, OW, nearest_scale(W, OW, scale_w)};
  dispatch_layer_dtype(dtype, "cuda::upsample_nearest2d_backward", [&](auto tag) {
    using T = decltype(tag);
    if (total == 0) return;
    nearest_backward_kernel<T><<<blocks_for(total), kThreads, 0, stream>>>(static_cast<const T*>(dy),
                                                                           static_cast<T*>(dx), total, ah, aw);
    KILN_CUDA_CHECK_LAUNCH("nearest_backward_kernel");
  });
}

void upsample_bilinear2d_forward(DType dtype, const void* x, void* y, int64_t planes, int64_t H, int64_t W,
                                 int64_t OH, int64_t OW, bool align_corners, double scale_h, double scale_w,
                                 Stream stream) {
  const int64_t total = planes * OH * OW;
  dispatch_layer_dtype(dtype, "cuda::upsample_bilinear2d_forward", [&](auto tag) {
    using T = decltype(tag);
    using C = compute_t<T>;
    if (total == 0) return;
    bilinear_forward_kernel<T><<<blocks_for(total), kThreads, 0, stream>>>(
        static_cast<const T*>(x), static_cast<T*>(y), total, linear_axis<C>(H, OH, align_corners, scale_h),
        linear_axis<C>(W, OW, align_corners, scale_w));
    KILN_CUDA_CHECK_LAUNCH("bilinear_forward_kernel");
  });
}

void upsample_bilinear2d_backward(DType dtype, const void* dy, void* dx, int64_t planes, int64_t H, int64_t W,
                                  int64_t OH, int64_t OW, bool align_corners, double scale_h, double scale_w,
                                  Stream stream) {
  const int64_t total = planes * H * W;
  dispatch_layer_dtype(dtype, "cuda::upsample_bilinear2d_backward", [&](auto tag) {
    using T = decltype(tag);
    using C = compute_t<T>;
    if (total == 0) return;
    bilinear_backward_kernel<T><<<blocks_for(total), kThreads, 0, stream>>>(
        static_cast<const T*>(dy), static_cast<T*>(dx), total, linear_axis<C>(H, OH, align_corners, scale_h),
        linear_axis<C>(W, OW, align_corners, scale_w));
    KILN_CUDA_CHECK_LAUNCH("bilinear_backward_kernel");
  });
}

}  // namespace kiln::cuda
