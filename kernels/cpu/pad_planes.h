#pragma once
// Zero-padding of image planes and strided placement of rows for the CPU convolutions
// (kernels/cpu/conv2d.cpp), compiled once per instruction set (kernels/cpu/vec/pad.cpp, Note [ISA
// dispatch]).
#include <cstdint>

#include "kiln/kernels/cpu/isa.h"

// dst [planes of Hp x Wp] <- src [planes of H x W] placed at (top, left), zero elsewhere
// (Hp >= top + H, Wp >= left + W). Serial: the caller splits planes over threads.
KILN_DECLARE_ISA_FN(void, pad_planes_f32, const float* src, int64_t planes, int64_t H, int64_t W, int64_t top,
                    int64_t left, int64_t Hp, int64_t Wp, float* dst)
KILN_DECLARE_ISA_FN(void, pad_planes_f64, const double* src, int64_t planes, int64_t H, int64_t W, int64_t top,
                    int64_t left, int64_t Hp, int64_t Wp, double* dst)

// For each block b < blocks: dst[b * dst_block + r * dst_stride + i * step] =
// src[b * src_block + r * src_stride + i] for r < rows, i < n (step >= 1): the rows of one stride
// phase of an input gradient put in place, image after image (Note [Input gradient by phases]).
KILN_DECLARE_ISA_FN(void, scatter_rows_f32, const float* src, int64_t src_block, int64_t src_stride, int64_t blocks,
                    int64_t rows, int64_t n, float* dst, int64_t dst_block, int64_t dst_stride, int64_t step)
KILN_DECLARE_ISA_FN(void, scatter_rows_f64, const double* src, int64_t src_block, int64_t src_stride,
                    int64_t blocks, int64_t rows, int64_t n, double* dst, int64_t dst_block, int64_t dst_stride,
                    int64_t step)

// Stride-2 phase planes of zero-padded planes (Note [Stride phases of the input] in
// kernels/cpu/conv2d.cpp): for each plane q, dst + q * 4 * Hq * Wq holds the phases (ph, pw) in
// order (0,0), (0,1), (1,0), (1,1), each Hq x Wq, with phase element (i, j) = src[q][2i + ph - top]
// [2j + pw - left], zero where that lies outside the H x W plane. Serial.
KILN_DECLARE_ISA_FN(void, split_phases2_f32, const float* src, int64_t planes, int64_t H, int64_t W, int64_t top,
                    int64_t left, int64_t Hq, int64_t Wq, float* dst)
KILN_DECLARE_ISA_FN(void, split_phases2_f64, const double* src, int64_t planes, int64_t H, int64_t W, int64_t top,
                    int64_t left, int64_t Hq, int64_t Wq, double* dst)

namespace kiln::cpu {
// The entry points above for either dtype, through the ISA dispatch (as gemm.h's gemm overloads).
#define KILN_PAD_OVERLOADS(name)                                                                   \
  template <class... A>                                                                            \
  inline void isa_##name(const float* src, A... a) { KILN_ISA_CALL(name##_f32, src, a...); }       \
  template <class... A>                                                                            \
  inline void isa_##name(const double* src, A... a) { KILN_ISA_CALL(name##_f64, src, a...); }
KILN_PAD_OVERLOADS(pad_planes)
KILN_PAD_OVERLOADS(scatter_rows)
KILN_PAD_OVERLOADS(split_phases2)
#undef KILN_PAD_OVERLOADS
}  // namespace kiln::cpu
