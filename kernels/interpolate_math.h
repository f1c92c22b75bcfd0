#pragma once
// Source-coordinate formulas of the resampling ops (upsample nearest / bilinear), shared by the
// CPU kernels and the CUDA kernels so that both compute the same positions (PyTorch's conventions).
#include <cstdint>

#include "kiln/kernels/macros.h"

namespace kiln {

// Ratio input/output used by 'nearest': 1 / scale when a scale factor was given (> 0), else
// in / out. Computed in f32, as PyTorch does, so that floor() lands on the same index.
KILN_HD float nearest_scale(int64_t in, int64_t out, double scale) {
  return scale > 0 ? float(1.0 / scale) : float(in) / float(out);
}
// 'nearest' source index: floor(dst * scale), clamped to in - 1.
KILN_HD int64_t nearest_source_index(float scale, int64_t dst, int64_t in) {
  int64_t s = int64_t(float(dst) * scale);  // dst * scale >= 0, so truncation is floor
  return s < in - 1 ? s : in - 1;
}

// Ratio used by 'bilinear': with align_corners the corner pixel centres of input and output
// coincide, so (in - 1) / (out - 1) (0 when out == 1); otherwise 1 / scale when a scale factor was
// given, else in / out.
template <class C>
KILN_HD C linear_scale(int64_t in, int64_t out, bool align_corners, double scale) {
  if (align_corners) return out > 1 ? C(in - 1) / C(out - 1) : C(0);
  return scale > 0 ? C(1.0 / scale) : C(in) / C(out);
}
// Source coordinate of output index dst: dst * scale with align_corners, else the pixel-centre
// mapping (dst + 0.5) * scale - 0.5, clamped at 0.
template <class C>
KILN_HD C linear_source_coord(C scale, int64_t dst, bool align_corners) {
  if (align_corners) return scale * C(dst);
  C s = scale * (C(dst) + C(0.5)) - C(0.5);
  return s < C(0) ? C(0) : s;
}

// The two taps i0, i1 and weight l1 of i1 (l0 = 1 - l1) for a source coordinate src >= 0.
template <class C>
KILN_HD void linear_taps(C src, int64_t in, int64_t& i0, int64_t& i1, C& l1) {
  i0 = int64_t(src);
  if (i0 > in - 1) i0 = in - 1;
  i1 = i0 < in - 1 ? i0 + 1 : i0;
  l1 = src - C(i0);
  if (l1 < C(0)) l1 = C(0);
}

}  // namespace kiln
