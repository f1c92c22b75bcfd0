#pragma once
// affine_grid and grid_sample CPU kernels (formulas in kernels/grid_sample_math.h). dtype f32 or
// f64, all buffers contiguous.
#include <cstdint>

#include "kiln/kernels/dtype.h"
#include "kiln/kernels/grid_sample_math.h"

namespace kiln::cpu {

// grid [N, H, W, 2] = theta [N, 2, 3] applied to the base coordinates (x, y, 1) of each pixel.
void affine_grid(DType dtype, const void* theta, void* grid, int64_t N, int64_t H, int64_t W, bool align_corners);

// y [N, C, OH, OW] sampled from x [N, C, H, W] at grid [N, OH, OW, 2] (last dim = (x, y)).
void grid_sample_forward(DType dtype, const void* x, const void* grid, void* y, int64_t N, int64_t C, int64_t H,
                         int64_t W, int64_t OH, int64_t OW, GridSampleMode mode, GridSamplePadding padding,
                         bool align_corners);

}  // namespace kiln::cpu
