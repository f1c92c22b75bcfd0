#include "kiln/kernels/cpu/im2col.h"

#include <algorithm>
#include <cstring>

namespace kiln::cpu {
namespace {

// Output columns [lo, hi) whose input column ow*S - P + k*D lies inside [0, W): the rest of a
// row reads padding. Computed once per kernel tap so the copy loops have no bounds checks.
void valid_range(int64_t OW, int64_t W, int64_t S, int64_t P, int64_t off, int64_t& lo, int64_t& hi) {
  // ow*S + (off - P) >= 0  <=>  ow >= ceil((P - off) / S)
  const int64_t shift = off - P;
  lo = shift >= 0 ? 0 : (-shift + S - 1) / S;
  // ow*S + shift <= W - 1  <=>  ow <= floor((W - 1 - shift) / S)
  hi = W - 1 - shift < 0 ? 0 : (W - 1 - shift) / S + 1;
  lo = std::min(lo, OW);
  hi = std::clamp(hi, lo, OW);
}

}  // namespace

template <class T>
void im2col(const Conv2dGeom& g, const T* x, T* col) {
  const int64_t ohw = g.ohw();
  for (int64_t c = 0; c < g.cg(); ++c) {
    const T* xc = x + c * g.hw();
    for (int64_t kh = 0; kh < g.KH; ++kh) {
      for (int64_t kw = 0; kw < g.KW; ++kw) {
        T* row = col + ((c * g.KH + kh) * g.KW + kw) * ohw;
        int64_t lo, hi;
        valid_range(g.OW, g.W, g.SW, g.PW, kw * g.DW, lo, hi);
        const int64_t col_shift = kw * g.DW - g.PW;
        for (int64_t oh = 0; oh < g.OH; ++oh) {
          T* out = row + oh * g.OW;
          const int64_t ih = oh * g.SH - g.PH + kh * g.DH;
          if (ih < 0 || ih >= g.H) {
            std::fill(out, out + g.OW, T(0));
            continue;
          }
          const T* in = xc + ih * g.W;  // output column ow reads input column ow*SW + col_shift
          std::fill(out, out + lo, T(0));
          if (g.SW == 1) {
            if (hi > lo) std::memcpy(out + lo, in + lo + col_shift, size_t(hi - lo) * sizeof(T));
          } else {
            for (int64_t ow = lo; ow < hi; ++ow) out[ow] = in[ow * g.SW + col_shift];
          }
          std::fill(out + hi, out + g.OW, T(0));
        }
      }
    }
  }
}

template <class T>
void col2im(const Conv2dGeom& g, const T* col, T* dx) {
  const int64_t ohw = g.ohw();
  for (int64_t c = 0; c < g.cg(); ++c) {
    T* xc = dx + c * g.hw();
    for (int64_t kh = 0; kh < g.KH; ++kh) {
      for (int64_t kw = 0; kw < g.KW; ++kw) {
        const T* row = col + ((c * g.KH + kh) * g.KW + kw) * ohw;
        int64_t lo, hi;
        valid_range(g.OW, g.W, g.SW, g.PW, kw * g.DW, lo, hi);
        const int64_t col_shift = kw * g.DW - g.PW;
        for (int64_t oh = 0; oh < g.OH; ++oh) {
          const int64_t ih = oh * g.SH - g.PH + kh * g.DH;
          if (ih < 0 || ih >= g.H) continue;
          const T* src = row + oh * g.OW;
          T* out = xc + ih * g.W;
          if (g.SW == 1) {
            T* o = out + lo + col_shift;  // inside the row: lo + col_shift >= 0
            const T* s = src + lo;
            for (int64_t i = 0; i < hi - lo; ++i) o[i] += s[i];
          } else {
            for (int64_t ow = lo; ow < hi; ++ow) out[ow * g.SW + col_shift] += src[ow];
          }
        }
      }
    }
  }
}

template void im2col<float>(const Conv2dGeom&, const float*, float*);
template void im2col<double>(const Conv2dGeom&, const double*, double*);
template void col2im<float>(const Conv2dGeom&, const float*, float*);
template void col2im<double>(const Conv2dGeom&, const double*, double*);

}  // namespace kiln::cpu
