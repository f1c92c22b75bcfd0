#include "kiln/kernels/cpu/grid_sample.h"

#include <algorithm>
#include <vector>

#include "kiln/kernels/cpu/parallel.h"
#include "kiln/kernels/dtype.h"

namespace kiln::cpu {
namespace {

// Up to four taps of one output position: flat input offsets and weights. Taps outside the input
// get weight 0 and offset 0, so the channel loop needs no bounds checks.
template <class C>
struct Taps4 {
  int64_t off[4];
  C w[4];
};

template <class C>
inline void set_tap(Taps4<C>& t, int k, int64_t ix, int64_t iy, C w, int64_t H, int64_t W) {
  const bool in = ix >= 0 && ix < W && iy >= 0 && iy < H;
  t.off[k] = in ? iy * W + ix : 0;
  t.w[k] = in ? w : C(0);
}

template <class C>
Taps4<C> make_taps(C gx, C gy, int64_t H, int64_t W, GridSampleMode mode, GridSamplePadding padding,
                   bool align_corners) {
  Taps4<C> t{};
  const C ix = grid_source_coord(gx, W, padding, align_corners);
  const C iy = grid_source_coord(gy, H, padding, align_corners);
  if (!std::isfinite(ix) || !std::isfinite(iy) || std::fabs(ix) > C(1e15) || std::fabs(iy) > C(1e15)) return t;
  if (mode == GridSampleMode::nearest) {
    // Round half to even, as PyTorch (nearbyint).
    set_tap(t, 0, int64_t(std::nearbyint(ix)), int64_t(std::nearbyint(iy)), C(1), H, W);
    return t;
  }
  const C fx = std::floor(ix), fy = std::floor(iy);
  const int64_t x0 = int64_t(fx), y0 = int64_t(fy);
  const C tx = ix - fx, ty = iy - fy;
  set_tap(t, 0, x0, y0, (C(1) - tx) * (C(1) - ty), H, W);
  set_tap(t, 1, x0 + 1, y0, tx * (C(1) - ty), H, W);
  set_tap(t, 2, x0, y0 + 1, (C(1) - tx) * ty, H, W);
  set_tap(t, 3, x0 + 1, y0 + 1, tx * ty, H, W);
  return t;
}

}  // namespace

void affine_grid(DType dtype, const void* theta, void* grid, int64_t N, int64_t H, int64_t W, bool align_corners) {
  dispatch_float_dtype(dtype, [&](auto tag) {
    using C = decltype(tag);
    const C* T = static_cast<const C*>(theta);
    C* G = static_cast<C*>(grid);
    std::vector<C> bx(static_cast<size_t>(W)), by(static_cast<size_t>(H));
    for (int64_t i = 0; i < W; ++i) bx[size_t(i)] = affine_grid_base<C>(i, W, align_corners);
    for (int64_t i = 0; i < H; ++i) by[size_t(i)] = affine_grid_base<C>(i, H, align_corners);
    parallel_for(0, N * H, std::max<int64_t>(1, 8192 / std::max<int64_t>(W, 1)), [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r) {
        const int64_t n = r / H, h = r % H;
        const C* t = T + n * 6;
        C* g = G + r * W * 2;
        const C y = by[size_t(h)];
        for (int64_t w = 0; w < W; ++w) {
          const C x = bx[size_t(w)];
          g[2 * w] = t[0] * x + t[1] * y + t[2];
          g[2 * w + 1] = t[3] * x + t[4] * y + t[5];
        }
      }
    });
  });
}

void grid_sample_forward(DType dtype, const void* x, const void* grid, void* y, int64_t N, int64_t C_, int64_t H,
                         int64_t W, int64_t OH, int64_t OW, GridSampleMode mode, GridSamplePadding padding,
                         bool align_corners) {
  dispatch_float_dtype(dtype, [&](auto tag) {
    using C = decltype(tag);
    const C* X = static_cast<const C*>(x);
    const C* G = static_cast<const C*>(grid);
    C* Y = static_cast<C*>(y);
    const int ntaps = mode == GridSampleMode::nearest ? 1 : 4;
    // One output row (n, oh) per work item: taps once per position, then every channel.
    parallel_for(0, N * OH, std::max<int64_t>(1, 8192 / std::max<int64_t>(OW * std::max<int64_t>(C_, 1), 1)),
                 [&](int64_t r0, int64_t r1) {
                   std::vector<Taps4<C>> taps(static_cast<size_t>(OW));
                   for (int64_t r = r0; r < r1; ++r) {
                     const int64_t n = r / OH, oh = r % OH;
                     const C* g = G + r * OW * 2;
                     for (int64_t ow = 0; ow < OW; ++ow)
                       taps[size_t(ow)] = make_taps<C>(g[2 * ow], g[2 * ow + 1], H, W, mode, padding, align_corners);
                     for (int64_t c = 0; c < C_; ++c) {
                       const C* xp = X + (n * C_ + c) * H * W;
                       C* yr = Y + ((n * C_ + c) * OH + oh) * OW;
                       for (int64_t ow = 0; ow < OW; ++ow) {
                         const Taps4<C>& t = taps[size_t(ow)];
                         C v = t.w[0] * xp[t.off[0]];
                         for (int k = 1; k < ntaps; ++k) v += t.w[k] * xp[t.off[k]];
                         yr[ow] = v;
                       }
                     }
                   }
                 });
  });
}

}  // namespace kiln::cpu
