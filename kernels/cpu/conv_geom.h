#pragma once
// The geometry of a 2-d NCHW convolution, shared by the CPU kernels (kernels/cpu/conv2d.h) and
// the CUDA ones (kernels/cuda/conv.h).
#include <cstdint>

namespace kiln::cpu {

// Geometry of a 2-d convolution: input [B, C, H, W], weight [O, C/groups, KH, KW], output
// [B, O, OH, OW], with stride (SH, SW), zero padding (PH, PW), dilation (DH, DW).
struct Conv2dGeom {
  int64_t B = 0, C = 0, H = 0, W = 0;
  int64_t O = 0, OH = 0, OW = 0;
  int64_t KH = 1, KW = 1, SH = 1, SW = 1, PH = 0, PW = 0, DH = 1, DW = 1;
  int64_t groups = 1;
  int64_t cg() const { return C / groups; }   // input channels per group
  int64_t og() const { return O / groups; }   // output channels per group
  int64_t kdim() const { return cg() * KH * KW; }  // GEMM depth: rows of the column matrix
  int64_t ohw() const { return OH * OW; }
  int64_t hw() const { return H * W; }
  // A 1x1, stride 1, unpadded convolution is a plain GEMM on the input: no column matrix needed.
  bool pointwise() const { return KH == 1 && KW == 1 && SH == 1 && SW == 1 && PH == 0 && PW == 0; }
};

}  // namespace kiln::cpu
