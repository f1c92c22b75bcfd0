#pragma once
// The fused LSTM cell on CUDA (Note [Fused LSTM cell] in kernels/lstm_cell_math.h), same arguments,
// layouts and dtypes as kernels/cpu/lstm_cell.h; pointers are device memory. Callable from plain
// C++. Elementwise over the B * H cells, no reduction: results do not depend on the launch.
#include <cstdint>

#include "kiln/kernels/dtype.h"
#include "kiln/kernels/cuda/stream.h"

namespace kiln::cuda {

void lstm_cell_forward(DType dtype, const void* gates, const void* c_prev, void* h, void* c, int64_t B, int64_t H,
                       Stream stream);

// dh or dc may be null (zeros); dc_prev may be null (not computed).
void lstm_cell_backward(DType dtype, const void* gates, const void* c_prev, const void* dh, const void* dc,
                        void* dgates, void* dc_prev, int64_t B, int64_t H, Stream stream);

}  // namespace kiln::cuda
