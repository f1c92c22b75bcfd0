// where(cond, a, b): a select with 3-way broadcasting.
#include "kiln/kernels/cpu/where.h"
#include "kiln/tensor/creation.h"
#include "kiln/tensor/elementwise_impl.h"
#include "kiln/tensor/iterator.h"
#if KILN_HAVE_CUDA
#include "kiln/kernels/cuda/elementwise.h"
#include "kiln/kernels/cuda/runtime.h"
#endif

namespace kiln {

Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b) {
  check_defined(cond, "where", "cond");
  check_defined(a, "where", "a");
  check_defined(b, "where", "b");
  KILN_CHECK(cond.dtype() == DType::b8, "where: expected condition to be a bool tensor, got ", dtype_name(cond.dtype()));
  check_same_device(cond, a, "where");
  check_same_device(a, b, "where");
  const Shape shape = broadcast_shapes(broadcast_shapes(cond.shape(), a.shape(), "where"), b.shape(), "where");
  const DType d = promote_types(a.dtype(), b.dtype());
  const Tensor ta = a.dtype() == d ? a : a.to(d);
  const Tensor tb = b.dtype() == d ? b : b.to(d);
  Tensor out = empty(shape, d, a.device());
  switch (a.device().type) {
    case DeviceType::CPU: {
      if (out.numel() == 0) break;
      Loop loop = make_loop(shape, {&out, &cond, &ta, &tb});
      cpu::where(loop, d, out.data_ptr(), static_cast<const bool*>(cond.data_ptr()), ta.data_ptr(), tb.data_ptr());
      break;
    }
    case DeviceType::CUDA:
#if KILN_HAVE_CUDA
    {
      if (out.numel() == 0) break;
      Loop loop = make_loop(shape, {&out, &cond, &ta, &tb});
      cuda::where(loop, d, out.data_ptr(), static_cast<const bool*>(cond.data_ptr()), ta.data_ptr(), tb.data_ptr(),
                  cuda::prepare(a.device().index));
      break;
    }
#endif
      unsupported_device("where", a.device());
  }
  return out;
}

// A scalar branch becomes a 0-d tensor of the promoted dtype (broadcast with stride 0).
Tensor where(const Tensor& cond, const Tensor& a, Scalar b) {
  check_defined(a, "where", "a");
  return where(cond, a, scalar_tensor(b, promote_with_scalar(a.dtype(), b), a.device()));
}
Tensor where(const Tensor& cond, Scalar a, const Tensor& b) {
  check_defined(b, "where", "b");
  return where(cond, scalar_tensor(a, promote_with_scalar(b.dtype(), a), b.device()), b);
}

}  // namespace kiln
