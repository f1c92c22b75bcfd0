#pragma once
// 2-d convolution kernels on contiguous NCHW f32/f64 buffers. The forward pass and the weight
// gradient are each one implicit GEMM per group over the output positions of the whole batch
// (Note [Convolution as an implicit GEMM] in conv2d.cpp); the input gradient is one implicit GEMM
// per group and stride phase (Note [Input gradient by phases]). On small maps (f32, ungrouped,
// C % 16 == 0) the forward and the input gradient take the direct kernel instead (Note [Direct
// convolution] in vec/conv_direct.cpp), and on 8x8 to 16x16 output maps (O % 16 == 0) the weight
// gradient too (Note [Direct weight gradient]); a weight gradient with little depth (under 48) or
// few output channels per group (under 8) runs along the output rows with nothing packed (Note
// [Weight gradient along rows] in vec/conv_rows.cpp). Threaded; results do not depend on the
// thread count.
#include <cstdint>

#include "kiln/kernels/cpu/conv_geom.h"

namespace kiln::cpu {

// y [B, O, OH, OW] = x [B, C, H, W] (*) w [O, C/groups, KH, KW] + bias [O] (bias may be null).
template <class T>
void conv2d_forward(const Conv2dGeom& g, const T* x, const T* w, const T* bias, T* y);

// dx [B, C, H, W] = gradient of the convolution's input, from dy [B, O, OH, OW] and w.
template <class T>
void conv2d_backward_data(const Conv2dGeom& g, const T* dy, const T* w, T* dx);

// dw [O, C/groups, KH, KW] = gradient of the weight, from dy [B, O, OH, OW] and x [B, C, H, W].
// Each element is one sum in a fixed order (narrow weights: chunks of images fixed by B alone,
// combined in chunk order).
template <class T>
void conv2d_backward_weight(const Conv2dGeom& g, const T* dy, const T* x, T* dw);

// db [O] = sum of dy [B, O, HW] over B and HW, accumulated in f64.
template <class T>
void conv2d_backward_bias(int64_t B, int64_t O, int64_t HW, const T* dy, T* db);

}  // namespace kiln::cpu
