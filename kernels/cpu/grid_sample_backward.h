#pragma once
// grid_sample backward CPU kernel (formulas in kernels/grid_sample_math.h). dtype f32 or f64, all
// buffers contiguous.
#include <cstdint>

#include "kiln/kernels/dtype.h"
#include "kiln/kernels/grid_sample_math.h"

namespace kiln::cpu {

// From dy [N, C, OH, OW], x [N, C, H, W] and grid [N, OH, OW, 2]: adds the input gradient into dx
// [N, C, H, W] (zero-filled by the caller; may be null) and writes the grid gradient to dgrid
// [N, OH, OW, 2] (may be null; zeros for nearest, whose output is piecewise constant in the grid).
void grid_sample_backward(DType dtype, const void* dy, const void* x, const void* grid, void* dx, void* dgrid,
                          int64_t N, int64_t C, int64_t H, int64_t W, int64_t OH, int64_t OW, GridSampleMode mode,
                          GridSamplePadding padding, bool align_corners);

}  // namespace kiln::cpu
