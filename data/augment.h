#pragma once
// Fused batch augmentation at the Tensor level (the kernel and its formulas: kernels/augment.h).
//
//   AugConfig cfg = data::aug_transforms({.size = {224, 224}, .mean = {...}, .std = {...}});
//   auto params = data::draw_params(cfg, H, W, seed, epoch, first_sample_index, B);
//   data::AugBatch out = data::augment(images, cfg, params, masks, points);
//   Tensor shown = data::decode(out.images, out.record);          // undo normalisation
//   data::AugBatch again = data::replay(images, out.record);        // same augmentation (TTA)
//   Tensor back = data::invert_points(out.points, out.record);      // output -> input pixels
//
// Inputs: images u8 [B, H, W, C] (as decoded) or f32 [B, C, H, W] (values in [0, 1]); masks
// [B, H, W] of integer classes (u8, i32, i64); points [B, N, 2] f32, (x, y) in input pixels with
// the centre of pixel i at i. Outputs: images [B, C, OH, OW] (or [B, OH, OW, C] with
// out_layout = nhwc) in f32 / f16 / bf16, masks [B, OH, OW] with the input's dtype, points
// [B, N, 2] f32 in output pixels. CPU tensors (the CUDA kernel is kernels/cuda/augment.h).
#include <cstdint>
#include <vector>

#include "kiln/kernels/augment.h"
#include "kiln/tensor/tensor.h"

namespace kiln::data {

struct AugSize {
  int64_t h = 0, w = 0;  // 0, 0: the input size
};

// Typed knobs. The defaults are fastai's aug_transforms; the fields after `align_corners` are
// kiln's extras (off by default) and the output format.
struct AugConfig {
  float mult = 1.0f;            // multiplies max_rotate, max_lighting and max_warp (applied by aug_transforms)
  bool do_flip = true;          // horizontal flip with p = 0.5
  bool flip_vert = false;       // instead: one of the 8 dihedral symmetries with p = 0.5
  float max_rotate = 10.0f;     // degrees, uniform in [-max, max], p = p_affine
  float min_zoom = 1.0f;        // zoom uniform in [min, max] with a uniform centre, p = p_affine
  float max_zoom = 1.1f;
  float max_lighting = 0.2f;    // brightness and contrast, each with p = p_lighting
  float max_warp = 0.2f;        // perspective warp, x and y each with p = p_affine
  float p_affine = 0.75f;
  float p_lighting = 0.75f;
  AugSize size = {};            // output size
  AugInterp mode = AugInterp::bilinear;
  GridSamplePadding pad_mode = GridSamplePadding::reflection;
  bool align_corners = true;
  float min_scale = 1.0f;       // < 1: random resized crop of [min_scale, max_scale] of the area,
  float max_scale = 1.0f;       //      width/height ratio in [ratio_min, ratio_max] (fastai: 1, 1)
  float ratio_min = 1.0f, ratio_max = 1.0f;
  float max_translate = 0.0f;   // fraction of the image size, uniform in [-max, max] per axis, p = p_affine
  float max_shear = 0.0f;       // degrees (x shear), uniform in [-max, max], p = p_affine
  float max_saturation = 0.0f;  // fastai's Saturation(max_lighting = this, p = p_saturation)
  float p_saturation = 0.75f;
  float max_hue = 0.0f;         // fastai's Hue(max_hue = this, p = p_hue)
  float p_hue = 0.75f;
  float p_erase = 0.0f;         // fastai's RandomErasing(p, sl, sh, min_aspect, max_count)
  float erase_sl = 0.0f, erase_sh = 0.3f, erase_min_aspect = 0.3f;
  int erase_max_count = 1;
  std::vector<float> mean = {}, std = {};  // per-channel normalisation; empty = none
  DType out_dtype = DType::f32;
  AugLayout out_layout = AugLayout::nchw;
};

// fastai's aug_transforms: checks the knobs (clear errors for p outside [0, 1], max_zoom <
// min_zoom, negative sizes, ...) and returns the configuration with `mult` applied (mult = 1).
AugConfig aug_transforms(AugConfig config = {});
void check_config(const AugConfig& config);

// Explicit geometry of one sample (what fastai's `draw` arguments fix).
struct AugGeometry {
  bool flip = false;         // horizontal flip
  int dihedral = 0;          // 0..7, fastai's dihedral_mat index (0 = identity)
  float rotate = 0;          // degrees
  float zoom = 1;            // zoom factor (> 1 magnifies)
  float zoom_col = 0.5f;     // zoom centre, fractions of the width / height (fastai's draw_x / draw_y)
  float zoom_row = 0.5f;
  float shear = 0;           // degrees
  float translate_x = 0;     // fractions of the image size
  float translate_y = 0;
};
// Sets p.affine to fastai's flip @ dihedral @ rotate @ zoom (then shear @ translate) with fastai's
// aspect correction for an H x W input.
void set_geometry(AugSampleParams& p, const AugGeometry& g, int64_t H, int64_t W);

// Draws the parameters of samples first_sample_index .. first_sample_index + n - 1 for an input
// of H x W pixels. Each sample's draws come from Philox keyed by (seed, epoch, sample index)
// (Note [Augmentation draws] in data/augment_draw.cpp): they do not depend on how samples are batched.
std::vector<AugSampleParams> draw_params(const AugConfig& config, int64_t H, int64_t W, uint64_t seed,
                                         uint64_t epoch, int64_t first_sample_index, int64_t n);

// Everything needed to decode, replay or invert one augmented batch.
struct AugRecord {
  std::vector<AugSampleParams> params;
  AugImageArgs args;  // sizes, dtypes, layouts, modes and normalisation of the call
};

struct AugBatch {
  Tensor images, masks, points;  // masks / points undefined when not given
  AugRecord record;
};

AugBatch augment(const Tensor& images, const AugConfig& config, const std::vector<AugSampleParams>& params,
                 const Tensor& masks = {}, const Tensor& points = {});
// Same call as the one that made `record`, on new (or the same) inputs of the same sizes.
AugBatch replay(const Tensor& images, const AugRecord& record, const Tensor& masks = {}, const Tensor& points = {});
// f32 [B, C, OH, OW] with the normalisation undone (x * std + mean): values in [0, 1] for showing.
Tensor decode(const Tensor& images, const AugRecord& record);
// Points [B, N, 2] in output pixels -> input pixels (the inverse of the points of augment).
Tensor invert_points(const Tensor& points, const AugRecord& record);
// Boxes [B, N, 4] (x0, y0, x1, y1) in input pixels -> the output boxes bounding the four mapped corners.
Tensor augment_boxes(const Tensor& boxes, const AugRecord& record);

}  // namespace kiln::data
