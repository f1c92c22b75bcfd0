#include "kiln/tensor/grid_sample_backward.h"

#include "kiln/kernels/cpu/grid_sample_backward.h"
#include "kiln/tensor/creation.h"
#include "kiln/tensor/nn_support.h"

#if KILN_HAVE_CUDA
#include "kiln/kernels/cuda/grid_sample.h"
#include "kiln/kernels/cuda/runtime.h"
#endif

namespace kiln {

GridSampleGrads grid_sample_backward(const Tensor& dy, const Tensor& x, const Tensor& grid, GridSampleMode mode,
                                     GridSamplePadding padding, bool align_corners, bool need_dx, bool need_dgrid) {
  const char* op = "grid_sample_backward";
  nn_detail::check_float(dy, op, "dy");
  nn_detail::check_float(x, op, "x");
  nn_detail::check_float(grid, op, "grid");
  KILN_CHECK(x.dim() == 4 && grid.dim() == 4 && grid.size(3) == 2 && grid.size(0) == x.size(0), op,
             ": expected x [N, C, H, W] and grid [N, OH, OW, 2], got ", x.shape(), " and ", grid.shape());
  const int64_t N = x.size(0), C = x.size(1), H = x.size(2), W = x.size(3), OH = grid.size(1), OW = grid.size(2);
  KILN_CHECK(dy.shape() == Shape({N, C, OH, OW}), op, ": dy has shape ", dy.shape(), ", expected ",
             Shape({N, C, OH, OW}));
  check_same_device(x, grid, op);
  check_same_device(x, dy, op);
  GridSampleGrads r;
  // Everything in x's compute dtype (Note [NN compute dtype]); the CUDA kernels also take f16 / bf16
  // natively (computing in f32, with the same results) when dy, x and grid share that dtype.
  const bool native = x.device().is_cuda() && dy.dtype() == x.dtype() && grid.dtype() == x.dtype();
  const DType cd = native ? x.dtype() : nn_detail::compute_dtype(x.dtype());
  Tensor xc = x.to(cd).contiguous(), gc = grid.to(cd).contiguous(), dyc = dy.to(cd).contiguous();
  Tensor dx, dg;
  switch (x.device().type) {
    case DeviceType::CPU:
      // The CPU kernel adds into dx.
      if (need_dx) dx = zeros(x.shape(), cd);
      if (need_dgrid) dg = empty(grid.shape(), cd);
      cpu::grid_sample_backward(cd, dyc.data_ptr(), xc.data_ptr(), gc.data_ptr(), need_dx ? dx.data_ptr() : nullptr,
                                need_dgrid ? dg.data_ptr() : nullptr, N, C, H, W, OH, OW, mode, padding,
                                align_corners);
      break;
    case DeviceType::CUDA: {
#if KILN_HAVE_CUDA
      // The CUDA kernel writes every element of dx (Note [Deterministic grid_sample backward]).
      const Device dev = x.device();
      const cuda::Stream s = cuda::prepare(dev.index);
      if (need_dx) dx = empty(x.shape(), cd, dev);
      if (need_dgrid) dg = empty(grid.shape(), cd, dev);
      const size_t bytes = cuda::grid_sample_backward_workspace_size(cd, N, H, W, OH, OW, mode, need_dx);
      Tensor ws = bytes > 0 ? empty({int64_t(bytes)}, DType::u8, dev) : Tensor();
      cuda::grid_sample_backward(cd, dyc.data_ptr(), xc.data_ptr(), gc.data_ptr(), need_dx ? dx.data_ptr() : nullptr,
                                 need_dgrid ? dg.data_ptr() : nullptr, N, C, H, W, OH, OW, mode, padding,
                                 align_corners, bytes > 0 ? ws.data_ptr() : nullptr, bytes, s);
      break;
#endif
      unsupported_device(op, x.device());
    }
  }
  if (need_dx) r.dx = dx.to(x.dtype());
  if (need_dgrid) r.dgrid = dg.to(grid.dtype());
  return r;
}

}  // namespace kiln
