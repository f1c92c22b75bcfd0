#include "kiln/kernels/cpu/interpolate.h"

#include <algorithm>
#include <vector>

#include "kiln/kernels/cpu/parallel.h"
#include "kiln/kernels/dtype.h"
#include "kiln/kernels/interpolate_math.h"

namespace kiln::cpu {
namespace {

int64_t plane_grain(int64_t work) { return std::max<int64_t>(1, 16384 / std::max<int64_t>(1, work)); }

std::vector<int64_t> nearest_indices(int64_t in, int64_t out, double scale) {
  std::vector<int64_t> idx(static_cast<size_t>(out));
  const float s = nearest_scale(in, out, scale);
  for (int64_t o = 0; o < out; ++o) idx[size_t(o)] = nearest_source_index(s, o, in);
  return idx;
}

// Taps and weights of every output index along one dim (computed once, reused for all planes).
template <class C>
struct Taps {
  std::vector<int64_t> i0, i1;
  std::vector<C> l0, l1;
  Taps(int64_t in, int64_t out, bool align_corners, double scale)
      : i0(static_cast<size_t>(out)), i1(static_cast<size_t>(out)), l0(static_cast<size_t>(out)),
        l1(static_cast<size_t>(out)) {
    const C s = linear_scale<C>(in, out, align_corners, scale);
    for (int64_t o = 0; o < out; ++o) {
      C w1;
      linear_taps(linear_source_coord(s, o, align_corners), in, i0[size_t(o)], i1[size_t(o)], w1);
      l1[size_t(o)] = w1;
      l0[size_t(o)] = C(1) - w1;
    }
  }
};

}  // namespace

void upsample_nearest2d_forward(DType dtype, const void* x, void* y, int64_t planes, int64_t H, int64_t W,
                                int64_t OH, int64_t OW, double scale_h, double scale_w) {
  const std::vector<int64_t> ih = nearest_indices(H, OH, scale_h), iw = nearest_indices(W, OW, scale_w);
  dispatch_float_dtype(dtype, [&](auto tag) {
    using C = decltype(tag);
    const C* X = static_cast<const C*>(x);
    C* Y = static_cast<C*>(y);
    parallel_for(0, planes, plane_grain(OH * OW), [&](int64_t p0, int64_t p1) {
      for (int64_t p = p0; p < p1; ++p)
        for (int64_t oh = 0; oh < OH; ++oh) {
          const C* xr = X + (p * H + ih[size_t(oh)]) * W;
          C* yr = Y + (p * OH + oh) * OW;
          for (int64_t ow = 0; ow < OW; ++ow) yr[ow] = xr[iw[size_t(ow)]];
        }
    });
  });
}

void upsample_nearest2d_backward(DType dtype, const void* dy, void* dx, int64_t planes, int64_t H, int64_t W,
                                 int64_t OH, int64_t OW, double scale_h, double scale_w) {
  const std::vector<int64_t> ih = nearest_indices(H, OH, scale_h), iw = nearest_indices(W, OW, scale_w);
  dispatch_float_dtype(dtype, [&](auto tag) {
    using C = decltype(tag);
    const C* G = static_cast<const C*>(dy);
    C* D = static_cast<C*>(dx);
    parallel_for(0, planes, plane_grain(OH * OW + H * W), [&](int64_t p0, int64_t p1) {
      for (int64_t p = p0; p < p1; ++p) {
        C* dp = D + p * H * W;
        std::fill(dp, dp + H * W, C(0));
        for (int64_t oh = 0; oh < OH; ++oh) {
          const C* gr = G + (p * OH + oh) * OW;
          C* dr = dp + ih[size_t(oh)] * W;
          for (int64_t ow = 0; ow < OW; ++ow) dr[iw[size_t(ow)]] += gr[ow];
        }
      }
    });
  });
}

void upsample_bilinear2d_forward(DType dtype, const void* x, void* y, int64_t planes, int64_t H, int64_t W,
                                 int64_t OH, int64_t OW, bool align_corners, double scale_h, double scale_w) {
  dispatch_float_dtype(dtype, [&](auto tag) {
    using C = decltype(tag);
    const Taps<C> th(H, OH, align_corners, scale_h), tw(W, OW, align_corners, scale_w);
    const C* X = static_cast<const C*>(x);
    C* Y = static_cast<C*>(y);
    parallel_for(0, planes, plane_grain(4 * OH * OW), [&](int64_t p0, int64_t p1) {
      for (int64_t p = p0; p < p1; ++p)
        for (int64_t oh = 0; oh < OH; ++oh) {
          const C* r0 = X + (p * H + th.i0[size_t(oh)]) * W;
          const C* r1 = X + (p * H + th.i1[size_t(oh)]) * W;
          const C h0 = th.l0[size_t(oh)], h1 = th.l1[size_t(oh)];
          C* yr = Y + (p * OH + oh) * OW;
          for (int64_t ow = 0; ow < OW; ++ow) {
            const int64_t a = tw.i0[size_t(ow)], b = tw.i1[size_t(ow)];
            const C w0 = tw.l0[size_t(ow)], w1 = tw.l1[size_t(ow)];
            yr[ow] = h0 * (w0 * r0[a] + w1 * r0[b]) + h1 * (w0 * r1[a] + w1 * r1[b]);
          }
        }
    });
  });
}

void upsample_bilinear2d_backward(DType dtype, const void* dy, void* dx, int64_t planes, int64_t H, int64_t W,
                                  int64_t OH, int64_t OW, bool align_corners, double scale_h, double scale_w) {
  dispatch_float_dtype(dtype, [&](auto tag) {
    using C = decltype(tag);
    const Taps<C> th(H, OH, align_corners, scale_h), tw(W, OW, align_corners, scale_w);
    const C* G = static_cast<const C*>(dy);
    C* D = static_cast<C*>(dx);
    parallel_for(0, planes, plane_grain(4 * OH * OW + H * W), [&](int64_t p0, int64_t p1) {
      for (int64_t p = p0; p < p1; ++p) {
        C* dp = D + p * H * W;
        std::fill(dp, dp + H * W, C(0));
        for (int64_t oh = 0; oh < OH; ++oh) {
          C* r0 = dp + th.i0[size_t(oh)] * W;
          C* r1 = dp + th.i1[size_t(oh)] * W;
          const C h0 = th.l0[size_t(oh)], h1 = th.l1[size_t(oh)];
          const C* gr = G + (p * OH + oh) * OW;
          for (int64_t ow = 0; ow < OW; ++ow) {
            const int64_t a = tw.i0[size_t(ow)], b = tw.i1[size_t(ow)];
            const C w0 = tw.l0[size_t(ow)], w1 = tw.l1[size_t(ow)], g = gr[ow];
            r0[a] += h0 * w0 * g;
            r0[b] += h0 * w1 * g;
            r1[a] += h1 * w0 * g;
            r1[b] += h1 * w1 * g;
          }
        }
      }
    });
  });
}

}  // namespace kiln::cpu
