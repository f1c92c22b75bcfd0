// cumsum / cumprod along one dim.
#include "kiln/kernels/cpu/reduce.h"
#include "kiln/tensor/creation.h"
#include "kiln/tensor/reduce.h"
#if KILN_HAVE_CUDA
#include "kiln/kernels/cuda/reduce.h"
#include "kiln/kernels/cuda/runtime.h"
#endif

namespace kiln {
namespace {

Tensor run_scan(bool prod, const Tensor& x0, int64_t dim, std::optional<DType> dtype, const char* op) {
  check_defined(x0, op, "x");
  const Tensor x = (dtype ? x0.to(*dtype) : x0).contiguous();
  const int d = wrap_dim(dim, x.dim(), op);
  int64_t outer = 1, R = x.dim() == 0 ? 1 : x.size(d), inner = 1;
  for (int i = 0; i < d; ++i) outer *= x.size(i);
  for (int i = d + 1; i < x.dim(); ++i) inner *= x.size(i);
  DType out_dtype = is_floating(x.dtype()) ? x.dtype() : DType::i64;
  Tensor out = empty(x.shape(), out_dtype, x.device());
  switch (x.device().type) {
    case DeviceType::CPU: cpu::scan(prod, x.dtype(), x.data_ptr(), outer, R, inner, out.data_ptr()); break;
    case DeviceType::CUDA:
#if KILN_HAVE_CUDA
      cuda::scan(prod, x.dtype(), x.data_ptr(), outer, R, inner, out.data_ptr(), cuda::prepare(x.device().index));
      break;
#endif
      unsupported_device(op, x.device());
  }
  return dtype ? out.to(*dtype) : out;
}

}  // namespace

Tensor cumsum(const Tensor& x, int64_t dim, std::optional<DType> dtype) { return run_scan(false, x, dim, dtype, "cumsum"); }
Tensor cumprod(const Tensor& x, int64_t dim, std::optional<DType> dtype) { return run_scan(true, x, dim, dtype, "cumprod"); }

}  // namespace kiln
