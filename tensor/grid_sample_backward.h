#pragma once
// Gradients of grid_sample (tensor/grid_sample.h), on the CPU and on CUDA.
#include "kiln/tensor/grid_sample.h"

namespace kiln {

struct GridSampleGrads {
  Tensor dx;     // x's shape and dtype (undefined unless asked for)
  Tensor dgrid;  // grid's shape and dtype (undefined unless asked for); zeros for nearest
};

// Gradients of grid_sample(x, grid, mode, padding, align_corners) from dy [N, C, OH, OW].
GridSampleGrads grid_sample_backward(const Tensor& dy, const Tensor& x, const Tensor& grid,
                                     GridSampleMode mode = GridSampleMode::bilinear,
                                     GridSamplePadding padding = GridSamplePadding::zeros, bool align_corners = false,
                                     bool need_dx = true, bool need_dgrid = true);

}  // namespace kiln
