// CUDA kernels of affine_grid and grid_sample's forward pass (backward: grid_sample_backward.cu).
// One thread per output point: the point's taps are computed once (grid_sample_taps.cuh, the
// CPU's formulas), then every channel is blended; consecutive threads take consecutive points of
// a row, so each channel plane of y is written coalesced. Compiled without FMA contraction (Note
// [Resampling without FMA], kernels/CMakeLists.txt): the coordinates and blends are the CPU's.
#include <algorithm>

#include "kiln/kernels/cuda/check.h"
#include "kiln/kernels/cuda/grid_sample.h"
#include "kiln/kernels/cuda/grid_sample_taps.cuh"

namespace kiln::cuda {
namespace {

using gs::kThreads;

template <class C>
__global__ void __launch_bounds__(kThreads)
    affine_grid_kernel(const C* __restrict__ theta, C* __restrict__ grid, int64_t N, int64_t H, int64_t W,
                       bool align_corners) {
  const int64_t total = N * H * W;
  for (int64_t i = int64_t(blockIdx.x) * kThreads + threadIdx.x; i < total; i += int64_t(gridDim.x) * kThreads) {
    const int64_t w = i % W, t = i / W;
    const int64_t h = t % H, n = t / H;
    const C* th = theta + n * 6;
    const C x = affine_grid_base<C>(w, W, align_corners), y = affine_grid_base<C>(h, H, align_corners);
    grid[2 * i] = th[0] * x + th[1] * y + th[2];
    grid[2 * i + 1] = th[3] * x + th[4] * y + th[5];
  }
}

template <class C>
__global__ void __launch_bounds__(kThreads)
    grid_sample_forward_kernel(const C* __restrict__ x, const C* __restrict__ grid, C* __restrict__ y, int64_t N,
                               int64_t C_, int64_t H, int64_t W, int64_t OH, int64_t OW, GridSampleMode mode,
                               GridSamplePadding padding, bool align_corners) {
  const int64_t oplane = OH * OW, plane = H * W;
  const int64_t total = N * oplane;
  const int ntaps = mode == GridSampleMode::nearest ? 1 : 4;
  for (int64_t q = int64_t(blockIdx.x) * kThreads + threadIdx.x; q < total; q += int64_t(gridDim.x) * kThreads) {
    const int64_t n = q / oplane, p = q - n * oplane;
    const C ix = grid_source_coord(grid[2 * q], W, padding, align_corners);
    const C iy = grid_source_coord(grid[2 * q + 1], H, padding, align_corners);
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
    const C* xp = x + n * C_ * plane;
    C* yp = y + n * C_ * oplane + p;
    for (int64_t c = 0; c < C_; ++c, xp += plane, yp += oplane) {
      C v = w[0] * xp[off[0]];
#pragma unroll
      for (int k = 1; k < 4; ++k)
        if (k < ntaps) v += w[k] * xp[off[k]];
      *yp = v;
    }
  }
}

void check_dtype(DType dtype, const char* op) {
  KILN_CHECK(dtype == DType::f32 || dtype == DType::f64, op, ": dtype must be f32 or f64, got ", dtype_name(dtype));
}

}  // namespace

void affine_grid(DType dtype, const void* theta, void* grid, int64_t N, int64_t H, int64_t W, bool align_corners,
                 Stream stream) {
  check_dtype(dtype, "cuda::affine_grid");
  const int64_t total = N * H * W;
  if (total == 0) return;
  if (dtype == DType::f64)
    affine_grid_kernel<double><<<gs::blocks_for(total), kThreads, 0, stream>>>(
        static_cast<const double*>(theta), static_cast<double*>(grid), N, H, W, align_corners);
  else
    affine_grid_kernel<float><<<gs::blocks_for(total), kThreads, 0, stream>>>(
        static_cast<const float*>(theta), static_cast<float*>(grid), N, H, W, align_corners);
  KILN_CUDA_CHECK_LAUNCH("affine_grid_kernel");
}

void grid_sample_forward(DType dtype, const void* x, const void* grid, void* y, int64_t N, int64_t C, int64_t H,
                         int64_t W, int64_t OH, int64_t OW, GridSampleMode mode, GridSamplePadding padding,
                         bool align_corners, Stream stream) {
  check_dtype(dtype, "cuda::grid_sample_forward");
  KILN_CHECK(H > 0 && W > 0, "cuda::grid_sample_forward: input spatial size must be non-empty, got ", H, "x", W);
  const int64_t total = N * OH * OW;
  if (total == 0 || C == 0) return;
  if (dtype == DType::f64)
    grid_sample_forward_kernel<double><<<gs::blocks_for(total), kThreads, 0, stream>>>(
        static_cast<const double*>(x), static_cast<const double*>(grid), static_cast<double*>(y), N, C, H, W, OH, OW,
        mode, padding, align_corners);
  else
    grid_sample_forward_kernel<float><<<gs::blocks_for(total), kThreads, 0, stream>>>(
        static_cast<const float*>(x), static_cast<const float*>(grid), static_cast<float*>(y), N, C, H, W, OH, OW,
        mode, padding, align_corners);
  KILN_CUDA_CHECK_LAUNCH("grid_sample_forward_kernel");
}

}  // namespace kiln::cuda
