// CUDA kernels of affine_grid and grid_sample's forward pass (backward: grid_sample_backward.cu).
// One thread per output point: the point's taps are computed once (grid_sample_taps.cuh, the
// CPU's formulas), then every channel is blended; consecutive threads take consecutive points of
// a row, so each channel plane of y is written coalesced. Compiled without FMA contraction (Note
// [Resampling without FMA], kernels/CMakeLists.txt): the coordinates and blends are the CPU's.
#include <algorithm>

#include "kiln/kernels/cuda/check.h"
#include "kiln/kernels/cuda/grid_sample.h"
#include "kiln/kernels/cuda/grid_sample_taps.cuh"
#include "kiln/kernels/layer_dtype.h"

namespace kiln::cuda {
namespace {

using gs::kThreads;

// T: storage type; C = compute_t<T>: arithmetic (16-bit data computed in f32, rounded once on store).
template <class T>
__global__ void __launch_bounds__(kThreads)
    affine_grid_kernel(const T* __restrict__ theta, T* __restrict__ grid, int64_t N, int64_t H, int64_t W,
                       bool align_corners) {
  using C = compute_t<T>;
  const int64_t total = N * H * W;
  for (int64_t i = int64_t(blockIdx.x) * kThreads + threadIdx.x; i < total; i += int64_t(gridDim.x) * kThreads) {
    const int64_t w = i % W, t = i / W;
    const int64_t h = t % H, n = t / H;
    const T* th = theta + n * 6;
    const C x = affine_grid_base<C>(w, W, align_corners), y = affine_grid_base<C>(h, H, align_corners);
    grid[2 * i] = T(C(th[0]) * x + C(th[1]) * y + C(th[2]));
    grid[2 * i + 1] = T(C(th[3]) * x + C(th[4]) * y + C(th[5]));
  }
}

template <class T>
__global__ void __launch_bounds__(kThreads)
    grid_sample_forward_kernel(const T* __restrict__ x, const T* __restrict__ grid, T* __restrict__ y, int64_t N,
                               int64_t C_, int64_t H, int64_t W, int64_t OH, int64_t OW, GridSampleMode mode,
                               GridSamplePadding padding, bool align_corners) {
  using C = compute_t<T>;
  const int64_t oplane = OH * OW, plane = H * W;
  const int64_t total = N * oplane;
  const int ntaps = mode == GridSampleMode::nearest ? 1 : 4;
  for (int64_t q = int64_t(blockIdx.x) * kThreads + threadIdx.x; q < total; q += int64_t(gridDim.x) * kThreads) {
    const int64_t n = q / oplane, p = q - n * oplane;
    const C ix = grid_source_coord(C(grid[2 * q]), W, padding, align_corners);
    const C iy = grid_source_coord(C(grid[2 * q + 1]), H, padding, align_corners);
    // As the CPU: taps outside the input (or of an unusable point) read offset 0 with weight 0.
    int64_t off[4] = {0, 0, 0, 0};
    C w[4] = {C(0), C(0), C(0), C(0)};
    if (gs::coord_usable(ix, iy)) {
      const gs::Taps<C> t = gs::make_taps(ix, iy, mode);
#pragma unroll
      for (int k = 0; k < 4; ++k)  // fixed bounds keep the arrays in registers
        if (k < ntaps && gs::inside(t.x[k], t.y[k], H, W)) {
          off[k] = t.y[k] * W + t.x[k];
          w[k] = t.w[k];
        }
    }
    const T* xp = x + n * C_ * plane;
    T* yp = y + n * C_ * oplane + p;
    for (int64_t c = 0; c < C_; ++c, xp += plane, yp += oplane) {
      C v = w[0] * C(xp[off[0]]);
#pragma unroll
      for (int k = 1; k < 4; ++k)
        if (k < ntaps) v += w[k] * C(xp[off[k]]);
      *yp = T(v);
    }
  }
}

}  // namespace

void affine_grid(DType dtype, const void* theta, void* grid, int64_t N, int64_t H, int64_t W, bool align_corners,
                 Stream stream) {
  const int64_t total = N * H * W;
  dispatch_layer_dtype(dtype, "cuda::affine_grid", [&](auto tag) {
    using T = decltype(tag);
    if (total == 0) return;
    affine_grid_kernel<T><<<gs::blocks_for(total), kThreads, 0, stream>>>(
        static_cast<const T*>(theta), static_cast<T*>(grid), N, H, W, align_corners);
    KILN_CUDA_CHECK_LAUNCH("affine_grid_kernel");
  });
}

void grid_sample_forward(DType dtype, const void* x, const void* grid, void* y, int64_t N, int64_t C, int64_t H,
                         int64_t W, int64_t OH, int64_t OW, GridSampleMode mode, GridSamplePadding padding,
                         bool align_corners, Stream stream) {
  const char* op = "cuda::grid_sample_forward";
  KILN_CHECK(H > 0 && W > 0, op, ": input spatial size must be non-empty, got ", H, "x", W);
  const int64_t total = N * OH * OW;
  dispatch_layer_dtype(dtype, op, [&](auto tag) {
    using T = decltype(tag);
    if (total == 0 || C == 0) return;
    grid_sample_forward_kernel<T><<<gs::blocks_for(total), kThreads, 0, stream>>>(
        static_cast<const T*>(x), static_cast<const T*>(grid), static_cast<T*>(y), N, C, H, W, OH, OW, mode, padding,
        align_corners);
    KILN_CUDA_CHECK_LAUNCH("grid_sample_forward_kernel");
  });
}

}  // namespace kiln::cuda
