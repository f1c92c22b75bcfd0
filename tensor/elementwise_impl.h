#pragma once
// Shared machinery of tensor/elementwise_*.cpp (not part of the public API): dtype rules, the
// device switch, and the in-place checks, written once for all elementwise ops.
#include "kiln/kernels/scalar_ops.h"
#include "kiln/tensor/elementwise.h"

namespace kiln::elementwise {

// PyTorch's canCast: a floating result cannot be written into an integer or bool tensor, nor an
// integer result into a bool tensor.
bool can_cast(DType from, DType to);
// Throws unless a result of dtype `result` can be written into self, and self is writable.
void check_inplace(const Tensor& self, DType result, const char* op);

// How a unary op chooses its compute dtype from the input's dtype.
enum class UnaryKind {
  floating,   // integer / bool inputs are computed (and returned) as f32
  numeric,    // keeps the dtype; bool refused
  any,        // keeps the dtype, bool included
  predicate,  // floating inputs -> bool result (integer inputs handled by the caller)
  truth,      // any input -> bool result
};
// The compute dtype of a unary op for input dtype d (throws for refused dtypes).
DType unary_compute_dtype(UnaryKind kind, DType d, const char* op);
// Runs a unary kernel: out-of-place when self is null, else into *self (with the in-place checks).
Tensor unary(const char* op_name, UnaryOp op, UnaryKind kind, const Tensor& x, const UnaryParams& p = {},
             const Tensor* self = nullptr);

// One operand of a binary op: a tensor or a scalar.
struct Operand {
  const Tensor* t = nullptr;
  const Scalar* s = nullptr;
};
// Runs a binary kernel with compute dtype `compute` and output dtype `out_dtype`: out-of-place
// when self is null, else into *self (with the in-place checks; self is also operand a).
Tensor binary(const char* op_name, BinaryOp op, Operand a, Operand b, DType compute, DType out_dtype,
              const Scalar& alpha = Scalar(int64_t(1)), const Tensor* self = nullptr);
// The dtype two operands promote to.
DType promote(Operand a, Operand b);

}  // namespace kiln::elementwise
