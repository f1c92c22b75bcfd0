// Max pooling forward, compiled once per instruction set (Note [ISA dispatch] in kernels/cpu/isa.h).
// GCC if-converts the compares and selects below into vector blends only without trapping math
// (Note [Elementwise loops]); kiln never reads the FP exception flags.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("no-trapping-math")
#endif
#include <algorithm>
#include <limits>
#include <type_traits>

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

#include "kiln/kernels/cpu/isa.h"
#include "kiln/kernels/cpu/parallel.h"
#include "kiln/kernels/cpu/pool.h"
#include "kiln/kernels/cpu/pool_window.h"
#include "kiln/kernels/macros.h"

namespace KILN_ISA_NAMESPACE {
namespace {

// Output columns [a, b) of one output row whose windows lie inside the input along w: tap by tap
// in the window's scan order, each tap over all those columns at once (a vector loop of selects,
// no data-dependent branches: whether an element takes the max is a coin flip for a branch
// predictor). Per column this is exactly window_max: the same update rule in the same tap order.
// SW > 0 fixes the column stride at compile time (1 and 2 cover nearly every network), so the
// strided loads vectorise.
template <class C, int SW>
void interior_row(const C* KILN_RESTRICT xp, int64_t W, int64_t h0, int64_t h1, int64_t dh, int64_t kw, int64_t dw,
                  int64_t pw, int64_t sw_any, int64_t a, int64_t b, C* KILN_RESTRICT y, int64_t* KILN_RESTRICT idx) {
  const int64_t sw = SW > 0 ? SW : sw_any;
  for (int64_t ow = a; ow < b; ++ow) {
    y[ow] = -std::numeric_limits<C>::infinity();
    idx[ow] = h0 * W + ow * sw - pw;
  }
  for (int64_t ih = h0; ih < h1; ih += dh)
    for (int64_t t = 0; t < kw; ++t) {
      const int64_t off = ih * W + t * dw - pw;
      const C* src = xp + off;
      for (int64_t ow = a; ow < b; ++ow) {
        const C v = src[ow * sw];
        const bool take = kiln::pool::max_takes(v, y[ow]);
        y[ow] = take ? v : y[ow];
        idx[ow] = take ? off + ow * sw : idx[ow];
      }
    }
}

#if defined(__AVX512F__)
KILN_INTRINSIC_WARNINGS_OFF
// interior_row for f32 with column stride 1 or 2, 16 output columns per register: per tap one load
// (stride 2: two loads and a permute keeping the even elements), two compares and two masked
// moves; the index is kept as 32-bit lanes (the caller checks that a plane has fewer than 2^31
// elements) and widened once at the store.
void interior_row_f32(const float* xp, int64_t W, int64_t h0, int64_t h1, int64_t dh, int64_t kw, int64_t dw,
                      int64_t pw, int64_t sw, int64_t a, int64_t b, float* y, int64_t* idx) {
  const __m512i even = _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0);
  const __m512i lane_pos = _mm512_mullo_epi32(_mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0),
                                              _mm512_set1_epi32(int(sw)));
  for (int64_t ow0 = a; ow0 < b; ow0 += 16) {
    const int m = int(std::min<int64_t>(16, b - ow0));
    const __mmask16 mask = __mmask16((1u << m) - 1u);
    const int e = 2 * m - 1;  // stride 2: elements [0, e) of the 32 read
    const __mmask16 lo_mask = __mmask16((1u << std::min(e, 16)) - 1u), hi_mask = __mmask16((1u << std::max(e - 16, 0)) - 1u);
    const int64_t col0 = ow0 * sw - pw;  // input column of lane 0's window, >= 0 inside [a, b)
    __m512 best = _mm512_set1_ps(-std::numeric_limits<float>::infinity());
    __m512i bi = _mm512_add_epi32(_mm512_set1_epi32(int(h0 * W + col0)), lane_pos);
    for (int64_t ih = h0; ih < h1; ih += dh)
      for (int64_t t = 0; t < kw; ++t) {
        const int64_t off = ih * W + col0 + t * dw;
        const float* src = xp + off;
        __m512 v;
        if (sw == 1) {
          v = _mm512_maskz_loadu_ps(mask, src);
        } else {
          const __m512 lo = _mm512_maskz_loadu_ps(lo_mask, src), hi = _mm512_maskz_loadu_ps(hi_mask, src + 16);
          v = _mm512_permutex2var_ps(lo, even, hi);
        }
        const __mmask16 take =
            mask & (_mm512_cmp_ps_mask(v, best, _CMP_GT_OQ) | _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q));
        best = _mm512_mask_mov_ps(best, take, v);
        bi = _mm512_mask_mov_epi32(bi, take, _mm512_add_epi32(_mm512_set1_epi32(int(off)), lane_pos));
      }
    _mm512_mask_storeu_ps(y + ow0, mask, best);
    _mm512_mask_storeu_epi64(idx + ow0, __mmask8(mask & 0xFF), _mm512_cvtepi32_epi64(_mm512_castsi512_si256(bi)));
    _mm512_mask_storeu_epi64(idx + ow0 + 8, __mmask8(mask >> 8),
                             _mm512_cvtepi32_epi64(_mm512_extracti64x4_epi64(bi, 1)));
  }
}
KILN_INTRINSIC_WARNINGS_ON
#endif

template <class C>
void max_pool_planes(const C* X, C* Y, int64_t* idx, int64_t planes, const kiln::cpu::Pool2dGeom& g) {
  using kiln::pool::first_valid;
  const int64_t in_plane = g.H * g.W, out_plane = g.OH * g.OW;
  // Columns [ia, ib) have windows inside the input: ow sw - pw >= 0 and ow sw - pw + (kw-1) dw < W.
  const int64_t last_tap = (g.kw - 1) * g.dw;
  const int64_t ia = std::min(g.OW, (g.pw + g.sw - 1) / g.sw);
  const int64_t room = g.W - 1 - last_tap + g.pw;
  const int64_t ib = std::max(ia, room >= 0 ? std::min(g.OW, room / g.sw + 1) : int64_t(0));
  kiln::cpu::parallel_for(0, planes, pool_window::plane_grain(out_plane * g.kh * g.kw), [&](int64_t p0, int64_t p1) {
    for (int64_t p = p0; p < p1; ++p) {
      const C* xp = X + p * in_plane;
      for (int64_t oh = 0; oh < g.OH; ++oh) {
        const int64_t hs = oh * g.sh - g.ph;
        const int64_t h0 = first_valid(hs, g.dh);
        const int64_t h1 = std::min(hs + (g.kh - 1) * g.dh + 1, g.H);
        C* yr = Y + p * out_plane + oh * g.OW;
        int64_t* ir = idx + p * out_plane + oh * g.OW;
        auto edge = [&](int64_t ow) {
          const int64_t ws = ow * g.sw - g.pw;
          pool_window::window_max(xp, g.W, h0, h1, g.dh, first_valid(ws, g.dw), std::min(ws + last_tap + 1, g.W),
                                  g.dw, yr[ow], ir[ow]);
        };
        for (int64_t ow = 0; ow < ia; ++ow) edge(ow);
        [&] {
#if defined(__AVX512F__)
          if constexpr (std::is_same_v<C, float>)
            if ((g.sw == 1 || g.sw == 2) && in_plane < (int64_t(1) << 31))
              return interior_row_f32(xp, g.W, h0, h1, g.dh, g.kw, g.dw, g.pw, g.sw, ia, ib, yr, ir);
#endif
          if (g.sw == 1) return interior_row<C, 1>(xp, g.W, h0, h1, g.dh, g.kw, g.dw, g.pw, 1, ia, ib, yr, ir);
          if (g.sw == 2) return interior_row<C, 2>(xp, g.W, h0, h1, g.dh, g.kw, g.dw, g.pw, 2, ia, ib, yr, ir);
          interior_row<C, 0>(xp, g.W, h0, h1, g.dh, g.kw, g.dw, g.pw, g.sw, ia, ib, yr, ir);
        }();
        for (int64_t ow = ib; ow < g.OW; ++ow) edge(ow);
      }
    }
  });
}

}  // namespace

void max_pool2d_forward_isa(kiln::DType dtype, const void* x, void* y, int64_t* idx, int64_t planes,
                            const kiln::cpu::Pool2dGeom& g) {
  kiln::dispatch_float_dtype(dtype, [&](auto tag) {
    using C = decltype(tag);
    max_pool_planes<C>(static_cast<const C*>(x), static_cast<C*>(y), idx, planes, g);
  });
}

}  // namespace KILN_ISA_NAMESPACE
