// The machinery every elementwise op goes through: dtype choice, output allocation, the Loop, the
// one device switch, and the in-place rules.
//
// Note [Elementwise dtypes]
// Operands are promoted once, here, with tensor/dtype.h; an operand whose dtype differs from the
// compute dtype is cast by a copy first (mixed-dtype calls are rare; this keeps one kernel
// instantiation per dtype instead of one per dtype pair). Scalar operands are never materialised
// as tensors: they reach the kernel as a ScalarArg in the compute type (f32 for f16 / bf16
// tensors, like PyTorch's Python numbers), with a zero stride in the Loop. In-place ops compute
// straight into self when the result dtype is self's, else into a temporary copied back.
#include "kiln/tensor/elementwise_impl.h"

#include "kiln/kernels/cpu/binary.h"
#include "kiln/kernels/cpu/unary.h"
#include "kiln/tensor/creation.h"
#include "kiln/tensor/iterator.h"
#if KILN_HAVE_CUDA
#include "kiln/kernels/cuda/elementwise.h"
#include "kiln/kernels/cuda/runtime.h"
#endif

namespace kiln::elementwise {

bool can_cast(DType from, DType to) {
  if (is_floating(from) && !is_floating(to)) return false;
  if (from != DType::b8 && to == DType::b8) return false;
  return true;
}

void check_inplace(const Tensor& self, DType result, const char* op) {
  KILN_CHECK(can_cast(result, self.dtype()), op, ": result type ", dtype_name(result),
             " can't be cast to the desired output type ", dtype_name(self.dtype()));
  check_writable(self, op);
}

DType unary_compute_dtype(UnaryKind kind, DType d, const char* op) {
  switch (kind) {
    case UnaryKind::floating: return is_floating(d) ? d : DType::f32;
    case UnaryKind::numeric:
      KILN_CHECK(d != DType::b8, op, ": not supported for bool tensors");
      return d;
    case UnaryKind::any:
    case UnaryKind::truth:
      return d;
    case UnaryKind::predicate:
      KILN_CHECK(is_floating(d), op, ": kernel needs a floating dtype, got ", dtype_name(d));
      return d;
  }
  return d;
}

Tensor unary(const char* op_name, UnaryOp op, UnaryKind kind, const Tensor& x, const UnaryParams& p,
             const Tensor* self) {
  check_defined(x, op_name, "input");
  const DType cdt = unary_compute_dtype(kind, x.dtype(), op_name);
  const bool to_bool = kind == UnaryKind::predicate || kind == UnaryKind::truth;
  const DType odt = to_bool ? DType::b8 : cdt;
  if (self) check_inplace(*self, odt, op_name);
  // The input in the compute dtype: x itself (no handle copy) unless a cast is needed.
  Tensor cast;
  if (x.dtype() != cdt) cast = x.to(cdt);
  const Tensor& src = x.dtype() == cdt ? x : cast;
  Tensor out = self && self->dtype() == odt ? *self : empty(x.shape(), odt, x.device());
  switch (x.device().type) {
    case DeviceType::CPU: {
      if (out.numel() == 0) break;
      Loop loop = make_loop(out.shape(), {&out, &src});
      cpu::unary(op, loop, cdt, out.data_ptr(), src.data_ptr(), p);
      break;
    }
    case DeviceType::CUDA:
#if KILN_HAVE_CUDA
    {
      if (out.numel() == 0) break;
      Loop loop = make_loop(out.shape(), {&out, &src});
      cuda::unary(op, loop, cdt, out.data_ptr(), src.data_ptr(), p, cuda::prepare(x.device().index));
      break;
    }
#endif
      unsupported_device(op_name, x.device());
  }
  if (!self) return out;
  if (!out.is_same(*self)) Tensor(*self).copy_(out);  // copy_ bumps the version
  else self->bump_version();
  return *self;
}

DType promote(Operand a, Operand b) {
  if (a.t && b.t) return promote_types(a.t->dtype(), b.t->dtype());
  if (a.t) return promote_with_scalar(a.t->dtype(), *b.s);
  KILN_CHECK(b.t, "elementwise: at least one operand must be a tensor");
  return promote_with_scalar(b.t->dtype(), *a.s);
}

namespace {
ScalarArg scalar_arg(const Scalar& s) { return ScalarArg{s.to_double(), s.to_int()}; }
}  // namespace

Tensor binary(const char* op_name, BinaryOp op, Operand a, Operand b, DType compute, DType out_dtype,
              const Scalar& alpha, const Tensor* self) {
  if (a.t) check_defined(*a.t, op_name, "a");
  if (b.t) check_defined(*b.t, op_name, "b");
  if (a.t && b.t) check_same_device(*a.t, *b.t, op_name);
  const Tensor& any = a.t ? *a.t : *b.t;
  // Equal shapes (the common case) need no broadcast computation.
  const Shape shape = !(a.t && b.t) ? any.shape()
                      : a.t->shape() == b.t->shape() ? a.t->shape()
                                                     : broadcast_shapes(a.t->shape(), b.t->shape(), op_name);
  if (self) {
    check_same_device(*self, any, op_name);
    check_inplace(*self, out_dtype, op_name);
    KILN_CHECK(shape == self->shape(), op_name, ": output with shape ", self->shape(),
               " doesn't match the broadcast shape ", shape);
  }
  // Operands in the compute dtype: the caller's tensors themselves (no handle copies, which cost
  // atomic reference-count updates) unless a cast copy is needed.
  Tensor ca, cb;
  if (a.t && a.t->dtype() != compute) ca = a.t->to(compute);
  if (b.t && b.t->dtype() != compute) cb = b.t->to(compute);
  const Tensor* ta = !a.t ? nullptr : ca.defined() ? &ca : a.t;
  const Tensor* tb = !b.t ? nullptr : cb.defined() ? &cb : b.t;
  Tensor out = self && self->dtype() == out_dtype ? *self : empty(shape, out_dtype, any.device());
  switch (any.device().type) {
    case DeviceType::CPU: {
      if (out.numel() == 0) break;
      // A scalar operand takes the output's place in make_loop (so it does not change how
      // dimensions coalesce), then gets zero strides.
      Loop loop = make_loop(shape, {&out, ta ? ta : &out, tb ? tb : &out});
      for (int d = 0; d < loop.ndim; ++d) {
        if (!ta) loop.strides[1][d] = 0;
        if (!tb) loop.strides[2][d] = 0;
      }
      ScalarArg sa, sb;
      if (a.s) sa = scalar_arg(*a.s);
      if (b.s) sb = scalar_arg(*b.s);
      cpu::binary(op, loop, compute, out.data_ptr(), ta ? ta->data_ptr() : nullptr, tb ? tb->data_ptr() : nullptr,
                  ta ? nullptr : &sa, tb ? nullptr : &sb, scalar_arg(alpha));
      break;
    }
    case DeviceType::CUDA:
#if KILN_HAVE_CUDA
    {
      if (out.numel() == 0) break;
      Loop loop = make_loop(shape, {&out, ta ? ta : &out, tb ? tb : &out});
      for (int d = 0; d < loop.ndim; ++d) {
        if (!ta) loop.strides[1][d] = 0;
        if (!tb) loop.strides[2][d] = 0;
      }
      ScalarArg sa, sb;
      if (a.s) sa = scalar_arg(*a.s);
      if (b.s) sb = scalar_arg(*b.s);
      cuda::binary(op, loop, compute, out.data_ptr(), ta ? ta->data_ptr() : nullptr, tb ? tb->data_ptr() : nullptr,
                   ta ? nullptr : &sa, tb ? nullptr : &sb, scalar_arg(alpha), cuda::prepare(any.device().index));
      break;
    }
#endif
      unsupported_device(op_name, any.device());
  }
  if (!self) return out;
  if (!out.is_same(*self)) Tensor(*self).copy_(out);
  else self->bump_version();
  return *self;
}

}  // namespace kiln::elementwise
