// Tensor-level batch augmentation: checks of the configuration and of the tensors (clear errors
// before any kernel runs), then one fused kernel call per batch (kernels/cpu/augment.h), and the
// record that lets a batch be decoded, replayed or its points inverted.
#include "kiln/data/augment.h"

#include <cmath>

#include "kiln/kernels/cpu/augment.h"
#include "kiln/kernels/error.h"
#include "kiln/tensor/creation.h"

namespace kiln::data {

namespace {

bool in01(float p) { return p >= 0 && p <= 1; }

void check_p(const char* name, float p) {
  KILN_CHECK(in01(p), "aug_transforms: ", name, " must be a probability in [0, 1], got ", p);
}

void check_max(const char* name, float v, float below) {
  KILN_CHECK(v >= 0 && v < below, "aug_transforms: ", name, " must be in [0, ", below, "), got ", v);
}

// The kernel arguments of an augmentation of `images` with `config`.
AugImageArgs make_args(const Tensor& images, const AugConfig& c) {
  KILN_CHECK(images.defined(), "augment: images are undefined");
  KILN_CHECK(images.device() == kCPU, "augment: images must be on the CPU (the CUDA kernel is kernels/cuda/augment.h)");
  KILN_CHECK(images.dim() == 4, "augment: images must be u8 [B, H, W, C] or f32 [B, C, H, W], got rank ",
             images.dim());
  AugImageArgs a;
  if (images.dtype() == DType::u8) {
    a.in_dtype = DType::u8;
    a.in_layout = AugLayout::nhwc;
    a.B = images.size(0), a.H = images.size(1), a.W = images.size(2), a.C = images.size(3);
  } else {
    KILN_CHECK(images.dtype() == DType::f32, "augment: images must be u8 [B, H, W, C] or f32 [B, C, H, W], got ",
               dtype_name(images.dtype()));
    a.in_dtype = DType::f32;
    a.in_layout = AugLayout::nchw;
    a.B = images.size(0), a.C = images.size(1), a.H = images.size(2), a.W = images.size(3);
  }
  KILN_CHECK(a.B >= 1, "augment: empty batch (B = 0)");
  KILN_CHECK(a.C >= 1 && a.C <= kAugMaxChannels, "augment: images of shape ", images.shape(), " have ", a.C,
             " channels; expected 1..", kAugMaxChannels, " (u8 images are [B, H, W, C], f32 images [B, C, H, W])");
  a.OH = c.size.h > 0 ? c.size.h : a.H;
  a.OW = c.size.w > 0 ? c.size.w : a.W;
  a.out_dtype = c.out_dtype;
  a.out_layout = c.out_layout;
  a.interp = c.mode;
  a.padding = c.pad_mode;
  a.align_corners = c.align_corners;
  a.normalize = !c.mean.empty();
  if (a.normalize) {
    KILN_CHECK(int64_t(c.mean.size()) == a.C, "augment: ", c.mean.size(), " normalisation means for ", a.C,
               " channels");
    for (int64_t k = 0; k < a.C; ++k) a.mean[k] = c.mean[size_t(k)], a.std[k] = c.std[size_t(k)];
  }
  return a;
}

// Runs the kernels for the sizes and settings in `a` (B, C, H, W must match the tensors).
AugBatch run(const Tensor& images, const AugImageArgs& a, const std::vector<AugSampleParams>& params,
             const Tensor& masks, const Tensor& points) {
  KILN_CHECK(int64_t(params.size()) == a.B, "augment: ", params.size(), " parameter records for a batch of ", a.B);
  check_augment_args("augment", a, params.data());
  AugBatch out;
  out.record.params = params;
  out.record.args = a;
  const Tensor x = images.contiguous();
  const Shape oshape = a.out_layout == AugLayout::nchw ? Shape{a.B, a.C, a.OH, a.OW} : Shape{a.B, a.OH, a.OW, a.C};
  out.images = empty(oshape, a.out_dtype);
  cpu::augment_images(a, params.data(), x.data_ptr(), out.images.data_ptr());
  if (masks.defined()) {
    KILN_CHECK(masks.device() == kCPU, "augment: masks must be on the CPU");
    KILN_CHECK(masks.dim() == 3 && masks.size(0) == a.B && masks.size(1) == a.H && masks.size(2) == a.W,
               "augment: masks must be [B, H, W] = [", a.B, ", ", a.H, ", ", a.W, "], got ", masks.shape());
    KILN_CHECK(masks.dtype() == DType::u8 || masks.dtype() == DType::i32 || masks.dtype() == DType::i64,
               "augment: masks must hold integer classes (u8, i32 or i64), got ", dtype_name(masks.dtype()));
    const Tensor m = masks.contiguous();
    out.masks = empty({a.B, a.OH, a.OW}, m.dtype());
    cpu::augment_masks(a, params.data(), m.dtype(), m.data_ptr(), out.masks.data_ptr());
  }
  if (points.defined()) {
    KILN_CHECK(points.device() == kCPU, "augment: points must be on the CPU");
    KILN_CHECK(points.dim() == 3 && points.size(0) == a.B && points.size(2) == 2 && points.dtype() == DType::f32,
               "augment: points must be f32 [B, N, 2] with B = ", a.B, ", got ", dtype_name(points.dtype()), " ",
               points.shape());
    const Tensor p = points.contiguous();
    out.points = empty(p.shape(), DType::f32);
    augment_points(params.data(), a.B, p.size(1), a.H, a.W, a.OH, a.OW, a.align_corners, p.data<float>(),
                   out.points.data<float>(), /*forward=*/true);
  }
  return out;
}

}  // namespace

void check_config(const AugConfig& c) {
  KILN_CHECK(std::isfinite(c.mult) && c.mult >= 0, "aug_transforms: mult must be non-negative, got ", c.mult);
  KILN_CHECK(std::isfinite(c.max_rotate) && c.max_rotate >= 0, "aug_transforms: max_rotate must be non-negative, got ",
             c.max_rotate);
  KILN_CHECK(c.min_zoom > 0 && std::isfinite(c.max_zoom), "aug_transforms: min_zoom must be positive, got ",
             c.min_zoom);
  KILN_CHECK(c.max_zoom >= c.min_zoom, "aug_transforms: max_zoom (", c.max_zoom, ") < min_zoom (", c.min_zoom, ")");
  check_max("max_lighting", c.max_lighting, 1);
  check_max("max_warp", c.max_warp, 1);
  check_max("max_saturation", c.max_saturation, 1);
  check_max("max_hue", c.max_hue, 1);
  check_max("max_translate", c.max_translate, 1);
  check_max("max_shear", c.max_shear, 80);
  check_p("p_affine", c.p_affine);
  check_p("p_lighting", c.p_lighting);
  check_p("p_saturation", c.p_saturation);
  check_p("p_hue", c.p_hue);
  check_p("p_erase", c.p_erase);
  KILN_CHECK(c.size.h >= 0 && c.size.w >= 0, "aug_transforms: size must be non-negative, got ", c.size.h, "x",
             c.size.w);
  KILN_CHECK((c.size.h == 0) == (c.size.w == 0), "aug_transforms: size ", c.size.h, "x", c.size.w,
             ": give both sides or neither");
  KILN_CHECK(c.min_scale > 0 && c.min_scale <= c.max_scale && c.max_scale <= 1,
             "aug_transforms: need 0 < min_scale <= max_scale <= 1, got ", c.min_scale, ", ", c.max_scale);
  KILN_CHECK(c.ratio_min > 0 && c.ratio_min <= c.ratio_max && std::isfinite(c.ratio_max),
             "aug_transforms: need 0 < ratio_min <= ratio_max, got ", c.ratio_min, ", ", c.ratio_max);
  KILN_CHECK(c.erase_sl >= 0 && c.erase_sl <= c.erase_sh && c.erase_sh <= 1,
             "aug_transforms: need 0 <= erase_sl <= erase_sh <= 1, got ", c.erase_sl, ", ", c.erase_sh);
  KILN_CHECK(c.erase_min_aspect > 0 && c.erase_min_aspect <= 1, "aug_transforms: erase_min_aspect must be in (0, 1], got ",
             c.erase_min_aspect);
  KILN_CHECK(c.erase_max_count >= 1 && c.erase_max_count <= kAugMaxErase, "aug_transforms: erase_max_count must be in [1, ",
             kAugMaxErase, "], got ", c.erase_max_count);
  KILN_CHECK(c.mean.size() == c.std.size(), "aug_transforms: ", c.mean.size(), " means and ", c.std.size(), " stds");
  for (size_t k = 0; k < c.std.size(); ++k)
    KILN_CHECK(c.std[k] > 0 && std::isfinite(c.std[k]) && std::isfinite(c.mean[k]), "aug_transforms: channel ", k,
               ": std must be positive and finite, got ", c.std[k]);
  KILN_CHECK(c.out_dtype == DType::f32 || c.out_dtype == DType::f16 || c.out_dtype == DType::bf16,
             "aug_transforms: out_dtype must be f32, f16 or bf16, got ", dtype_name(c.out_dtype));
}

AugConfig aug_transforms(AugConfig c) {
  check_config(c);
  c.max_rotate *= c.mult;
  c.max_lighting *= c.mult;
  c.max_warp *= c.mult;
  c.mult = 1;
  check_config(c);
  return c;
}

AugBatch augment(const Tensor& images, const AugConfig& config, const std::vector<AugSampleParams>& params,
                 const Tensor& masks, const Tensor& points) {
  check_config(config);
  return run(images, make_args(images, config), params, masks, points);
}

AugBatch replay(const Tensor& images, const AugRecord& record, const Tensor& masks, const Tensor& points) {
  KILN_CHECK(images.defined() && images.dim() == 4, "replay: images must be a 4-d tensor");
  const AugImageArgs& r = record.args;
  AugConfig c;
  c.size = {r.OH, r.OW};
  c.out_dtype = r.out_dtype, c.out_layout = r.out_layout, c.mode = r.interp, c.pad_mode = r.padding;
  c.align_corners = r.align_corners;
  AugImageArgs a = make_args(images, c);
  KILN_CHECK(a.B == r.B && a.C == r.C && a.H == r.H && a.W == r.W, "replay: images are ", a.B, "x", a.C, "x", a.H,
             "x", a.W, " (B x C x H x W), the record was made for ", r.B, "x", r.C, "x", r.H, "x", r.W);
  a.normalize = r.normalize;
  for (int k = 0; k < kAugMaxChannels; ++k) a.mean[k] = r.mean[k], a.std[k] = r.std[k];
  return run(images, a, record.params, masks, points);
}

Tensor decode(const Tensor& images, const AugRecord& record) {
  const AugImageArgs& a = record.args;
  const Shape expect = a.out_layout == AugLayout::nchw ? Shape{a.B, a.C, a.OH, a.OW} : Shape{a.B, a.OH, a.OW, a.C};
  KILN_CHECK(images.defined() && images.shape() == expect, "decode: images must be ", expect,
             " as the record says, got ", images.defined() ? images.shape() : Shape{});
  Tensor x = images.to(kCPU).to(DType::f32);
  if (a.out_layout == AugLayout::nhwc) x = x.permute({0, 3, 1, 2});
  Tensor y = x.contiguous().clone();
  if (a.normalize) {
    float* v = y.data<float>();
    const int64_t plane = a.OH * a.OW;
    for (int64_t b = 0; b < a.B; ++b)
      for (int64_t c = 0; c < a.C; ++c) {
        float* p = v + (b * a.C + c) * plane;
        for (int64_t i = 0; i < plane; ++i) p[i] = p[i] * a.std[c] + a.mean[c];
      }
  }
  return y;
}

Tensor invert_points(const Tensor& points, const AugRecord& record) {
  const AugImageArgs& a = record.args;
  KILN_CHECK(points.defined() && points.dim() == 3 && points.size(0) == a.B && points.size(2) == 2 &&
                 points.dtype() == DType::f32 && points.device() == kCPU,
             "invert_points: points must be CPU f32 [B, N, 2] with B = ", a.B);
  KILN_CHECK(int64_t(record.params.size()) == a.B, "invert_points: the record has ", record.params.size(),
             " parameter records for a batch of ", a.B);
  const Tensor p = points.contiguous();
  Tensor out = empty(p.shape(), DType::f32);
  augment_points(record.params.data(), a.B, p.size(1), a.H, a.W, a.OH, a.OW, a.align_corners, p.data<float>(),
                 out.data<float>(), /*forward=*/false);
  return out;
}

Tensor augment_boxes(const Tensor& boxes, const AugRecord& record) {
  const AugImageArgs& a = record.args;
  KILN_CHECK(boxes.defined() && boxes.dim() == 3 && boxes.size(0) == a.B && boxes.size(2) == 4 &&
                 boxes.dtype() == DType::f32 && boxes.device() == kCPU,
             "augment_boxes: boxes must be CPU f32 [B, N, 4] with B = ", a.B);
  KILN_CHECK(int64_t(record.params.size()) == a.B, "augment_boxes: the record has ", record.params.size(),
             " parameter records for a batch of ", a.B);
  const Tensor bx = boxes.contiguous();
  const int64_t N = bx.size(1);
  const float* in = bx.data<float>();
  std::vector<float> corners(size_t(a.B * N * 8));
  for (int64_t i = 0; i < a.B * N; ++i) {
    const float* q = in + i * 4;
    const float c[8] = {q[0], q[1], q[2], q[1], q[0], q[3], q[2], q[3]};
    for (int k = 0; k < 8; ++k) corners[size_t(i * 8 + k)] = c[k];
  }
  augment_points(record.params.data(), a.B, N * 4, a.H, a.W, a.OH, a.OW, a.align_corners, corners.data(),
                 corners.data(), /*forward=*/true);
  Tensor out = empty({a.B, N, 4}, DType::f32);
  float* o = out.data<float>();
  for (int64_t i = 0; i < a.B * N; ++i) {
    const float* c = corners.data() + i * 8;
    o[i * 4] = std::fmin(std::fmin(c[0], c[2]), std::fmin(c[4], c[6]));
    o[i * 4 + 1] = std::fmin(std::fmin(c[1], c[3]), std::fmin(c[5], c[7]));
    o[i * 4 + 2] = std::fmax(std::fmax(c[0], c[2]), std::fmax(c[4], c[6]));
    o[i * 4 + 3] = std::fmax(std::fmax(c[1], c[3]), std::fmax(c[5], c[7]));
  }
  return out;
}

}  // namespace kiln::data
