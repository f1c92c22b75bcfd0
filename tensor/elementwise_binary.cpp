// Binary elementwise ops (tensor / scalar operands), their in-place variants and the C++
// operators. Dtype rules: Note [Elementwise dtypes] in elementwise_common.cpp.
#include "kiln/tensor/elementwise_impl.h"

namespace kiln {

using elementwise::binary;
using elementwise::Operand;
using elementwise::promote;

namespace {

Operand T(const Tensor& t) { return Operand{&t, nullptr}; }
Operand S(const Scalar& s) { return Operand{nullptr, &s}; }
bool is_bool_operand(Operand o) { return o.t ? o.t->dtype() == DType::b8 : o.s->is_bool(); }

// add / sub share the alpha rules: integer results need an integer alpha, bool results a bool one.
Tensor add_sub(const char* name, BinaryOp op, Operand a, Operand b, const Scalar& alpha, const Tensor* self) {
  if (a.t) check_defined(*a.t, name, "a");
  if (b.t) check_defined(*b.t, name, "b");
  if (op == BinaryOp::sub) {
    KILN_CHECK(!is_bool_operand(a) || !is_bool_operand(b), name,
               ": subtraction, the `-` operator, with two bool tensors is not supported; use logical_xor instead");
    KILN_CHECK(!is_bool_operand(a) && !is_bool_operand(b), name,
               ": subtraction, the `-` operator, with a bool tensor is not supported; use logical_not to invert "
               "a mask");
  }
  const DType d = promote(a, b);
  if (!is_floating(d))
    KILN_CHECK(!alpha.is_floating(), name, ": for integral input tensors, alpha must not be a floating point number");
  if (d == DType::b8)
    KILN_CHECK(alpha.is_bool() || alpha.to_int() == 1, name, ": a bool result needs a bool alpha");
  return binary(name, op, a, b, d, d, alpha, self);
}

// The same op with the same dtype for compute and output.
Tensor arith(const char* name, BinaryOp op, Operand a, Operand b, const Tensor* self = nullptr) {
  if (a.t) check_defined(*a.t, name, "a");
  if (b.t) check_defined(*b.t, name, "b");
  const DType d = promote(a, b);
  return binary(name, op, a, b, d, d, Scalar(int64_t(1)), self);
}

// True division: integer and bool operands are divided as f32.
Tensor divide(const char* name, Operand a, Operand b, const Tensor* self = nullptr) {
  if (a.t) check_defined(*a.t, name, "a");
  if (b.t) check_defined(*b.t, name, "b");
  DType d = promote(a, b);
  if (!is_floating(d)) d = DType::f32;
  return binary(name, BinaryOp::div, a, b, d, d, Scalar(int64_t(1)), self);
}

Tensor no_bool(const char* name, BinaryOp op, Operand a, Operand b, const Tensor* self = nullptr) {
  if (a.t) check_defined(*a.t, name, "a");
  if (b.t) check_defined(*b.t, name, "b");
  KILN_CHECK(promote(a, b) != DType::b8, name, ": not supported for bool operands");
  return arith(name, op, a, b, self);
}

// Comparisons and logical ops: operands in their common dtype, result bool.
Tensor to_bool(const char* name, BinaryOp op, Operand a, Operand b) {
  if (a.t) check_defined(*a.t, name, "a");
  if (b.t) check_defined(*b.t, name, "b");
  const DType d = promote(a, b);
  return binary(name, op, a, b, d, DType::b8);
}

}  // namespace

// ---- arithmetic
Tensor add(const Tensor& a, const Tensor& b, Scalar alpha) { return add_sub("add", BinaryOp::add, T(a), T(b), alpha, nullptr); }
Tensor add(const Tensor& a, Scalar b, Scalar alpha) { return add_sub("add", BinaryOp::add, T(a), S(b), alpha, nullptr); }
Tensor add(Scalar a, const Tensor& b) { return add_sub("add", BinaryOp::add, S(a), T(b), Scalar(int64_t(1)), nullptr); }
Tensor sub(const Tensor& a, const Tensor& b, Scalar alpha) { return add_sub("sub", BinaryOp::sub, T(a), T(b), alpha, nullptr); }
Tensor sub(const Tensor& a, Scalar b, Scalar alpha) { return add_sub("sub", BinaryOp::sub, T(a), S(b), alpha, nullptr); }
Tensor sub(Scalar a, const Tensor& b) { return add_sub("sub", BinaryOp::sub, S(a), T(b), Scalar(int64_t(1)), nullptr); }
Tensor mul(const Tensor& a, const Tensor& b) { return arith("mul", BinaryOp::mul, T(a), T(b)); }
Tensor mul(const Tensor& a, Scalar b) { return arith("mul", BinaryOp::mul, T(a), S(b)); }
Tensor mul(Scalar a, const Tensor& b) { return arith("mul", BinaryOp::mul, S(a), T(b)); }
Tensor div(const Tensor& a, const Tensor& b) { return divide("div", T(a), T(b)); }
Tensor div(const Tensor& a, Scalar b) { return divide("div", T(a), S(b)); }
Tensor div(Scalar a, const Tensor& b) { return divide("div", S(a), T(b)); }
Tensor pow(const Tensor& a, const Tensor& b) { return no_bool("pow", BinaryOp::pow, T(a), T(b)); }
Tensor pow(Scalar a, const Tensor& b) { return no_bool("pow", BinaryOp::pow, S(a), T(b)); }
Tensor minimum(const Tensor& a, const Tensor& b) { return arith("minimum", BinaryOp::minimum, T(a), T(b)); }
Tensor maximum(const Tensor& a, const Tensor& b) { return arith("maximum", BinaryOp::maximum, T(a), T(b)); }
Tensor fmod(const Tensor& a, const Tensor& b) { return no_bool("fmod", BinaryOp::fmod, T(a), T(b)); }
Tensor fmod(const Tensor& a, Scalar b) { return no_bool("fmod", BinaryOp::fmod, T(a), S(b)); }
Tensor remainder(const Tensor& a, const Tensor& b) { return no_bool("remainder", BinaryOp::remainder, T(a), T(b)); }
Tensor remainder(const Tensor& a, Scalar b) { return no_bool("remainder", BinaryOp::remainder, T(a), S(b)); }
Tensor relu_backward(const Tensor& grad, const Tensor& y) {
  check_defined(grad, "relu_backward", "grad");
  check_defined(y, "relu_backward", "y");
  KILN_CHECK(is_floating(grad.dtype()) && is_floating(y.dtype()), "relu_backward: needs floating tensors, got grad ",
             dtype_name(grad.dtype()), " and y ", dtype_name(y.dtype()));
  return arith("relu_backward", BinaryOp::relu_backward, T(grad), T(y));
}

// ---- comparisons and logic
Tensor eq(const Tensor& a, const Tensor& b) { return to_bool("eq", BinaryOp::eq, T(a), T(b)); }
Tensor eq(const Tensor& a, Scalar b) { return to_bool("eq", BinaryOp::eq, T(a), S(b)); }
Tensor ne(const Tensor& a, const Tensor& b) { return to_bool("ne", BinaryOp::ne, T(a), T(b)); }
Tensor ne(const Tensor& a, Scalar b) { return to_bool("ne", BinaryOp::ne, T(a), S(b)); }
Tensor lt(const Tensor& a, const Tensor& b) { return to_bool("lt", BinaryOp::lt, T(a), T(b)); }
Tensor lt(const Tensor& a, Scalar b) { return to_bool("lt", BinaryOp::lt, T(a), S(b)); }
Tensor le(const Tensor& a, const Tensor& b) { return to_bool("le", BinaryOp::le, T(a), T(b)); }
Tensor le(const Tensor& a, Scalar b) { return to_bool("le", BinaryOp::le, T(a), S(b)); }
Tensor gt(const Tensor& a, const Tensor& b) { return to_bool("gt", BinaryOp::gt, T(a), T(b)); }
Tensor gt(const Tensor& a, Scalar b) { return to_bool("gt", BinaryOp::gt, T(a), S(b)); }
Tensor ge(const Tensor& a, const Tensor& b) { return to_bool("ge", BinaryOp::ge, T(a), T(b)); }
Tensor ge(const Tensor& a, Scalar b) { return to_bool("ge", BinaryOp::ge, T(a), S(b)); }
Tensor logical_and(const Tensor& a, const Tensor& b) { return to_bool("logical_and", BinaryOp::logical_and, T(a), T(b)); }
Tensor logical_or(const Tensor& a, const Tensor& b) { return to_bool("logical_or", BinaryOp::logical_or, T(a), T(b)); }
Tensor logical_xor(const Tensor& a, const Tensor& b) { return to_bool("logical_xor", BinaryOp::logical_xor, T(a), T(b)); }

// ---- in place
Tensor add_(const Tensor& self, const Tensor& other, Scalar alpha) {
  return add_sub("add_", BinaryOp::add, T(self), T(other), alpha, &self);
}
Tensor add_(const Tensor& self, Scalar other, Scalar alpha) {
  return add_sub("add_", BinaryOp::add, T(self), S(other), alpha, &self);
}
Tensor sub_(const Tensor& self, const Tensor& other, Scalar alpha) {
  return add_sub("sub_", BinaryOp::sub, T(self), T(other), alpha, &self);
}
Tensor sub_(const Tensor& self, Scalar other, Scalar alpha) {
  return add_sub("sub_", BinaryOp::sub, T(self), S(other), alpha, &self);
}
Tensor mul_(const Tensor& self, const Tensor& other) { return arith("mul_", BinaryOp::mul, T(self), T(other), &self); }
Tensor mul_(const Tensor& self, Scalar other) { return arith("mul_", BinaryOp::mul, T(self), S(other), &self); }
Tensor div_(const Tensor& self, const Tensor& other) { return divide("div_", T(self), T(other), &self); }
Tensor div_(const Tensor& self, Scalar other) { return divide("div_", T(self), S(other), &self); }
Tensor pow_(const Tensor& self, const Tensor& exponent) {
  return no_bool("pow_", BinaryOp::pow, T(self), T(exponent), &self);
}

// ---- operators
Tensor operator==(const Tensor& a, const Tensor& b) { return eq(a, b); }
Tensor operator==(const Tensor& a, Scalar b) { return eq(a, b); }
Tensor operator==(Scalar a, const Tensor& b) { return eq(b, a); }
Tensor operator!=(const Tensor& a, const Tensor& b) { return ne(a, b); }
Tensor operator!=(const Tensor& a, Scalar b) { return ne(a, b); }
Tensor operator!=(Scalar a, const Tensor& b) { return ne(b, a); }
Tensor operator<(const Tensor& a, const Tensor& b) { return lt(a, b); }
Tensor operator<(const Tensor& a, Scalar b) { return lt(a, b); }
Tensor operator<(Scalar a, const Tensor& b) { return gt(b, a); }
Tensor operator<=(const Tensor& a, const Tensor& b) { return le(a, b); }
Tensor operator<=(const Tensor& a, Scalar b) { return le(a, b); }
Tensor operator<=(Scalar a, const Tensor& b) { return ge(b, a); }
Tensor operator>(const Tensor& a, const Tensor& b) { return gt(a, b); }
Tensor operator>(const Tensor& a, Scalar b) { return gt(a, b); }
Tensor operator>(Scalar a, const Tensor& b) { return lt(b, a); }
Tensor operator>=(const Tensor& a, const Tensor& b) { return ge(a, b); }
Tensor operator>=(const Tensor& a, Scalar b) { return ge(a, b); }
Tensor operator>=(Scalar a, const Tensor& b) { return le(b, a); }

}  // namespace kiln
