#pragma once
// Note [Differentiable operators]
// The C++ operators on Tensor (unary -, binary + - * /, and += -= *= /=) are differentiable
// wherever this header is included (autograd/ops.h includes it), and raw everywhere else.
// Mechanism: tensor/elementwise.h defines them as inline function templates with a defaulted
// dummy template parameter (`template <class = void> Tensor operator+(const Tensor&, const
// Tensor&)`) calling the raw kiln:: ops. This header declares ordinary (non-template) operators
// with the same signatures in namespace kiln; when both are visible, overload resolution prefers
// the non-template one, so `a * b + c` records a graph. The tensor layer and its tests never see
// this header and keep the raw operators (no dependency on autograd, no upward include).
// Comparisons (== != < <= > >=) are not differentiable and stay raw non-templates in the tensor
// layer.
// Compound assignment (a += b ...): with grad mode on and either operand requiring grad it throws
// (in-place ops on tensors that require grad are not supported: write a = a + b); otherwise it
// is the raw in-place op (e.g. optimizer updates under NoGradGuard).
#include "kiln/autograd/elementwise.h"

namespace kiln {

Tensor operator-(const Tensor& x);
Tensor operator+(const Tensor& a, const Tensor& b);
Tensor operator+(const Tensor& a, Scalar b);
Tensor operator+(Scalar a, const Tensor& b);
Tensor operator-(const Tensor& a, const Tensor& b);
Tensor operator-(const Tensor& a, Scalar b);
Tensor operator-(Scalar a, const Tensor& b);
Tensor operator*(const Tensor& a, const Tensor& b);
Tensor operator*(const Tensor& a, Scalar b);
Tensor operator*(Scalar a, const Tensor& b);
Tensor operator/(const Tensor& a, const Tensor& b);
Tensor operator/(const Tensor& a, Scalar b);
Tensor operator/(Scalar a, const Tensor& b);
Tensor& operator+=(Tensor& a, const Tensor& b);
Tensor& operator+=(Tensor& a, Scalar b);
Tensor& operator-=(Tensor& a, const Tensor& b);
Tensor& operator-=(Tensor& a, Scalar b);
Tensor& operator*=(Tensor& a, const Tensor& b);
Tensor& operator*=(Tensor& a, Scalar b);
Tensor& operator/=(Tensor& a, const Tensor& b);
Tensor& operator/=(Tensor& a, Scalar b);

}  // namespace kiln
