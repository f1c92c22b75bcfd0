#pragma once
// 2-d convolution kernels on contiguous NCHW f32/f64 buffers: im2col + GEMM per image and group,
// with 1x1 stride-1 unpadded convolutions going straight to the GEMM (Conv2dGeom::pointwise).
// Images run in parallel when there are at least two (each GEMM then runs on one thread), else
// the GEMMs themselves are threaded. Results do not depend on the thread count.
#include <cstdint>

#include "kiln/kernels/cpu/im2col.h"

namespace kiln::cpu {

// y [B, O, OH, OW] = x [B, C, H, W] (*) w [O, C/groups, KH, KW] + bias [O] (bias may be null).
template <class T>
void conv2d_forward(const Conv2dGeom& g, const T* x, const T* w, const T* bias, T* y);

// dx [B, C, H, W] = gradient of the convolution's input, from dy [B, O, OH, OW] and w.
template <class T>
void conv2d_backward_data(const Conv2dGeom& g, const T* dy, const T* w, T* dx);

// dw [O, C/groups, KH, KW] = gradient of the weight, from dy [B, O, OH, OW] and x [B, C, H, W].
// Images are summed in chunks whose boundaries depend only on B, combined in chunk order.
template <class T>
void conv2d_backward_weight(const Conv2dGeom& g, const T* dy, const T* x, T* dw);

// db [O] = sum of dy [B, O, HW] over B and HW, accumulated in f64.
template <class T>
void conv2d_backward_bias(int64_t B, int64_t O, int64_t HW, const T* dy, T* db);

}  // namespace kiln::cpu
