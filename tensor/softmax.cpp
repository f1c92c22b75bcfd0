#include "kiln/tensor/softmax.h"

#include "kiln/kernels/cpu/softmax.h"
#include "kiln/tensor/creation.h"
#include "kiln/tensor/nn_support.h"
#if KILN_HAVE_CUDA
#include "kiln/kernels/cuda/runtime.h"
#include "kiln/kernels/cuda/softmax.h"
#endif

namespace kiln {
namespace {

// Sizes of x viewed as [outer, D, inner] around dim d.
struct Split {
  int64_t outer = 1, D = 1, inner = 1;
};
Split split_at(const Shape& s, int d) {
  Split r;
  if (s.size() == 0) return r;  // 0-d: one row of one element
  for (int i = 0; i < d; ++i) r.outer *= s[i];
  r.D = s[d];
  for (int i = d + 1; i < s.size(); ++i) r.inner *= s[i];
  return r;
}

Tensor forward(const Tensor& x, int64_t dim, bool log, const char* op) {
  nn_detail::check_float(x, op, "x");
  const int d = wrap_dim(dim, x.dim(), op);
  const Split sp = split_at(x.shape(), d);
  switch (x.device().type) {
    case DeviceType::CPU: {
      Tensor xc = nn_detail::to_compute(x);
      Tensor y = empty(x.shape(), xc.dtype());
      cpu::softmax_forward(xc.dtype(), xc.data_ptr(), y.data_ptr(), sp.outer, sp.D, sp.inner, log);
      return y.to(x.dtype());
    }
    case DeviceType::CUDA: {
#if KILN_HAVE_CUDA
      // 16-bit dtypes are read and written as stored and computed in f32 inside the kernel.
      Tensor xc = x.contiguous();
      Tensor y = empty(x.shape(), x.dtype(), x.device());
      cuda::softmax_forward(xc.dtype(), xc.data_ptr(), y.data_ptr(), sp.outer, sp.D, sp.inner, log,
                            cuda::prepare(x.device().index));
      return y;
#endif
      unsupported_device(op, x.device());
    }
  }
  return {};
}

Tensor backward(const Tensor& dy, const Tensor& y, int64_t dim, bool log, const char* op) {
  nn_detail::check_float(dy, op, "dy");
  nn_detail::check_float(y, op, "y");
  KILN_CHECK(dy.shape() == y.shape(), op, ": dy has shape ", dy.shape(), " but y has shape ", y.shape());
  KILN_CHECK(dy.dtype() == y.dtype(), op, ": dy has dtype ", dtype_name(dy.dtype()), " but y has dtype ",
             dtype_name(y.dtype()));
  check_same_device(dy, y, op);
  const int d = wrap_dim(dim, y.dim(), op);
  const Split sp = split_at(y.shape(), d);
  switch (y.device().type) {
    case DeviceType::CPU: {
      Tensor gc = nn_detail::to_compute(dy), yc = nn_detail::to_compute(y);
      Tensor dx = empty(y.shape(), yc.dtype());
      cpu::softmax_backward(yc.dtype(), gc.data_ptr(), yc.data_ptr(), dx.data_ptr(), sp.outer, sp.D, sp.inner, log);
      return dx.to(y.dtype());
    }
    case DeviceType::CUDA: {
#if KILN_HAVE_CUDA
      Tensor gc = dy.contiguous(), yc = y.contiguous();
      Tensor dx = empty(y.shape(), y.dtype(), y.device());
      cuda::softmax_backward(yc.dtype(), gc.data_ptr(), yc.data_ptr(), dx.data_ptr(), sp.outer, sp.D, sp.inner, log,
                             cuda::prepare(y.device().index));
      return dx;
#endif
      unsupported_device(op, y.device());
    }
  }
  return {};
}

}  // namespace

Tensor softmax(const Tensor& x, int64_t dim) { return forward(x, dim, false, "softmax"); }
Tensor log_softmax(const Tensor& x, int64_t dim) { return forward(x, dim, true, "log_softmax"); }
Tensor softmax_backward(const Tensor& dy, const Tensor& y, int64_t dim) {
  return backward(dy, y, dim, false, "softmax_backward");
}
Tensor log_softmax_backward(const Tensor& dy, const Tensor& y, int64_t dim) {
  return backward(dy, y, dim, true, "log_softmax_backward");
}

}  // namespace kiln
