#include "kiln/kernels/cpu/im2col.h"

#include <algorithm>
#include <cstring>

namespace kiln::cpu {
namespace {

// Output columns [lo, hi) whose input column ow*S - P + off lies inside [0, W): the rest of a
// row reads padding. Computed once per kernel tap so the copy loops have no bounds checks.
void valid_range(int64_t OW, int64_t W, int64_t S, int64_t P, int64_t off, int64_t& lo, int64_t& hi) {
  const int64_t shift = off - P;
  lo = shift >= 0 ? 0 : (-shift + S - 1) / S;              // ow*S + shift >= 0
  hi = W - 1 - shift < 0 ? 0 : (W - 1 - shift) / S + 1;     // ow*S + shift <= W - 1
  lo = std::min(lo, OW);
  hi = std::clamp(hi, lo, OW);
}

// Calls f(row_of_col, ih, a, b, lo, hi, col_shift) for every kernel tap (c, kh, kw) and output row
// oh that the position range [p0, p1) touches: positions oh*OW + [a, b) map to col entries
// starting at row_of_col + oh*OW + a - p0; [lo, hi) are the columns that read inside the input;
// ih < 0 or ih >= H means the whole segment reads padding.
// ld is the distance between rows of the column matrix (p1 - p0 for a dense one); only the input
// channels [c0, c1) are visited.
template <class F>
void for_each_segment(const Conv2dGeom& g, int64_t p0, int64_t p1, int64_t ld, int64_t c0, int64_t c1, F&& f) {
  const int64_t n = ld;
  if (p1 - p0 <= 0) return;
  const int64_t oh0 = p0 / g.OW, oh1 = (p1 - 1) / g.OW;
  for (int64_t c = c0; c < c1; ++c)
    for (int64_t kh = 0; kh < g.KH; ++kh)
      for (int64_t kw = 0; kw < g.KW; ++kw) {
        const int64_t row = (c * g.KH + kh) * g.KW + kw;
        int64_t lo, hi;
        valid_range(g.OW, g.W, g.SW, g.PW, kw * g.DW, lo, hi);
        const int64_t col_shift = kw * g.DW - g.PW;
        for (int64_t oh = oh0; oh <= oh1; ++oh) {
          const int64_t a = std::max<int64_t>(p0 - oh * g.OW, 0), b = std::min<int64_t>(p1 - oh * g.OW, g.OW);
          const int64_t ih = oh * g.SH - g.PH + kh * g.DH;
          f(c, row * n + oh * g.OW + a - p0, ih, a, b, lo, hi, col_shift);
        }
      }
}

}  // namespace

template <class T>
void im2col(const Conv2dGeom& g, const T* x, T* col, int64_t p0, int64_t p1) {
  for_each_segment(g, p0, p1, p1 - p0, 0, g.cg(), [&](int64_t c, int64_t at, int64_t ih, int64_t a, int64_t b,
                                                       int64_t lo, int64_t hi, int64_t col_shift) {
    T* out = col + at;  // out[i] is the entry of output column a + i
    if (ih < 0 || ih >= g.H) {
      std::fill(out, out + (b - a), T(0));
      return;
    }
    const T* in = x + c * g.hw() + ih * g.W;  // output column ow reads in[ow*SW + col_shift]
    const int64_t l = std::clamp(lo, a, b), h = std::clamp(hi, l, b);
    std::fill(out, out + (l - a), T(0));
    if (g.SW == 1) {
      if (h > l) std::memcpy(out + (l - a), in + l + col_shift, size_t(h - l) * sizeof(T));
    } else {
      for (int64_t ow = l; ow < h; ++ow) out[ow - a] = in[ow * g.SW + col_shift];
    }
    std::fill(out + (h - a), out + (b - a), T(0));
  });
}

template <class T>
void col2im(const Conv2dGeom& g, const T* col, T* dx, int64_t p0, int64_t p1) {
  col2im(g, col, p1 - p0, dx, p0, p1, 0, g.cg());
}

template <class T>
void col2im(const Conv2dGeom& g, const T* col, int64_t ld, T* dx, int64_t p0, int64_t p1, int64_t c0, int64_t c1) {
  for_each_segment(g, p0, p1, ld, c0, c1, [&](int64_t c, int64_t at, int64_t ih, int64_t a, int64_t b, int64_t lo,
                                              int64_t hi, int64_t col_shift) {
    if (ih < 0 || ih >= g.H) return;
    const T* src = col + at;  // src[i] is the entry of output column a + i
    T* out = dx + c * g.hw() + ih * g.W;
    const int64_t l = std::clamp(lo, a, b), h = std::clamp(hi, l, b);
    if (g.SW == 1) {
      T* o = out + l + col_shift;  // inside the row: l + col_shift >= 0
      const T* s = src + (l - a);
      for (int64_t i = 0; i < h - l; ++i) o[i] += s[i];
    } else {
      for (int64_t ow = l; ow < h; ++ow) out[ow * g.SW + col_shift] += src[ow - a];
    }
  });
}

template void im2col<float>(const Conv2dGeom&, const float*, float*, int64_t, int64_t);
template void im2col<double>(const Conv2dGeom&, const double*, double*, int64_t, int64_t);
template void col2im<float>(const Conv2dGeom&, const float*, float*, int64_t, int64_t);
template void col2im<double>(const Conv2dGeom&, const double*, double*, int64_t, int64_t);
template void col2im<float>(const Conv2dGeom&, const float*, int64_t, float*, int64_t, int64_t, int64_t, int64_t);
template void col2im<double>(const Conv2dGeom&, const double*, int64_t, double*, int64_t, int64_t, int64_t, int64_t);

}  // namespace kiln::cpu
