// grid_sample backward. Each output reads at most four input pixels with bilinear weights, so
// its gradient is scattered (added) to those pixels; the grid gradient is the derivative of the
// bilinear blend along x and y times d(pixel)/d(coord) of the unnormalise / padding step.
// Parallel over the batch only: every sample owns its dx plane and grid rows, so the sums are
// made in a fixed order (deterministic, no atomics).
#include "kiln/kernels/cpu/grid_sample_backward.h"

#include <cmath>

#include "kiln/kernels/cpu/parallel.h"

namespace kiln::cpu {

void grid_sample_backward(DType dtype, const void* dy, const void* x, const void* grid, void* dx, void* dgrid,
                          int64_t N, int64_t C_, int64_t H, int64_t W, int64_t OH, int64_t OW, GridSampleMode mode,
                          GridSamplePadding padding, bool align_corners) {
  dispatch_float_dtype(dtype, [&](auto tag) {
    using C = decltype(tag);
    const C* DY = static_cast<const C*>(dy);
    const C* X = static_cast<const C*>(x);
    const C* G = static_cast<const C*>(grid);
    C* DX = static_cast<C*>(dx);
    C* DG = static_cast<C*>(dgrid);
    const int64_t plane = H * W, oplane = OH * OW;
    auto inside = [&](int64_t ix, int64_t iy) { return ix >= 0 && ix < W && iy >= 0 && iy < H; };
    parallel_for(0, N, 1, [&](int64_t n0, int64_t n1) {
      for (int64_t n = n0; n < n1; ++n) {
        for (int64_t p = 0; p < oplane; ++p) {
          const C* g = G + (n * oplane + p) * 2;
          C* dg = DG ? DG + (n * oplane + p) * 2 : nullptr;
          if (dg) dg[0] = dg[1] = C(0);
          C dix, diy;
          const C ix = grid_source_coord_grad(g[0], W, padding, align_corners, &dix);
          const C iy = grid_source_coord_grad(g[1], H, padding, align_corners, &diy);
          // Same cut-off as the forward: such points read nothing.
          if (!std::isfinite(ix) || !std::isfinite(iy) || std::fabs(ix) > C(1e15) || std::fabs(iy) > C(1e15))
            continue;
          if (mode == GridSampleMode::nearest) {
            const int64_t nx = int64_t(std::nearbyint(ix)), ny = int64_t(std::nearbyint(iy));
            if (!DX || !inside(nx, ny)) continue;
            for (int64_t c = 0; c < C_; ++c) DX[(n * C_ + c) * plane + ny * W + nx] += DY[(n * C_ + c) * oplane + p];
            continue;
          }
          const C fx = std::floor(ix), fy = std::floor(iy);
          const int64_t x0 = int64_t(fx), y0 = int64_t(fy), x1 = x0 + 1, y1 = y0 + 1;
          const C tx = ix - fx, ty = iy - fy;
          const bool in00 = inside(x0, y0), in10 = inside(x1, y0), in01 = inside(x0, y1), in11 = inside(x1, y1);
          const C w00 = (C(1) - tx) * (C(1) - ty), w10 = tx * (C(1) - ty), w01 = (C(1) - tx) * ty, w11 = tx * ty;
          C gx = 0, gy = 0;
          for (int64_t c = 0; c < C_; ++c) {
            const C d = DY[(n * C_ + c) * oplane + p];
            const C* xp = X + (n * C_ + c) * plane;
            const C v00 = in00 ? xp[y0 * W + x0] : C(0), v10 = in10 ? xp[y0 * W + x1] : C(0);
            const C v01 = in01 ? xp[y1 * W + x0] : C(0), v11 = in11 ? xp[y1 * W + x1] : C(0);
            gx += d * ((v10 - v00) * (C(1) - ty) + (v11 - v01) * ty);
            gy += d * ((v01 - v00) * (C(1) - tx) + (v11 - v10) * tx);
            if (DX) {
              C* dxp = DX + (n * C_ + c) * plane;
              if (in00) dxp[y0 * W + x0] += d * w00;
              if (in10) dxp[y0 * W + x1] += d * w10;
              if (in01) dxp[y1 * W + x0] += d * w01;
              if (in11) dxp[y1 * W + x1] += d * w11;
            }
          }
          if (dg) {
            dg[0] = gx * dix;
            dg[1] = gy * diy;
          }
        }
      }
    });
  });
}

}  // namespace kiln::cpu
