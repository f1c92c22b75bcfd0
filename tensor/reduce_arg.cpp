// max/min over one dim with indices, argmax/argmin.
#include <optional>

#include "kiln/kernels/cpu/reduce.h"
#include "kiln/tensor/creation.h"
#include "kiln/tensor/reduce.h"
#include "kiln/tensor/reduce_plan.h"
#if KILN_HAVE_CUDA
#include "kiln/kernels/cuda/reduce.h"
#include "kiln/kernels/cuda/runtime.h"
#endif

namespace kiln {
namespace {

// Runs the arg kernel over `dims` (one dim, or all when empty); values may be null.
Tensor run_arg(bool is_max, const Tensor& x, const Shape& dims, bool keepdim, Tensor* values, const char* op) {
  check_defined(x, op, "x");
  ReducePlan p = plan_reduce(x, dims, keepdim, op);
  KILN_CHECK(p.R > 0 || p.outer * p.inner == 0, op, ": cannot reduce over an empty dimension (input shape ",
             x.shape(), "); the result has no identity");
  Tensor idx = empty(p.out_shape, DType::i64, x.device());
  if (values) *values = empty(p.out_shape, x.dtype(), x.device());
  switch (x.device().type) {
    case DeviceType::CPU:
      cpu::reduce_arg(is_max, x.dtype(), p.input.data_ptr(), p.outer, p.R, p.inner,
                      values ? values->data_ptr() : nullptr, static_cast<int64_t*>(idx.data_ptr()));
      break;
    case DeviceType::CUDA:
#if KILN_HAVE_CUDA
      cuda::reduce_arg(is_max, x.dtype(), p.input.data_ptr(), p.outer, p.R, p.inner,
                       values ? values->data_ptr() : nullptr, static_cast<int64_t*>(idx.data_ptr()),
                       cuda::prepare(x.device().index));
      break;
#endif
      unsupported_device(op, x.device());
  }
  return idx;
}

ValuesIndices extreme_dim(bool is_max, const Tensor& x, int64_t dim, bool keepdim, const char* op) {
  check_defined(x, op, "x");
  ValuesIndices r;
  r.indices = run_arg(is_max, x, Shape{dim}, keepdim, &r.values, op);
  return r;
}

Tensor arg(bool is_max, const Tensor& x, std::optional<int64_t> dim, bool keepdim, const char* op) {
  check_defined(x, op, "x");
  if (dim) return run_arg(is_max, x, Shape{*dim}, keepdim, nullptr, op);
  // Over the flattened tensor: the index is the row-major position.
  Tensor flat = x.reshape({x.numel()});
  Tensor idx = run_arg(is_max, flat, Shape{}, false, nullptr, op);
  return keepdim ? idx.reshape(Shape::filled(x.dim(), 1)) : idx;
}

}  // namespace

ValuesIndices max(const Tensor& x, int64_t dim, bool keepdim) { return extreme_dim(true, x, dim, keepdim, "max"); }
ValuesIndices min(const Tensor& x, int64_t dim, bool keepdim) { return extreme_dim(false, x, dim, keepdim, "min"); }
Tensor argmax(const Tensor& x, std::optional<int64_t> dim, bool keepdim) { return arg(true, x, dim, keepdim, "argmax"); }
Tensor argmin(const Tensor& x, std::optional<int64_t> dim, bool keepdim) { return arg(false, x, dim, keepdim, "argmin"); }

}  // namespace kiln
