#pragma once
// 2-d upsampling on CUDA: the same calls and formulas as kernels/cpu/interpolate.h (source
// coordinates from kernels/interpolate_math.h). x [P, H, W] -> y [P, OH, OW] (P = N * C), every
// buffer contiguous device memory. dtype f32, f64, f16 or bf16: 16-bit data is read and written
// natively and computed in f32, which gives the CPU's results (it converts to f32 and back, Note
// [NN compute dtype]) without the two conversion passes. scale_h / scale_w are the user's scale
// factors or 0 (see the CPU header). All launches are asynchronous on `stream`.
//
// The backward kernels write every element of dx (no zero-fill needed) and are deterministic
// without atomics: each input pixel gathers the outputs that read it (Note [Interpolate backward
// by gathering] in interpolate.cu).
#include <cstdint>

#include "kiln/kernels/cuda/stream.h"
#include "kiln/kernels/dtype.h"

namespace kiln::cuda {

void upsample_nearest2d_forward(DType dtype, const void* x, void* y, int64_t planes, int64_t H, int64_t W,
                                int64_t OH, int64_t OW, double scale_h, double scale_w, Stream stream);
void upsample_nearest2d_backward(DType dtype, const void* dy, void* dx, int64_t planes, int64_t H, int64_t W,
                                 int64_t OH, int64_t OW, double scale_h, double scale_w, Stream stream);
void upsample_bilinear2d_forward(DType dtype, const void* x, void* y, int64_t planes, int64_t H, int64_t W,
                                 int64_t OH, int64_t OW, bool align_corners, double scale_h, double scale_w,
                                 Stream stream);
void upsample_bilinear2d_backward(DType dtype, const void* dy, void* dx, int64_t planes, int64_t H, int64_t W,
                                  int64_t OH, int64_t OW, bool align_corners, double scale_h, double scale_w,
                                  Stream stream);

}  // namespace kiln::cuda
