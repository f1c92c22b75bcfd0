// Value reductions: sum, mean, prod, amax/amin, any/all, norm, logsumexp, var/std.
#include "kiln/tensor/reduce.h"

#include <cmath>

#include "kiln/kernels/cpu/reduce.h"
#include "kiln/tensor/creation.h"
#include "kiln/tensor/reduce_plan.h"
#if KILN_HAVE_CUDA
#include "kiln/kernels/cuda/reduce.h"
#include "kiln/kernels/cuda/runtime.h"
#endif

namespace kiln {
namespace {

using cpu::ReduceKind;

// Plans, allocates the result and runs one reduce kernel. aux (var/std) receives the mean.
Tensor run(ReduceKind kind, const Tensor& x, const Shape& dims, bool keepdim, const char* op,
           const cpu::ReduceParams& params = {}, Tensor* aux = nullptr) {
  ReducePlan p = plan_reduce(x, dims, keepdim, op, /*allow_split=*/true);
  if (kind == ReduceKind::max || kind == ReduceKind::min)
    KILN_CHECK(p.reduced_count() > 0 || p.outputs() == 0, op, ": cannot reduce over an empty dimension (input shape ",
               x.shape(), ", dims ", dims, "); the result has no identity");
  Tensor out = empty(p.out_shape, cpu::reduce_out_dtype(kind, x.dtype()), x.device());
  if (aux) *aux = empty(p.out_shape, x.dtype(), x.device());
  switch (x.device().type) {
    case DeviceType::CPU:
      if (p.split)
        cpu::reduce_split(kind, x.dtype(), p.input.data_ptr(), p.outer, p.R, p.inner, out.data_ptr(),
                          aux ? aux->data_ptr() : nullptr, params);
      else
        cpu::reduce(kind, x.dtype(), p.input.data_ptr(), p.outer, p.R, p.inner, out.data_ptr(),
                    aux ? aux->data_ptr() : nullptr, params);
      break;
    case DeviceType::CUDA:
#if KILN_HAVE_CUDA
    {
      const cuda::Stream s = cuda::prepare(x.device().index);
      if (p.split)
        cuda::reduce_split(kind, x.dtype(), p.input.data_ptr(), p.outer, p.R, p.inner, out.data_ptr(),
                           aux ? aux->data_ptr() : nullptr, params, s);
      else
        cuda::reduce(kind, x.dtype(), p.input.data_ptr(), p.outer, p.R, p.inner, out.data_ptr(),
                     aux ? aux->data_ptr() : nullptr, params, s);
      break;
    }
#endif
      unsupported_device(op, x.device());
  }
  return out;
}

void check_floating(const Tensor& x, const char* op) {
  check_defined(x, op, "x");
  KILN_CHECK(x.is_floating_point(), op, ": expects a floating tensor, got dtype ", dtype_name(x.dtype()),
             " (cast it first, e.g. x.to(DType::f32))");
}

}  // namespace

Tensor sum(const Tensor& x, const Shape& dims, bool keepdim, std::optional<DType> dtype) {
  check_defined(x, "sum", "x");
  if (dtype) {
    Tensor s = run(ReduceKind::sum, x.to(*dtype), dims, keepdim, "sum");
    return s.to(*dtype);
  }
  return run(ReduceKind::sum, x, dims, keepdim, "sum");
}

Tensor mean(const Tensor& x, const Shape& dims, bool keepdim, std::optional<DType> dtype) {
  check_defined(x, "mean", "x");
  const Tensor in = dtype ? x.to(*dtype) : x;
  KILN_CHECK(in.is_floating_point(), "mean: expects a floating tensor, got dtype ", dtype_name(in.dtype()),
             " (pass dtype or cast the input)");
  return run(ReduceKind::mean, in, dims, keepdim, "mean");
}

Tensor prod(const Tensor& x, const Shape& dims, bool keepdim, std::optional<DType> dtype) {
  check_defined(x, "prod", "x");
  if (dtype) return run(ReduceKind::prod, x.to(*dtype), dims, keepdim, "prod").to(*dtype);
  return run(ReduceKind::prod, x, dims, keepdim, "prod");
}

Tensor amax(const Tensor& x, const Shape& dims, bool keepdim) { return run(ReduceKind::max, x, dims, keepdim, "amax"); }
Tensor amin(const Tensor& x, const Shape& dims, bool keepdim) { return run(ReduceKind::min, x, dims, keepdim, "amin"); }
Tensor max(const Tensor& x) { return run(ReduceKind::max, x, {}, false, "max"); }
Tensor min(const Tensor& x) { return run(ReduceKind::min, x, {}, false, "min"); }

Tensor any(const Tensor& x, const Shape& dims, bool keepdim) { return run(ReduceKind::any, x, dims, keepdim, "any"); }
Tensor all(const Tensor& x, const Shape& dims, bool keepdim) { return run(ReduceKind::all, x, dims, keepdim, "all"); }

Tensor var(const Tensor& x, const Shape& dims, double correction, bool keepdim) {
  check_floating(x, "var");
  cpu::ReduceParams params;
  params.correction = correction;
  return run(ReduceKind::var, x, dims, keepdim, "var", params);
}

Tensor std(const Tensor& x, const Shape& dims, double correction, bool keepdim) {
  check_floating(x, "std");
  cpu::ReduceParams params;
  params.correction = correction;
  return run(ReduceKind::std, x, dims, keepdim, "std", params);
}

VarMean var_mean(const Tensor& x, const Shape& dims, double correction, bool keepdim) {
  check_floating(x, "var_mean");
  cpu::ReduceParams params;
  params.correction = correction;
  VarMean r;
  r.var = run(ReduceKind::var, x, dims, keepdim, "var_mean", params, &r.mean);
  return r;
}

Tensor norm(const Tensor& x, double p, const Shape& dims, bool keepdim) {
  check_floating(x, "norm");
  KILN_CHECK(p > 0, "norm: p must be > 0 (or inf), got ", p);
  cpu::ReduceParams params;
  params.p = p;
  return run(ReduceKind::norm, x, dims, keepdim, "norm", params);
}

Tensor logsumexp(const Tensor& x, const Shape& dims, bool keepdim) {
  check_floating(x, "logsumexp");
  return run(ReduceKind::logsumexp, x, dims, keepdim, "logsumexp");
}

}  // namespace kiln
