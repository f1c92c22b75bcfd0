// The differentiable C++ operators, Note [Differentiable operators] in operators.h.
#include "kiln/autograd/operators.h"

#include "kiln/autograd/grad_mode.h"

namespace kiln {

Tensor operator-(const Tensor& x) { return ag::neg(x); }
Tensor operator+(const Tensor& a, const Tensor& b) { return ag::add(a, b); }
Tensor operator+(const Tensor& a, Scalar b) { return ag::add(a, b); }
Tensor operator+(Scalar a, const Tensor& b) { return ag::add(a, b); }
Tensor operator-(const Tensor& a, const Tensor& b) { return ag::sub(a, b); }
Tensor operator-(const Tensor& a, Scalar b) { return ag::sub(a, b); }
Tensor operator-(Scalar a, const Tensor& b) { return ag::sub(a, b); }
Tensor operator*(const Tensor& a, const Tensor& b) { return ag::mul(a, b); }
Tensor operator*(const Tensor& a, Scalar b) { return ag::mul(a, b); }
Tensor operator*(Scalar a, const Tensor& b) { return ag::mul(a, b); }
Tensor operator/(const Tensor& a, const Tensor& b) { return ag::div(a, b); }
Tensor operator/(const Tensor& a, Scalar b) { return ag::div(a, b); }
Tensor operator/(Scalar a, const Tensor& b) { return ag::div(a, b); }

namespace {

// In-place arithmetic would have to rewrite the graph (a's producer and every node that saved a);
// we do not support it, so refuse rather than compute a wrong gradient.
void check_not_in_graph(const char* op, const Tensor& a, const Tensor* b) {
  if (!ag::is_grad_enabled()) return;
  const bool a_rg = a.defined() && ag::requires_grad(a);
  const bool b_rg = b && b->defined() && ag::requires_grad(*b);
  KILN_CHECK(!a_rg && !b_rg, "operator", op, ": in-place ops on tensors that require grad are not supported (",
             a_rg ? "the left operand" : "the right operand",
             " requires grad); use a = a ", op[0], " b instead, or a NoGradGuard for updates outside the graph");
}

}  // namespace

Tensor& operator+=(Tensor& a, const Tensor& b) {
  check_not_in_graph("+=", a, &b);
  kiln::add_(a, b);
  return a;
}
Tensor& operator+=(Tensor& a, Scalar b) {
  check_not_in_graph("+=", a, nullptr);
  kiln::add_(a, b);
  return a;
}
Tensor& operator-=(Tensor& a, const Tensor& b) {
  check_not_in_graph("-=", a, &b);
  kiln::sub_(a, b);
  return a;
}
Tensor& operator-=(Tensor& a, Scalar b) {
  check_not_in_graph("-=", a, nullptr);
  kiln::sub_(a, b);
  return a;
}
Tensor& operator*=(Tensor& a, const Tensor& b) {
  check_not_in_graph("*=", a, &b);
  kiln::mul_(a, b);
  return a;
}
Tensor& operator*=(Tensor& a, Scalar b) {
  check_not_in_graph("*=", a, nullptr);
  kiln::mul_(a, b);
  return a;
}
Tensor& operator/=(Tensor& a, const Tensor& b) {
  check_not_in_graph("/=", a, &b);
  kiln::div_(a, b);
  return a;
}
Tensor& operator/=(Tensor& a, Scalar b) {
  check_not_in_graph("/=", a, nullptr);
  kiln::div_(a, b);
  return a;
}

}  // namespace kiln
