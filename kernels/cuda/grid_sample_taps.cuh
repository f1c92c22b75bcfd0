#pragma once
// Device-side taps of grid_sample, shared by grid_sample.cu and grid_sample_backward.cu. They
// mirror the CPU's make_taps (kernels/cpu/grid_sample.cpp) and the tap loop of
// kernels/cpu/grid_sample_backward.cpp step for step, on top of the shared coordinate maths of
// kernels/grid_sample_math.h. Include from .cu files only.
#include <cuda_runtime.h>

#include <cstdint>

#include "kiln/kernels/grid_sample_math.h"

namespace kiln::cuda::gs {

constexpr int kThreads = 256;
constexpr int64_t kMaxBlocks = 1 << 20;  // grid-stride beyond this

inline int blocks_for(int64_t n) {
  const int64_t b = (n + kThreads - 1) / kThreads;
  return int(b < kMaxBlocks ? b : kMaxBlocks);
}

// Same cut-off as the CPU: a pixel coordinate that is not finite or beyond 1e15 reads nothing.
template <class C>
__device__ __forceinline__ bool coord_usable(C ix, C iy) {
  return isfinite(ix) && isfinite(iy) && fabs(ix) <= C(1e15) && fabs(iy) <= C(1e15);
}

// Up to four taps of one point: pixel (x[k], y[k]) with weight w[k]; `inside` says whether the tap
// is a pixel of the H x W input. Nearest uses tap 0 only (round half to even, as nearbyint).
template <class C>
struct Taps {
  int64_t x[4], y[4];
  C w[4];
};

template <class C>
__device__ __forceinline__ Taps<C> make_taps(C ix, C iy, GridSampleMode mode) {
  Taps<C> t;
  if (mode == GridSampleMode::nearest) {
    t.x[0] = int64_t(nearbyint(ix));
    t.y[0] = int64_t(nearbyint(iy));
    t.w[0] = C(1);
    for (int k = 1; k < 4; ++k) {
      t.x[k] = -1;
      t.y[k] = -1;
      t.w[k] = C(0);
    }
    return t;
  }
  const C fx = floor(ix), fy = floor(iy);
  const int64_t x0 = int64_t(fx), y0 = int64_t(fy);
  const C tx = ix - fx, ty = iy - fy;
  t.x[0] = x0, t.y[0] = y0, t.w[0] = (C(1) - tx) * (C(1) - ty);
  t.x[1] = x0 + 1, t.y[1] = y0, t.w[1] = tx * (C(1) - ty);
  t.x[2] = x0, t.y[2] = y0 + 1, t.w[2] = (C(1) - tx) * ty;
  t.x[3] = x0 + 1, t.y[3] = y0 + 1, t.w[3] = tx * ty;
  return t;
}

__device__ __forceinline__ bool inside(int64_t x, int64_t y, int64_t H, int64_t W) {
  return x >= 0 && x < W && y >= 0 && y < H;
}

}  // namespace kiln::cuda::gs
