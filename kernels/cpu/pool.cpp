#include "kiln/kernels/cpu/pool.h"

#include <algorithm>
#include <atomic>
#include <cmath>

#include "kiln/kernels/cpu/parallel.h"
#include "kiln/kernels/cpu/pool_window.h"
#include "kiln/kernels/dtype.h"
#include "kiln/kernels/pool_math.h"

namespace kiln::cpu {
namespace {

using pool::adaptive_end;
using pool::adaptive_start;
using pool_window::plane_grain;
using pool_window::window_max;

}  // namespace

void max_pool2d_forward(DType dtype, const void* x, void* y, int64_t* idx, int64_t planes, const Pool2dGeom& g) {
  KILN_ISA_CALL(max_pool2d_forward_isa, dtype, x, y, idx, planes, g);
}

bool max_pool2d_backward(DType dtype, const void* dy, const int64_t* idx, void* dx, int64_t planes,
                         int64_t in_plane, int64_t out_plane) {
  std::atomic<bool> ok{true};
  dispatch_float_dtype(dtype, [&](auto tag) {
    using C = decltype(tag);
    const C* G = static_cast<const C*>(dy);
    C* D = static_cast<C*>(dx);
    parallel_for(0, planes, plane_grain(in_plane + out_plane), [&](int64_t p0, int64_t p1) {
      for (int64_t p = p0; p < p1; ++p) {
        C* dp = D + p * in_plane;
        std::fill(dp, dp + in_plane, C(0));
        const C* gp = G + p * out_plane;
        const int64_t* ip = idx + p * out_plane;
        for (int64_t o = 0; o < out_plane; ++o) {
          const int64_t i = ip[o];
          if (i < 0 || i >= in_plane) {
            ok.store(false, std::memory_order_relaxed);
            continue;
          }
          dp[i] += gp[o];
        }
      }
    });
  });
  return ok.load();
}

namespace {
// Window of output (oh, ow) for avg pooling, clipped as PyTorch: the padded window [hs, he) is
// first cut to the padded input (its size is the count_include_pad divisor), then to the input.
struct AvgWindow {
  int64_t h0, h1, w0, w1;
  double div;
};
inline AvgWindow avg_window(const Pool2dGeom& g, int64_t oh, int64_t ow, bool count_include_pad, int64_t divisor) {
  const pool::AvgSpan h = pool::avg_span(oh, g.H, g.kh, g.sh, g.ph), w = pool::avg_span(ow, g.W, g.kw, g.sw, g.pw);
  return {h.lo, h.hi, w.lo, w.hi, pool::avg_divisor(h, w, count_include_pad, divisor)};
}
}  // namespace

void avg_pool2d_forward(DType dtype, const void* x, void* y, int64_t planes, const Pool2dGeom& g,
                        bool count_include_pad, int64_t divisor) {
  dispatch_float_dtype(dtype, [&](auto tag) {
    using C = decltype(tag);
    const C* X = static_cast<const C*>(x);
    C* Y = static_cast<C*>(y);
    const int64_t in_plane = g.H * g.W, out_plane = g.OH * g.OW;
    parallel_for(0, planes, plane_grain(out_plane * g.kh * g.kw), [&](int64_t p0, int64_t p1) {
      for (int64_t p = p0; p < p1; ++p) {
        const C* xp = X + p * in_plane;
        C* yp = Y + p * out_plane;
        for (int64_t oh = 0; oh < g.OH; ++oh)
          for (int64_t ow = 0; ow < g.OW; ++ow) {
            const AvgWindow a = avg_window(g, oh, ow, count_include_pad, divisor);
            if (a.h0 >= a.h1 || a.w0 >= a.w1) {
              yp[oh * g.OW + ow] = C(0);
              continue;
            }
            C s = 0;
            for (int64_t ih = a.h0; ih < a.h1; ++ih)
              for (int64_t iw = a.w0; iw < a.w1; ++iw) s += xp[ih * g.W + iw];
            yp[oh * g.OW + ow] = s / C(a.div);
          }
      }
    });
  });
}

void avg_pool2d_backward(DType dtype, const void* dy, void* dx, int64_t planes, const Pool2dGeom& g,
                         bool count_include_pad, int64_t divisor) {
  dispatch_float_dtype(dtype, [&](auto tag) {
    using C = decltype(tag);
    const C* G = static_cast<const C*>(dy);
    C* D = static_cast<C*>(dx);
    const int64_t in_plane = g.H * g.W, out_plane = g.OH * g.OW;
    parallel_for(0, planes, plane_grain(in_plane + out_plane * g.kh * g.kw), [&](int64_t p0, int64_t p1) {
      for (int64_t p = p0; p < p1; ++p) {
        C* dp = D + p * in_plane;
        std::fill(dp, dp + in_plane, C(0));
        const C* gp = G + p * out_plane;
        for (int64_t oh = 0; oh < g.OH; ++oh)
          for (int64_t ow = 0; ow < g.OW; ++ow) {
            const AvgWindow a = avg_window(g, oh, ow, count_include_pad, divisor);
            if (a.h0 >= a.h1 || a.w0 >= a.w1) continue;
            const C v = gp[oh * g.OW + ow] / C(a.div);
            for (int64_t ih = a.h0; ih < a.h1; ++ih)
              for (int64_t iw = a.w0; iw < a.w1; ++iw) dp[ih * g.W + iw] += v;
          }
      }
    });
  });
}

void adaptive_avg_pool2d_forward(DType dtype, const void* x, void* y, int64_t planes, int64_t H, int64_t W,
                                 int64_t OH, int64_t OW) {
  dispatch_float_dtype(dtype, [&](auto tag) {
    using C = decltype(tag);
    const C* X = static_cast<const C*>(x);
    C* Y = static_cast<C*>(y);
    parallel_for(0, planes, plane_grain(H * W + OH * OW), [&](int64_t p0, int64_t p1) {
      for (int64_t p = p0; p < p1; ++p) {
        const C* xp = X + p * H * W;
        C* yp = Y + p * OH * OW;
        for (int64_t oh = 0; oh < OH; ++oh) {
          const int64_t h0 = adaptive_start(oh, H, OH), h1 = adaptive_end(oh, H, OH);
          for (int64_t ow = 0; ow < OW; ++ow) {
            const int64_t w0 = adaptive_start(ow, W, OW), w1 = adaptive_end(ow, W, OW);
            C s = 0;
            for (int64_t ih = h0; ih < h1; ++ih)
              for (int64_t iw = w0; iw < w1; ++iw) s += xp[ih * W + iw];
            yp[oh * OW + ow] = s / C((h1 - h0) * (w1 - w0));
          }
        }
      }
    });
  });
}

void adaptive_avg_pool2d_backward(DType dtype, const void* dy, void* dx, int64_t planes, int64_t H, int64_t W,
                                  int64_t OH, int64_t OW) {
  dispatch_float_dtype(dtype, [&](auto tag) {
    using C = decltype(tag);
    const C* G = static_cast<const C*>(dy);
    C* D = static_cast<C*>(dx);
    parallel_for(0, planes, plane_grain(H * W + OH * OW), [&](int64_t p0, int64_t p1) {
      for (int64_t p = p0; p < p1; ++p) {
        C* dp = D + p * H * W;
        std::fill(dp, dp + H * W, C(0));
        const C* gp = G + p * OH * OW;
        for (int64_t oh = 0; oh < OH; ++oh) {
          const int64_t h0 = adaptive_start(oh, H, OH), h1 = adaptive_end(oh, H, OH);
          for (int64_t ow = 0; ow < OW; ++ow) {
            const int64_t w0 = adaptive_start(ow, W, OW), w1 = adaptive_end(ow, W, OW);
            const C v = gp[oh * OW + ow] / C((h1 - h0) * (w1 - w0));
            for (int64_t ih = h0; ih < h1; ++ih)
              for (int64_t iw = w0; iw < w1; ++iw) dp[ih * W + iw] += v;
          }
        }
      }
    });
  });
}

void adaptive_max_pool2d_forward(DType dtype, const void* x, void* y, int64_t* idx, int64_t planes, int64_t H,
                                 int64_t W, int64_t OH, int64_t OW) {
  dispatch_float_dtype(dtype, [&](auto tag) {
    using C = decltype(tag);
    const C* X = static_cast<const C*>(x);
    C* Y = static_cast<C*>(y);
    parallel_for(0, planes, plane_grain(H * W + OH * OW), [&](int64_t p0, int64_t p1) {
      for (int64_t p = p0; p < p1; ++p) {
        const C* xp = X + p * H * W;
        C* yp = Y + p * OH * OW;
        int64_t* ip = idx + p * OH * OW;
        for (int64_t oh = 0; oh < OH; ++oh) {
          const int64_t h0 = adaptive_start(oh, H, OH), h1 = adaptive_end(oh, H, OH);
          for (int64_t ow = 0; ow < OW; ++ow) {
            const int64_t w0 = adaptive_start(ow, W, OW), w1 = adaptive_end(ow, W, OW);
            C best;
            int64_t bi;
            window_max(xp, W, h0, h1, 1, w0, w1, 1, best, bi);
            yp[oh * OW + ow] = best;
            ip[oh * OW + ow] = bi;
          }
        }
      }
    });
  });
}

}  // namespace kiln::cpu
