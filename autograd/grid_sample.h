#pragma once
// Differentiable affine_grid and grid_sample (tensor/grid_sample.h).
#include "kiln/autograd/node.h"
#include "kiln/tensor/grid_sample.h"

namespace kiln::ag {

// grid [N, H, W, 2] from theta [N, 2, 3]; gradient w.r.t. theta.
Tensor affine_grid(const Tensor& theta, const Shape& size, bool align_corners = false);

// y [N, C, OH, OW] sampled from x [N, C, H, W] at grid [N, OH, OW, 2]. Gradients w.r.t. x (both
// modes) and grid (bilinear; nearest gives the grid no gradient, it is piecewise constant).
Tensor grid_sample(const Tensor& x, const Tensor& grid, GridSampleMode mode = GridSampleMode::bilinear,
                   GridSamplePadding padding = GridSamplePadding::zeros, bool align_corners = false);

}  // namespace kiln::ag
