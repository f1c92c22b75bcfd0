#pragma once
// Per-pixel maths of the fused batch augmentation (kernels/augment.h), shared by the CPU kernel
// (kernels/cpu/augment.cpp) and the CUDA kernel (kernels/cuda/augment.cu) so both compute the same
// thing: the coordinate map, sampling with padding, lighting in logit space, saturation, hue,
// normalisation and random-erasing noise.
//
// Note [Augmentation coordinate map]
// All geometry of one sample (flip, dihedral, rotate, zoom, shear, translate -- one 3x3 affine
// matrix in normalised coordinates --, fastai's perspective warp and the random resized crop) is
// composed on the host, in double precision, into ONE 3x3 homography P that sends an output pixel
// (ox, oy, 1) to an input pixel (sx, sy) = (P0 ox + P1 oy + P2, P3 ox + P4 oy + P5) / (P6 ox + P7 oy + P8).
// Pixel coordinates put the centre of pixel i at i. The normalised coordinates of the affine matrix
// follow affine_grid / grid_sample with the call's align_corners (Note [align_corners] in
// kernels/grid_sample_math.h); fastai's aug_transforms uses align_corners = true, the golden
// fixtures check both. Entries of P within 1e-9 of an integer are snapped to it, so identity,
// flips and dihedral maps give integral coordinates and reproduce pixels exactly. The image is
// then sampled once (bilinear, bicubic or nearest; masks always nearest). Coordinates are computed
// with multiplications and additions that are never fused into FMAs on the device (aug_fmul /
// aug_fadd), so CPU and CUDA read the same pixels and masks are bit-identical on both.
// Where kiln differs from fastai on purpose: the random resized crop reads real pixels outside the
// crop window (fastai slices first, so its padding reflects the crop, not the image); fastai's
// area pre-shrink in _grid_sample (when the output is less than half the input) is not done; and
// samples whose lighting is neutral skip sigmoid(logit(x)) (fastai applies it, moving 0 and 1 by 1e-7).
#include <cmath>
#include <cstdint>

#include "kiln/kernels/grid_sample_math.h"
#include "kiln/kernels/macros.h"
#include "kiln/kernels/philox.h"

namespace kiln {

enum class AugInterp : uint8_t { bilinear, nearest, bicubic };
enum class AugLayout : uint8_t { nchw, nhwc };

constexpr int kAugMaxChannels = 16;
constexpr int kAugMaxErase = 4;

// Per-sample data the per-pixel code reads, resolved on the host from AugSampleParams
// (kernels/augment.h, aug_resolve).
struct AugResolved {
  float map[9];          // P of Note [Augmentation coordinate map], row-major
  float bright_logit;    // logit(brightness): added to the logit of every channel
  float contrast;        // logit multiplier
  float saturation;      // 1 = unchanged; blend with the channel mean of the logits (fastai's Saturation)
  float hue;             // added to the hue in turns (fastai's Hue), 0 = unchanged
  int32_t n_erase;       // number of valid rectangles in erase
  int32_t erase[kAugMaxErase][4];  // y0, y1, x0, x1 in output pixels, half-open
  uint32_t noise_key[2];           // Philox key of the erasing noise
  uint32_t flags;                  // kAugHas* bits
};
constexpr uint32_t kAugHasLighting = 1u;   // brightness / contrast / saturation differ from neutral
constexpr uint32_t kAugHasHue = 2u;        // hue differs from 0
constexpr uint32_t kAugProjective = 4u;    // the bottom row of map is not (0, 0, 1)

// Products and sums that nvcc must not contract into FMAs (Note [Augmentation coordinate map]).
// Host code is compiled without contraction (ISO C++ mode, baseline ISA).
KILN_HD float aug_fmul(float a, float b) {
#if defined(__CUDA_ARCH__)
  return __fmul_rn(a, b);
#else
  return a * b;
#endif
}
KILN_HD float aug_fadd(float a, float b) {
#if defined(__CUDA_ARCH__)
  return __fadd_rn(a, b);
#else
  return a + b;
#endif
}

// Input pixel coordinate of output pixel (ox, oy). A zero denominator (the warp's horizon, never
// reached by fastai's magnitudes) leaves the numerators undivided, as fastai's apply_perspective does.
KILN_HD void aug_map_pixel(const float* m, float ox, float oy, bool projective, float& sx, float& sy) {
  sx = aug_fadd(aug_fadd(aug_fmul(m[0], ox), aug_fmul(m[1], oy)), m[2]);
  sy = aug_fadd(aug_fadd(aug_fmul(m[3], ox), aug_fmul(m[4], oy)), m[5]);
  if (projective) {
    const float w = aug_fadd(aug_fadd(aug_fmul(m[6], ox), aug_fmul(m[7], oy)), m[8]);
    if (w != 0.0f) {
      sx = sx / w;
      sy = sy / w;
    }
  }
}

// Padding of a continuous pixel coordinate before bilinear / nearest sampling (grid_sample's
// order: reflect or clamp the coordinate, then read the taps; zeros pads per tap).
KILN_HD float aug_pad_coord(float x, int64_t size, GridSamplePadding padding, bool align_corners) {
  if (padding == GridSamplePadding::border) return grid_clip(x, size);
  if (padding == GridSamplePadding::reflection) {
    if (!(x == x) || x - x != 0.0f) return x;  // NaN or infinite
    x = align_corners ? grid_reflect(x, 0, 2 * (size - 1)) : grid_reflect(x, -1, 2 * size - 1);
    return grid_clip(x, size);
  }
  return x;
}

// Index of a bicubic tap: each tap is padded on its own (grid_sample's bicubic); -1 = zero.
KILN_HD int64_t aug_tap_index(int64_t i, int64_t size, GridSamplePadding padding, bool align_corners) {
  if (padding == GridSamplePadding::zeros) return (i >= 0 && i < size) ? i : -1;
  float x = aug_pad_coord(float(i), size, padding, align_corners);
  return int64_t(x);  // integral after reflection / clamping of an integer
}

// Cubic convolution weights (A = -0.75, as grid_sample and interpolate) for fractional offset t.
KILN_HD void aug_cubic_weights(float t, float w[4]) {
  const float A = -0.75f;
  auto near1 = [A](float x) { return ((A + 2.0f) * x - (A + 3.0f)) * x * x + 1.0f; };           // |x| <= 1
  auto far1 = [A](float x) { return ((A * x - 5.0f * A) * x + 8.0f * A) * x - 4.0f * A; };     // 1 < |x| < 2
  w[0] = far1(t + 1.0f);
  w[1] = near1(t);
  w[2] = near1(1.0f - t);
  w[3] = far1(2.0f - t);
}

// fastai's logit (clamped to [1e-7, 1 - 1e-7]) and its inverse.
KILN_HD float aug_logit(float x) {
  x = x < 1e-7f ? 1e-7f : (x > 1.0f - 1e-7f ? 1.0f - 1e-7f : x);
  return -logf(1.0f / x - 1.0f);
}
KILN_HD float aug_sigmoid(float x) { return 1.0f / (1.0f + expf(-x)); }

// fastai's lighting on the C channel values v (in [0, 1]) of one pixel: logit, add the brightness
// logit, scale by the contrast, blend with the grayscale of the logits by the saturation (fastai's
// ITU-R 601 weights, 3 channels only), sigmoid.
KILN_HD void aug_lighting(float* v, int C, const AugResolved& r) {
  for (int c = 0; c < C; ++c) v[c] = (aug_logit(v[c]) + r.bright_logit) * r.contrast;
  if (C == 3 && r.saturation != 1.0f) {
    const float gray = (0.2989f * v[0] + 0.5870f * v[1] + 0.1140f * v[2]) * (1.0f - r.saturation);
    for (int c = 0; c < 3; ++c) v[c] = v[c] * r.saturation + gray;
  }
  for (int c = 0; c < C; ++c) v[c] = aug_sigmoid(v[c]);
}

// fastai's Hue: RGB -> HSV, h = (h + shift) mod 1, HSV -> RGB (channel values in [0, 1]).
KILN_HD void aug_hue(float* v, float shift) {
  const float r = v[0], g = v[1], b = v[2];
  const float mx = fmaxf(r, fmaxf(g, b)), mn = fminf(r, fminf(g, b));
  const float cr = mx - mn;
  float h = 0.0f;
  const float s = mx == mn ? 0.0f : cr / mx;
  if (mx != mn) {
    const float rc = (mx - r) / cr, gc = (mx - g) / cr, bc = (mx - b) / cr;
    if (mx == r) h = bc - gc;
    else if (mx == g) h = 2.0f + rc - bc;
    else h = 4.0f + gc - rc;
    h = fmodf(h / 6.0f + 1.0f, 1.0f);
  }
  h = fmodf(h + shift, 1.0f);
  if (h < 0.0f) h += 1.0f;
  const float hi = floorf(h * 6.0f), f = h * 6.0f - hi;
  int i = int(hi) % 6;
  auto clamp01 = [](float x) { return x < 0.0f ? 0.0f : (x > 1.0f ? 1.0f : x); };
  const float p = clamp01(mx * (1.0f - s)), q = clamp01(mx * (1.0f - s * f)), t = clamp01(mx * (1.0f - s * (1.0f - f)));
  switch (i) {
    case 0: v[0] = mx, v[1] = t, v[2] = p; break;
    case 1: v[0] = q, v[1] = mx, v[2] = p; break;
    case 2: v[0] = p, v[1] = mx, v[2] = t; break;
    case 3: v[0] = p, v[1] = q, v[2] = mx; break;
    case 4: v[0] = t, v[1] = p, v[2] = mx; break;
    default: v[0] = mx, v[1] = p, v[2] = q; break;
  }
}

// True when output pixel (oy, ox) lies in one of the sample's erasing rectangles.
KILN_HD bool aug_erased(const AugResolved& r, int64_t oy, int64_t ox) {
  for (int k = 0; k < r.n_erase && k < kAugMaxErase; ++k)
    if (oy >= r.erase[k][0] && oy < r.erase[k][1] && ox >= r.erase[k][2] && ox < r.erase[k][3]) return true;
  return false;
}

// Standard normal noise of an erased output element: Philox block `element` (the element's index
// c * OH * OW + oy * OW + ox within its sample) under the sample's noise key, Box-Muller on words 0, 1
// (Note [Philox streams]: the same words on every device).
KILN_HD float aug_erase_noise(const AugResolved& r, uint64_t element) {
  const Philox4 w = philox4x32_10(uint32_t(element), uint32_t(element >> 32), 0u, 0u, r.noise_key[0], r.noise_key[1]);
  const float u1 = philox_u24(w.v[0]), u2 = philox_u24(w.v[1]);
  return sqrtf(-2.0f * logf(1.0f - u1)) * cosf(6.2831853071795864f * u2);
}

// Reads channel c of input pixel (y, x) of one sample as a float (u8 stays in 0..255).
template <class TIn>
KILN_HD float aug_read(const TIn* in, int64_t sC, int64_t sH, int64_t sW, int64_t c, int64_t y, int64_t x) {
  return float(in[c * sC + y * sH + x * sW]);
}

// Geometry of one sample's input image: sizes and element strides (any layout).
struct AugInputView {
  int64_t H, W, sC, sH, sW;
};

// Samples the C channels of the input at pixel coordinate (sx, sy) into v (values in the input's
// units). Zeros padding reads 0 outside the image. C is a compile-time constant where the caller
// knows it (the loops unroll and v stays in registers on the device).
template <class TIn>
KILN_HD void aug_sample(const TIn* in, const AugInputView& g, int C, float sx, float sy, AugInterp interp,
                        GridSamplePadding padding, bool align_corners, float* v) {
  const int64_t H = g.H, W = g.W;
  if (interp == AugInterp::bicubic) {
    const float fx = floorf(sx), fy = floorf(sy);
    float wx[4], wy[4];
    aug_cubic_weights(sx - fx, wx);
    aug_cubic_weights(sy - fy, wy);
    int64_t ix[4], iy[4];
    for (int k = 0; k < 4; ++k) {
      ix[k] = aug_tap_index(int64_t(fx) - 1 + k, W, padding, align_corners);
      iy[k] = aug_tap_index(int64_t(fy) - 1 + k, H, padding, align_corners);
    }
    for (int c = 0; c < C; ++c) {
      float acc = 0.0f;
      for (int j = 0; j < 4; ++j) {
        if (iy[j] < 0) continue;
        float row = 0.0f;
        for (int k = 0; k < 4; ++k)
          if (ix[k] >= 0) row += wx[k] * aug_read(in, g.sC, g.sH, g.sW, c, iy[j], ix[k]);
        acc += wy[j] * row;
      }
      v[c] = acc;
    }
    return;
  }
  sx = aug_pad_coord(sx, W, padding, align_corners);
  sy = aug_pad_coord(sy, H, padding, align_corners);
  if (interp == AugInterp::nearest) {
    const float rx = nearbyintf(sx), ry = nearbyintf(sy);  // round half to even, as grid_sample
    const bool inside = rx >= 0.0f && rx <= float(W - 1) && ry >= 0.0f && ry <= float(H - 1);
    for (int c = 0; c < C; ++c) v[c] = inside ? aug_read(in, g.sC, g.sH, g.sW, c, int64_t(ry), int64_t(rx)) : 0.0f;
    return;
  }
  // Bilinear. Coordinates outside (-1, size) (or NaN) read nothing.
  if (!(sx > -1.0f && sx < float(W) && sy > -1.0f && sy < float(H))) {
    for (int c = 0; c < C; ++c) v[c] = 0.0f;
    return;
  }
  const float fx = floorf(sx), fy = floorf(sy);
  const int64_t x0 = int64_t(fx), y0 = int64_t(fy);
  const float tx = sx - fx, ty = sy - fy;
  const bool x0in = x0 >= 0, x1in = x0 + 1 < W, y0in = y0 >= 0, y1in = y0 + 1 < H;
  const float w00 = (1.0f - tx) * (1.0f - ty), w01 = tx * (1.0f - ty), w10 = (1.0f - tx) * ty, w11 = tx * ty;
  for (int c = 0; c < C; ++c) {
    float acc = 0.0f;
    if (y0in && x0in) acc += w00 * aug_read(in, g.sC, g.sH, g.sW, c, y0, x0);
    if (y0in && x1in) acc += w01 * aug_read(in, g.sC, g.sH, g.sW, c, y0, x0 + 1);
    if (y1in && x0in) acc += w10 * aug_read(in, g.sC, g.sH, g.sW, c, y0 + 1, x0);
    if (y1in && x1in) acc += w11 * aug_read(in, g.sC, g.sH, g.sW, c, y0 + 1, x0 + 1);
    v[c] = acc;
  }
}

// Class value of a mask [H, W] (contiguous) at the nearest input pixel of (sx, sy); padding as for
// images, so zeros padding gives class 0.
template <class TM>
KILN_HD TM aug_sample_mask(const TM* mask, int64_t H, int64_t W, float sx, float sy, GridSamplePadding padding,
                           bool align_corners) {
  sx = aug_pad_coord(sx, W, padding, align_corners);
  sy = aug_pad_coord(sy, H, padding, align_corners);
  const float rx = nearbyintf(sx), ry = nearbyintf(sy);
  if (!(rx >= 0.0f && rx <= float(W - 1) && ry >= 0.0f && ry <= float(H - 1))) return TM(0);
  return mask[int64_t(ry) * W + int64_t(rx)];
}

}  // namespace kiln
