#pragma once
// Direct convolution with the input read in place (NHWC) (Note [Direct convolution] in
// kernels/cpu/vec/conv_direct.cpp), compiled once per instruction set (Note [ISA dispatch]); only
// the AVX-512 copy computes, the others answer false and the caller keeps the implicit GEMM.
#include <cstdint>

#include "kiln/kernels/cpu/isa.h"

namespace kiln::cpu {
// y [B, O, OH, OW] = x [B, C, H, W] (*) w + bias, one group, no dilation, zero padding (PH, PW).
// Forward (transposed false): y(oh, ow) sums taps (kh, kw) of x(SH oh - PH + kh, SW ow - PW + kw).
// Transposed (the input gradient of a convolution of stride (SH, SW), y = dx, x = dy): y(h, w)
// sums the taps with x((h + PH - kh) / SH, (w + PW - kw) / SW) where both divide exactly. Weight
// element (o, c, kh, kw) of this product (o an output channel of y, c one of x) is
// w[o * so + c * sc + kh * skh + kw * skw]. bias may be null.
struct DirectConv {
  const float* x;
  int64_t B, C, H, W;
  const float* w;
  int64_t so, sc, skh, skw, KH, KW;
  const float* bias;
  float* y;
  int64_t O, OH, OW;
  int64_t SH, SW, PH, PW;
  bool transposed;
};

// The weight gradient of the forward convolution above (no bias, transposed false): dw [O, C, KH,
// KW] (overwritten) = sum over images and output positions of dy [B, O, OH, OW] times the input
// x [B, C, H, W] at the tap's position. Partial sums per chunk of images (a number fixed by the
// shape alone), added in chunk order, so the bits do not depend on the threads.
struct DirectWeightGrad {
  const float* x;
  int64_t B, C, H, W;
  const float* dy;
  int64_t O, OH, OW;
  int64_t KH, KW, SH, SW, PH, PW;
  float* dw;
};
}  // namespace kiln::cpu

// Computes d and returns true, or returns false (nothing written) when this instruction set has no
// direct kernel or the shape is not one it takes (C a multiple of 16, OH and OW positive, strides
// at least 1).
KILN_DECLARE_ISA_FN(bool, conv_direct_f32, const kiln::cpu::DirectConv& d)
// Computes d.dw and returns true, or returns false (nothing written) when this instruction set has
// no direct kernel or the shape is not one it takes (O a multiple of 16, positive sizes).
KILN_DECLARE_ISA_FN(bool, conv_direct_weight_f32, const kiln::cpu::DirectWeightGrad& d)
