// CPU twin of the fused augmentation kernel: the per-pixel maths is kernels/augment_math.h and
// aug_output_pixel (kernels/augment.h), shared with kernels/cuda/augment.cu; this file only walks
// the output rows. Rows of all samples are one parallel range, so small batches of large images
// and large batches of small images both use every thread.
#include "kiln/kernels/cpu/augment.h"

#include <vector>

#include "kiln/kernels/cpu/parallel.h"
#include "kiln/kernels/error.h"

namespace kiln::cpu {

namespace {

template <class TIn, class TOut, int kC>
void run_images(const AugImageArgs& a, const std::vector<AugResolved>& res, const TIn* in, TOut* out) {
  const int64_t in_sample = a.C * a.H * a.W;
  const int64_t grain = a.OW >= 256 ? 1 : (256 + a.OW - 1) / a.OW;
  parallel_for(0, a.B * a.OH, grain, [&](int64_t r0, int64_t r1) {
    float v[kAugMaxChannels];
    for (int64_t row = r0; row < r1; ++row) {
      const int64_t b = row / a.OH, oy = row % a.OH;
      const AugResolved& r = res[size_t(b)];
      const TIn* src = in + b * in_sample;
      for (int64_t ox = 0; ox < a.OW; ++ox) {
        aug_output_pixel<TIn, kC>(a, r, src, oy, ox, v);
        for (int64_t c = 0; c < a.C; ++c) out[aug_output_offset(a, b, c, oy, ox)] = TOut(v[c]);
      }
    }
  });
}

// RGB gets a compile-time channel count (unrolled channel loops); other counts read a.C.
template <class TIn, class TOut>
void run_images_out(const AugImageArgs& a, const std::vector<AugResolved>& res, const TIn* in, TOut* out) {
  if (a.C == 3)
    run_images<TIn, TOut, 3>(a, res, in, out);
  else
    run_images<TIn, TOut, 0>(a, res, in, out);
}

template <class TIn>
void run_images_in(const AugImageArgs& a, const std::vector<AugResolved>& res, const TIn* in, void* out) {
  switch (a.out_dtype) {
    case DType::f16: return run_images_out(a, res, in, static_cast<Half*>(out));
    case DType::bf16: return run_images_out(a, res, in, static_cast<BFloat16*>(out));
    default: return run_images_out(a, res, in, static_cast<float*>(out));
  }
}

template <class TM>
void run_masks(const AugImageArgs& a, const std::vector<AugResolved>& res, const TM* in, TM* out) {
  const int64_t grain = a.OW >= 256 ? 1 : (256 + a.OW - 1) / a.OW;
  parallel_for(0, a.B * a.OH, grain, [&](int64_t r0, int64_t r1) {
    for (int64_t row = r0; row < r1; ++row) {
      const int64_t b = row / a.OH, oy = row % a.OH;
      const AugResolved& r = res[size_t(b)];
      const TM* src = in + b * a.H * a.W;
      TM* dst = out + row * a.OW;
      for (int64_t ox = 0; ox < a.OW; ++ox) {
        float sx, sy;
        aug_map_pixel(r.map, float(ox), float(oy), (r.flags & kAugProjective) != 0, sx, sy);
        dst[ox] = aug_sample_mask(src, a.H, a.W, sx, sy, a.padding, a.align_corners);
      }
    }
  });
}

std::vector<AugResolved> resolve_all(const AugImageArgs& a, const AugSampleParams* params) {
  std::vector<AugResolved> res(size_t(a.B));
  for (int64_t b = 0; b < a.B; ++b) res[size_t(b)] = aug_resolve(params[b], a);
  return res;
}

}  // namespace

void augment_images(const AugImageArgs& a, const AugSampleParams* params, const void* in, void* out) {
  check_augment_args("augment_images", a, params);
  const std::vector<AugResolved> res = resolve_all(a, params);
  if (a.in_dtype == DType::u8)
    run_images_in(a, res, static_cast<const uint8_t*>(in), out);
  else
    run_images_in(a, res, static_cast<const float*>(in), out);
}

void augment_masks(const AugImageArgs& a, const AugSampleParams* params, DType mask_dtype, const void* in,
                   void* out) {
  check_augment_mask_args("augment_masks", a, mask_dtype);
  KILN_CHECK(params != nullptr, "augment_masks: no per-sample parameters");
  const std::vector<AugResolved> res = resolve_all(a, params);
  switch (mask_dtype) {
    case DType::u8: return run_masks(a, res, static_cast<const uint8_t*>(in), static_cast<uint8_t*>(out));
    case DType::i32: return run_masks(a, res, static_cast<const int32_t*>(in), static_cast<int32_t*>(out));
    default: return run_masks(a, res, static_cast<const int64_t*>(in), static_cast<int64_t*>(out));
  }
}

}  // namespace kiln::cpu
