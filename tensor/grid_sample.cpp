#include "kiln/tensor/grid_sample.h"

#include "kiln/kernels/cpu/grid_sample.h"
#include "kiln/tensor/creation.h"
#include "kiln/tensor/nn_support.h"

#if KILN_HAVE_CUDA
#include "kiln/kernels/cuda/grid_sample.h"
#include "kiln/kernels/cuda/runtime.h"
#endif

namespace kiln {
namespace {

// The dtype the kernels run in: the CPU kernels take f32 / f64 (Note [NN compute dtype]); the CUDA
// kernels also read and write f16 / bf16 natively (computing in f32, with the same results).
DType kernel_dtype(const Tensor& t) {
  return t.device().is_cuda() ? t.dtype() : nn_detail::compute_dtype(t.dtype());
}

}  // namespace

Tensor affine_grid(const Tensor& theta, const Shape& size, bool align_corners) {
  const char* op = "affine_grid";
  nn_detail::check_float(theta, op, "theta");
  KILN_CHECK(size.size() == 4, op, ": size must be 4-d {N, C, H, W}, got ", size);
  KILN_CHECK(size[0] >= 0 && size[1] >= 0 && size[2] > 0 && size[3] > 0, op, ": invalid size ", size,
             " (H and W must be positive)");
  KILN_CHECK(theta.dim() == 3 && theta.size(0) == size[0] && theta.size(1) == 2 && theta.size(2) == 3, op,
             ": theta must have shape [N, 2, 3] = [", size[0], ", 2, 3] for size ", size, ", got ", theta.shape());
  Tensor tc = theta.to(kernel_dtype(theta)).contiguous();
  Tensor grid = empty({size[0], size[2], size[3], 2}, tc.dtype(), theta.device());
  switch (theta.device().type) {
    case DeviceType::CPU:
      cpu::affine_grid(tc.dtype(), tc.data_ptr(), grid.data_ptr(), size[0], size[2], size[3], align_corners);
      break;
    case DeviceType::CUDA:
#if KILN_HAVE_CUDA
      cuda::affine_grid(tc.dtype(), tc.data_ptr(), grid.data_ptr(), size[0], size[2], size[3], align_corners,
                        cuda::prepare(theta.device().index));
      break;
#endif
      unsupported_device(op, theta.device());
  }
  return grid.to(theta.dtype());
}

Tensor grid_sample(const Tensor& x, const Tensor& grid, GridSampleMode mode, GridSamplePadding padding,
                   bool align_corners) {
  const char* op = "grid_sample";
  nn_detail::check_float(x, op, "x");
  nn_detail::check_float(grid, op, "grid");
  KILN_CHECK(x.dim() == 4, op, ": expected a 4-d [N, C, H, W] input, got shape ", x.shape());
  KILN_CHECK(x.size(2) > 0 && x.size(3) > 0, op, ": input spatial size must be non-empty, got shape ", x.shape());
  KILN_CHECK(grid.dim() == 4, op, ": expected a 4-d [N, OH, OW, 2] grid, got shape ", grid.shape());
  KILN_CHECK(grid.size(3) == 2, op, ": grid's last dim must be 2 (x, y), got shape ", grid.shape());
  KILN_CHECK(grid.size(0) == x.size(0), op, ": grid has batch size ", grid.size(0), " but input has ", x.size(0));
  KILN_CHECK(grid.dtype() == x.dtype(), op, ": grid has dtype ", dtype_name(grid.dtype()), " but input has ",
             dtype_name(x.dtype()));
  check_same_device(x, grid, op);
  const int64_t N = x.size(0), C = x.size(1), OH = grid.size(1), OW = grid.size(2);
  const DType kd = kernel_dtype(x);  // grid has x's dtype (checked above)
  Tensor xc = x.to(kd).contiguous(), gc = grid.to(kd).contiguous();
  Tensor y = empty({N, C, OH, OW}, xc.dtype(), x.device());
  switch (x.device().type) {
    case DeviceType::CPU:
      cpu::grid_sample_forward(xc.dtype(), xc.data_ptr(), gc.data_ptr(), y.data_ptr(), N, C, x.size(2), x.size(3), OH,
                               OW, mode, padding, align_corners);
      break;
    case DeviceType::CUDA:
#if KILN_HAVE_CUDA
      cuda::grid_sample_forward(xc.dtype(), xc.data_ptr(), gc.data_ptr(), y.data_ptr(), N, C, x.size(2), x.size(3),
                                OH, OW, mode, padding, align_corners, cuda::prepare(x.device().index));
      break;
#endif
      unsupported_device(op, x.device());
  }
  return y.to(x.dtype());
}

}  // namespace kiln
