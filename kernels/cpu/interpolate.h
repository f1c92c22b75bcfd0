#pragma once
// 2-d upsampling CPU kernels over contiguous planes: x [P, H, W] -> y [P, OH, OW] (P = N * C).
// dtype f32 or f64. scale_h / scale_w are the user's scale factors (output / input) or 0 when the
// output size was given (see kernels/interpolate_math.h). Work is split over planes; the backward
// kernels zero dx and scatter-add into it, one thread per plane (deterministic).
#include <cstdint>

#include "kiln/kernels/dtype.h"

namespace kiln::cpu {

void upsample_nearest2d_forward(DType dtype, const void* x, void* y, int64_t planes, int64_t H, int64_t W,
                                int64_t OH, int64_t OW, double scale_h, double scale_w);
void upsample_nearest2d_backward(DType dtype, const void* dy, void* dx, int64_t planes, int64_t H, int64_t W,
                                 int64_t OH, int64_t OW, double scale_h, double scale_w);
void upsample_bilinear2d_forward(DType dtype, const void* x, void* y, int64_t planes, int64_t H, int64_t W,
                                 int64_t OH, int64_t OW, bool align_corners, double scale_h, double scale_w);
void upsample_bilinear2d_backward(DType dtype, const void* dy, void* dx, int64_t planes, int64_t H, int64_t W,
                                  int64_t OH, int64_t OW, bool align_corners, double scale_h, double scale_w);

}  // namespace kiln::cpu
