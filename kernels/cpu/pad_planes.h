#pragma once
// Zero-padding of image planes for the CPU convolutions (kernels/cpu/conv2d.cpp), compiled once per
// instruction set (kernels/cpu/vec/pad.cpp, Note [ISA dispatch]).
#include <cstdint>

#include "kiln/kernels/cpu/isa.h"

// dst [planes of Hp x Wp] <- src [planes of H x W] placed at (top, left), zero elsewhere
// (Hp >= top + H, Wp >= left + W). Serial: the caller splits planes over threads.
KILN_DECLARE_ISA_FN(void, pad_planes_f32, const float* src, int64_t planes, int64_t H, int64_t W, int64_t top,
                    int64_t left, int64_t Hp, int64_t Wp, float* dst)
KILN_DECLARE_ISA_FN(void, pad_planes_f64, const double* src, int64_t planes, int64_t H, int64_t W, int64_t top,
                    int64_t left, int64_t Hp, int64_t Wp, double* dst)
