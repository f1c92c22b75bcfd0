#pragma once
// Fused batch augmentation over raw pointers: the per-sample parameter record, the call's
// arguments, their checks and the host-side resolution of a record into the per-pixel data
// (kernels/augment_math.h). The kernels themselves: kernels/cpu/augment.h and
// kernels/cuda/augment.h. The Tensor-level API with the random draws is data/augment.h.
//
// One call turns a batch of B images into B augmented images in one pass: geometry (one coordinate
// map, Note [Augmentation coordinate map]), sampling once, lighting (fastai's brightness and
// contrast in logit space, saturation), hue (HSV), normalisation by mean / std, random erasing
// with N(0, 1) noise (after normalisation, as fastai's RandomErasing), the cast and the layout.
//
// Layouts. Input: [B, C, H, W] (nchw) or [B, H, W, C] (nhwc), dtype u8 (values 0..255, divided by
// 255 after sampling) or f32 (values used as they are, expected in [0, 1] when lighting is on).
// Output: [B, C, OH, OW] or [B, OH, OW, C] in f32, f16 or bf16. Masks: [B, H, W] -> [B, OH, OW],
// integer classes (u8, i32, i64), sampled nearest with the same map. Points: [B, N, 2] (x, y) in
// pixel coordinates (the centre of pixel i is at i), mapped through the inverse of the map.
#include <cstdint>

#include "kiln/kernels/augment_math.h"
#include "kiln/kernels/dtype.h"

namespace kiln {

// The random draws of one sample (fastai's transforms; neutral values mean "not applied").
struct AugSampleParams {
  // 3x3 affine matrix (row-major, bottom row 0 0 1) from normalised output coordinates to
  // normalised input coordinates, as theta of affine_grid: fastai's flip @ rotate @ zoom (@ kiln's
  // shear @ translate), with fastai's aspect correction (_prepare_mat) already applied.
  float affine[9] = {1, 0, 0, 0, 1, 0, 0, 0, 1};
  float warp_x = 0, warp_y = 0;  // fastai's perspective warp magnitudes (Warp: x_t, y_t)
  // Random resized crop: the region of the input, in input pixels (x0, y0, width, height); a
  // width or height <= 0 means the whole image. Applied after the affine map, as fastai's
  // RandomResizedCropGPU after AffineCoordTfm.
  float crop[4] = {0, 0, 0, 0};
  float brightness = 0.5f;  // fastai's Brightness change (neutral 0.5), in (0, 1)
  float contrast = 1.0f;    // fastai's Contrast change (neutral 1), > 0
  float saturation = 1.0f;  // fastai's Saturation change (neutral 1), >= 0; needs C == 3
  float hue = 0.0f;         // fastai's Hue change, added to the hue mod 1 (neutral 0); needs C == 3
  int32_t n_erase = 0;                    // random erasing rectangles used (<= kAugMaxErase)
  int32_t erase[kAugMaxErase][4] = {};    // y0, y1, x0, x1 in output pixels, half-open
  uint64_t noise_seed = 0;                // Philox key of the erasing noise
};

struct AugImageArgs {
  int64_t B = 0, C = 0, H = 0, W = 0;  // input sizes
  int64_t OH = 0, OW = 0;              // output size
  DType in_dtype = DType::u8;          // u8 or f32
  AugLayout in_layout = AugLayout::nhwc;
  DType out_dtype = DType::f32;        // f32, f16 or bf16
  AugLayout out_layout = AugLayout::nchw;
  AugInterp interp = AugInterp::bilinear;
  GridSamplePadding padding = GridSamplePadding::reflection;
  bool align_corners = true;           // fastai's default
  bool normalize = false;              // out = (v - mean[c]) / std[c]
  float mean[kAugMaxChannels] = {};
  float std[kAugMaxChannels] = {};
};

// Geometry of sample b's input image in the call's input layout (element strides from the sample's start).
KILN_HD AugInputView aug_input_view(const AugImageArgs& a) {
  if (a.in_layout == AugLayout::nchw) return AugInputView{a.H, a.W, a.H * a.W, a.W, 1};
  return AugInputView{a.H, a.W, 1, a.W * a.C, a.C};
}

// All C output values of output pixel (oy, ox) of one sample, before the cast: map, sample once,
// scale u8 to [0, 1], lighting, hue, normalisation, erasing (fastai's order: AffineCoordTfm,
// LightingTfm, Hue, Normalize, RandomErasing). `in` points at the sample's first input element.
// kC > 0 fixes the channel count at compile time (it must equal a.C); 0 reads a.C.
template <class TIn, int kC = 0>
KILN_HD void aug_output_pixel(const AugImageArgs& a, const AugResolved& r, const TIn* in, int64_t oy, int64_t ox,
                              float* v) {
  const int C = kC > 0 ? kC : int(a.C);
  float sx, sy;
  aug_map_pixel(r.map, float(ox), float(oy), (r.flags & kAugProjective) != 0, sx, sy);
  aug_sample(in, aug_input_view(a), C, sx, sy, a.interp, a.padding, a.align_corners, v);
  if (a.in_dtype == DType::u8)
    for (int c = 0; c < C; ++c) v[c] = v[c] / 255.0f;
  if (r.flags & kAugHasLighting) aug_lighting(v, C, r);
  if (r.flags & kAugHasHue) aug_hue(v, r.hue);
  if (a.normalize)
    for (int c = 0; c < C; ++c) v[c] = (v[c] - a.mean[c]) / a.std[c];
  if (r.n_erase > 0 && aug_erased(r, oy, ox))
    for (int c = 0; c < C; ++c) v[c] = aug_erase_noise(r, uint64_t((c * a.OH + oy) * a.OW + ox));
}

// Element offset of channel c of output pixel (oy, ox) of sample b.
KILN_HD int64_t aug_output_offset(const AugImageArgs& a, int64_t b, int64_t c, int64_t oy, int64_t ox) {
  if (a.out_layout == AugLayout::nchw) return ((b * a.C + c) * a.OH + oy) * a.OW + ox;
  return ((b * a.OH + oy) * a.OW + ox) * a.C + c;
}

// Checks sizes (all >= 1: an empty batch is an error), dtypes and every sample's parameters; throws
// kiln::Error naming `op` and the offending value.
void check_augment_args(const char* op, const AugImageArgs& a, const AugSampleParams* params);
// Checks of the mask call (sizes and the mask dtype).
void check_augment_mask_args(const char* op, const AugImageArgs& a, DType mask_dtype);

// Geometry only: the homography P of Note [Augmentation coordinate map] for these sizes, in double
// (output pixel -> input pixel), before snapping and rounding to float.
void aug_pixel_map(const AugSampleParams& p, int64_t H, int64_t W, int64_t OH, int64_t OW, bool align_corners,
                   double P[9]);
// The per-pixel record of one sample (map snapped to integers where within 1e-9, lighting constants).
AugResolved aug_resolve(const AugSampleParams& p, const AugImageArgs& a);

// Points [B, N, 2] (x, y) in input pixels -> output pixels (forward = true: where the augmentation
// sends them) or output pixels -> input pixels (forward = false: invert_points). f32, host memory;
// in and out may be the same buffer. A point on the warp's horizon becomes NaN.
void augment_points(const AugSampleParams* params, int64_t B, int64_t N, int64_t H, int64_t W, int64_t OH,
                    int64_t OW, bool align_corners, const float* in, float* out, bool forward);

}  // namespace kiln
