// affine_grid and grid_sample. affine_grid is linear in theta: grid[n, h, w] = theta[n] (x_w, y_h, 1),
// so dtheta[n] = sum over pixels of dgrid[n, h, w] (x_w, y_h, 1)^T, one batched product with the base
// grid. grid_sample's gradients come from the raw grid_sample_backward kernel.
#include "kiln/autograd/grid_sample.h"

#include "kiln/tensor/creation.h"
#include "kiln/tensor/linalg.h"
#include "kiln/tensor/grid_sample_backward.h"
#include "kiln/tensor/shape_ops.h"

namespace kiln::ag {

Tensor affine_grid(const Tensor& theta, const Shape& size, bool align_corners) {
  Tensor grid = kiln::affine_grid(theta, size, align_corners);
  if (!any_requires_grad({&theta})) return grid;
  const int64_t H = size[2], W = size[3];
  return record("affine_grid", {theta}, grid, [H, W, align_corners](const Grads& g) -> std::vector<Tensor> {
    const Tensor& dgrid = g[0];  // [N, H, W, 2]
    const int64_t N = dgrid.size(0);
    // The base coordinates (x_w, y_h) are the grid of the identity map; append the constant 1.
    Tensor id = kiln::tensor({1, 0, 0, 0, 1, 0}, dgrid.dtype()).reshape({1, 2, 3});
    Tensor xy = kiln::affine_grid(id, {1, 1, H, W}, align_corners).reshape({H * W, 2});
    Tensor base = kiln::cat({xy, kiln::ones({H * W, 1}, dgrid.dtype())}, 1);  // [H*W, 3]
    return {kiln::matmul(dgrid.reshape({N, H * W, 2}).transpose(1, 2), base)};  // [N, 2, 3]
  });
}

Tensor grid_sample(const Tensor& x, const Tensor& grid, GridSampleMode mode, GridSamplePadding padding,
                   bool align_corners) {
  Tensor y = kiln::grid_sample(x, grid, mode, padding, align_corners);
  if (!any_requires_grad({&x, &grid})) return y;
  SavedTensor sx(x, "grid_sample"), sg(grid, "grid_sample");
  return record("grid_sample", {x, grid}, y, [sx, sg, mode, padding, align_corners](const Grads& g) -> std::vector<Tensor> {
    GridSampleGrads d = kiln::grid_sample_backward(g[0], sx.get(), sg.get(), mode, padding, align_corners,
                                                   g.needs[0], g.needs[1]);
    return {d.dx, d.dgrid};
  });
}

}  // namespace kiln::ag
