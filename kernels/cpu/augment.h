#pragma once
// Fused batch augmentation on the CPU (arguments, layouts and formulas in kernels/augment.h and
// kernels/augment_math.h). Threaded over (sample, output row); every output element is a pure
// function of its inputs, so the result does not depend on the thread count.
#include <cstdint>

#include "kiln/kernels/augment.h"

namespace kiln::cpu {

// out (layout a.out_layout, dtype a.out_dtype) = augmentation of in (a.in_layout, a.in_dtype) with
// params[0..B). All buffers contiguous host memory.
void augment_images(const AugImageArgs& a, const AugSampleParams* params, const void* in, void* out);

// out [B, OH, OW] = nearest-neighbour resampling of the class mask in [B, H, W] (dtype u8, i32 or
// i64) with the same coordinate maps as augment_images with the same a and params (a.interp is
// ignored: masks are always nearest).
void augment_masks(const AugImageArgs& a, const AugSampleParams* params, DType mask_dtype, const void* in,
                   void* out);

}  // namespace kiln::cpu
