#pragma once
// im2col / col2im for NCHW convolutions (one image, one group of channels at a time).
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

// col [cg*KH*KW, p1-p0] <- the input patches of x [cg, H, W] for the output positions
// [p0, p1) of the flattened OH*OW grid (zeros where the window hits padding). Working on a range
// lets the convolutions keep the column matrix of one tile in the L2 cache.
template <class T>
void im2col(const Conv2dGeom& g, const T* x, T* col, int64_t p0, int64_t p1);

// dx [cg, H, W] += the column matrix col [cg*KH*KW, p1-p0] of output positions [p0, p1) scattered
// back to the input positions.
template <class T>
void col2im(const Conv2dGeom& g, const T* col, T* dx, int64_t p0, int64_t p1);
// The same for the input channels [c0, c1) only, with col's rows ld elements apart (col row
// (c*KH + kh)*KW + kw starts at col + that row * ld). Disjoint channel ranges write disjoint parts
// of dx, so they can run in parallel.
template <class T>
void col2im(const Conv2dGeom& g, const T* col, int64_t ld, T* dx, int64_t p0, int64_t p1, int64_t c0, int64_t c1);

}  // namespace kiln::cpu
