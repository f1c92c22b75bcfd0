#pragma once
// The fused LSTM cell on the CPU (Note [Fused LSTM cell] in kernels/lstm_cell_math.h); the CUDA
// kernel (kernels/cuda/lstm_cell.h) computes the same. Layouts: gates [B, 4H] (gate order i, f,
// g, o), c_prev, h, c, dh, dc, dc_prev [B, H], all contiguous of dtype (f32, f64, f16, bf16).
#include <cstdint>

#include "kiln/kernels/dtype.h"

namespace kiln::cpu {

// h, c from gates and c_prev. Nothing else is saved: the backward recomputes from the inputs.
void lstm_cell_forward(DType dtype, const void* gates, const void* c_prev, void* h, void* c, int64_t B, int64_t H);

// dgates [B, 4H] and dc_prev from gates, c_prev and the incoming dh / dc; dh or dc may be null
// (no gradient: zeros), dc_prev may be null (not computed).
void lstm_cell_backward(DType dtype, const void* gates, const void* c_prev, const void* dh, const void* dc,
                        void* dgates, void* dc_prev, int64_t B, int64_t H);

}  // namespace kiln::cpu
