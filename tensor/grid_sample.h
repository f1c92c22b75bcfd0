#pragma once
// Spatial transformer sampling: affine_grid and grid_sample (PyTorch semantics, 2-d).
//
// align_corners (Note [align_corners] in kernels/grid_sample_math.h): with true, grid coordinates
// -1 and 1 are the centres of the corner pixels; with false (PyTorch's default), they are the outer
// edges of the corner pixels, so the sampling does not depend on the resolution.
#include <array>
#include <cstdint>

#include "kiln/kernels/grid_sample_math.h"
#include "kiln/tensor/tensor.h"

namespace kiln {

// grid [N, H, W, 2] (last dim = (x, y) normalised to [-1, 1]) of the affine maps theta [N, 2, 3]
// (floating) applied to the pixel grid of an output of size {N, C, H, W}; C is not used.
Tensor affine_grid(const Tensor& theta, const Shape& size, bool align_corners = false);

// Samples x [N, C, H, W] at grid [N, OH, OW, 2] (same dtype, floating; (x, y) in [-1, 1]) into
// y [N, C, OH, OW]. mode: bilinear or nearest (round half to even); padding: what points outside
// the input read -- zeros, border (clamped) or reflection. Gradients: tensor/grid_sample_backward.h.
Tensor grid_sample(const Tensor& x, const Tensor& grid, GridSampleMode mode = GridSampleMode::bilinear,
                   GridSamplePadding padding = GridSamplePadding::zeros, bool align_corners = false);

}  // namespace kiln
