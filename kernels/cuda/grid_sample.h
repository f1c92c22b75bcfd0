#pragma once
// affine_grid and grid_sample (forward and backward) on CUDA: the same calls, layouts and formulas
// as kernels/cpu/grid_sample.h and kernels/cpu/grid_sample_backward.h (coordinate maths in
// kernels/grid_sample_math.h). dtype f32, f64, f16 or bf16, the same for every buffer of a call:
// 16-bit data is read and written natively and computed in f32, which gives the CPU's results (it
// converts to f32 and back, Note [NN compute dtype]) without conversion passes. Every buffer is
// contiguous device memory; launches are asynchronous on `stream`. One thread per output point,
// which loops over the channels: each channel plane is read and written coalesced along OW.
#include <cstddef>
#include <cstdint>

#include "kiln/kernels/cuda/stream.h"
#include "kiln/kernels/dtype.h"
#include "kiln/kernels/grid_sample_math.h"

namespace kiln::cuda {

// grid [N, H, W, 2] = theta [N, 2, 3] applied to the base coordinates (x, y, 1) of each pixel.
void affine_grid(DType dtype, const void* theta, void* grid, int64_t N, int64_t H, int64_t W, bool align_corners,
                 Stream stream);

// y [N, C, OH, OW] sampled from x [N, C, H, W] (H, W > 0) at grid [N, OH, OW, 2] (last dim = (x, y)).
void grid_sample_forward(DType dtype, const void* x, const void* grid, void* y, int64_t N, int64_t C, int64_t H,
                         int64_t W, int64_t OH, int64_t OW, GridSampleMode mode, GridSamplePadding padding,
                         bool align_corners, Stream stream);

// Bytes of device workspace grid_sample_backward needs (0 unless need_dx). Asks CUB for its sort
// scratch size, so it needs a usable device.
size_t grid_sample_backward_workspace_size(DType dtype, int64_t N, int64_t H, int64_t W, int64_t OH, int64_t OW,
                                           GridSampleMode mode, bool need_dx);

// From dy [N, C, OH, OW], x [N, C, H, W] and grid [N, OH, OW, 2]: writes the input gradient dx
// [N, C, H, W] (every element, zeros where nothing was read; may be null) and the grid gradient
// dgrid [N, OH, OW, 2] (may be null; zeros for nearest). Deterministic without atomics (Note
// [Deterministic grid_sample backward] in grid_sample_backward.cu); workspace: 256-byte aligned
// device memory of grid_sample_backward_workspace_size(...) bytes, used when dx is requested.
void grid_sample_backward(DType dtype, const void* dy, const void* x, const void* grid, void* dx, void* dgrid,
                          int64_t N, int64_t C, int64_t H, int64_t W, int64_t OH, int64_t OW, GridSampleMode mode,
                          GridSamplePadding padding, bool align_corners, void* workspace, size_t workspace_bytes,
                          Stream stream);

}  // namespace kiln::cuda
