#pragma once
// Coordinate maths of affine_grid and grid_sample, shared by the CPU kernels and the CUDA kernels
// (the fused augmentation kernel samples with the same formulas).
//
// Note [align_corners]
// Grid coordinates are normalised to [-1, 1] over an axis of `size` pixels.
//  - align_corners = true: -1 and 1 are the centres of the first and last pixels:
//      pixel = (coord + 1) / 2 * (size - 1).
//  - align_corners = false: -1 and 1 are the outer edges of the first and last pixels:
//      pixel = ((coord + 1) * size - 1) / 2.
// Padding modes decide what out-of-range pixel coordinates read: zeros (0), border (the coordinate
// is clamped to [0, size - 1]) or reflection (reflected at the borders -- pixel centres with
// align_corners, pixel edges without -- then clamped).
#include <cmath>
#include <cstdint>

#include "kiln/kernels/macros.h"

namespace kiln {

enum class GridSampleMode : uint8_t { bilinear, nearest };
enum class GridSamplePadding : uint8_t { zeros, border, reflection };

// Normalised coordinate -> pixel coordinate (Note [align_corners]).
template <class C>
KILN_HD C grid_unnormalize(C coord, int64_t size, bool align_corners) {
  return align_corners ? (coord + C(1)) / C(2) * C(size - 1) : ((coord + C(1)) * C(size) - C(1)) / C(2);
}

// Clamp to [0, size - 1]; NaN stays NaN.
template <class C>
KILN_HD C grid_clip(C x, int64_t size) {
  if (x != x) return x;
  const C hi = C(size - 1);
  return x < C(0) ? C(0) : (x > hi ? hi : x);
}

// Reflects x into [twice_low / 2, twice_high / 2] (bounds given doubled so that half-pixel borders
// stay integral).
template <class C>
KILN_HD C grid_reflect(C x, int64_t twice_low, int64_t twice_high) {
  if (twice_low == twice_high) return C(0);
  const C lo = C(twice_low) / C(2);
  const C span = C(twice_high - twice_low) / C(2);
  x = std::fabs(x - lo);
  const C extra = std::fmod(x, span);
  const int64_t flips = int64_t(std::floor(x / span));
  return (flips % 2 == 0) ? extra + lo : span - extra + lo;
}

// Pixel coordinate read for normalised coordinate `coord` along an axis of `size` pixels.
template <class C>
KILN_HD C grid_source_coord(C coord, int64_t size, GridSamplePadding padding, bool align_corners) {
  C x = grid_unnormalize(coord, size, align_corners);
  if (padding == GridSamplePadding::border) {
    x = grid_clip(x, size);
  } else if (padding == GridSamplePadding::reflection) {
    if (!std::isfinite(x)) return x;
    x = align_corners ? grid_reflect(x, 0, 2 * (size - 1)) : grid_reflect(x, -1, 2 * size - 1);
    x = grid_clip(x, size);
  }
  return x;
}

// grid_reflect and its derivative d(result)/dx (+1 or -1; 0 for a single-point range) in *dx.
template <class C>
KILN_HD C grid_reflect_grad(C x, int64_t twice_low, int64_t twice_high, C* dx) {
  if (twice_low == twice_high) {
    *dx = C(0);
    return C(0);
  }
  const C lo = C(twice_low) / C(2);
  const C span = C(twice_high - twice_low) / C(2);
  C d = x - lo, sign = C(1);
  if (d < C(0)) {
    d = -d;
    sign = C(-1);
  }
  const C extra = std::fmod(d, span);
  const int64_t flips = int64_t(std::floor(d / span));
  *dx = (flips % 2 == 0) ? sign : -sign;
  return (flips % 2 == 0) ? extra + lo : span - extra + lo;
}

// grid_clip and its derivative (1 inside [0, size - 1], 0 where the value was clamped) in *dx.
template <class C>
KILN_HD C grid_clip_grad(C x, int64_t size, C* dx) {
  const C hi = C(size - 1);
  if (x <= C(0)) {
    *dx = C(0);
    return C(0);
  }
  if (x >= hi) {
    *dx = C(0);
    return hi;
  }
  *dx = C(1);
  return x;
}

// grid_source_coord and its derivative d(pixel)/d(coord) in *dcoord (for grid_sample's gradient
// with respect to the grid). Non-finite pixel coordinates are returned as they are.
template <class C>
KILN_HD C grid_source_coord_grad(C coord, int64_t size, GridSamplePadding padding, bool align_corners, C* dcoord) {
  C x = grid_unnormalize(coord, size, align_corners);
  C g = align_corners ? C(size - 1) / C(2) : C(size) / C(2);
  if (padding == GridSamplePadding::border) {
    C dc;
    x = grid_clip_grad(x, size, &dc);
    g *= dc;
  } else if (padding == GridSamplePadding::reflection) {
    if (!std::isfinite(x)) {
      *dcoord = C(0);
      return x;
    }
    C dr, dc;
    x = align_corners ? grid_reflect_grad(x, 0, 2 * (size - 1), &dr) : grid_reflect_grad(x, -1, 2 * size - 1, &dr);
    x = grid_clip_grad(x, size, &dc);
    g *= dr * dc;
  }
  *dcoord = g;
  return x;
}

// Base coordinate of pixel i of `size` for affine_grid: linspace(-1, 1, size), scaled by
// (size - 1) / size without align_corners so that it hits pixel centres.
template <class C>
KILN_HD C affine_grid_base(int64_t i, int64_t size, bool align_corners) {
  if (size <= 1) return align_corners ? C(-1) : C(0);
  const C v = C(-1) + C(2) * C(i) / C(size - 1);
  return align_corners ? v : v * C(size - 1) / C(size);
}

}  // namespace kiln
