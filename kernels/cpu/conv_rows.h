#pragma once
// The weight gradient of a convolution with few weights, vectorised along the output rows (Note
// [Weight gradient along rows] in kernels/cpu/vec/conv_rows.cpp), compiled once per instruction set
// (Note [ISA dispatch]); only the AVX-512 copy computes, the others answer false and the caller
// keeps the implicit GEMM.
#include <cstdint>

#include "kiln/kernels/cpu/isa.h"

namespace kiln::cpu {
// out [O, K] (overwritten) = sum over images b < B, output rows oy < OH and columns ox < OW of
//   dy[b * dy_image + o * OH * OW + oy * OW + ox] * x[b * image + oy * row + xstep * ox + tap[k]]
// for one group: dy is that group's [O, OH, OW] block of image 0 (images dy_image apart), x its padded
// input, whose windows along a row of outputs are xstep (1 or 2) elements apart, and tap[k] the
// offset of depth element k (channel, kh, kw) from a window's origin.
struct RowsWeightGrad {
  const float* dy;
  int64_t B, O, OH, OW, dy_image;
  const float* x;
  int64_t image, row, xstep;
  const int64_t* tap;
  int64_t K;
  float* out;
};
}  // namespace kiln::cpu

// Computes d.out and returns true, or returns false (nothing written) when this instruction set has
// no such kernel or xstep is not 1 or 2.
KILN_DECLARE_ISA_FN(bool, conv_rows_weight_f32, const kiln::cpu::RowsWeightGrad& d)
