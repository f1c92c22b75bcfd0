// Differentiable unary math ops. Where the derivative is a function of the result (exp, sqrt,
// tanh, sigmoid...) the result is saved rather than recomputed from the input.
#include <cmath>

#include "kiln/autograd/elementwise.h"
#include "kiln/autograd/elementwise_record.h"
#include "kiln/tensor/creation.h"

namespace kiln::ag {

using detail::record_unary;

Tensor neg(const Tensor& x) {
  return record_unary("neg", x, kiln::neg(x), [](const Tensor& g) { return kiln::neg(g); });
}

Tensor abs(const Tensor& x) {
  SavedTensor sx(x, "abs");
  // sign(0) = 0: the subgradient PyTorch picks at the kink.
  return record_unary("abs", x, kiln::abs(x), [sx](const Tensor& g) { return kiln::mul(g, kiln::sign(sx.get())); });
}

// Piecewise-constant ops: the gradient is zero everywhere (the output still joins the graph,
// as in PyTorch, so a loss built on it can be differentiated).
static Tensor zero_grad_op(const char* name, const Tensor& x, const Tensor& y) {
  return record_unary(name, x, y, [](const Tensor& g) { return kiln::zeros_like(g); });
}
Tensor sign(const Tensor& x) { return zero_grad_op("sign", x, kiln::sign(x)); }
Tensor floor(const Tensor& x) { return zero_grad_op("floor", x, kiln::floor(x)); }
Tensor ceil(const Tensor& x) { return zero_grad_op("ceil", x, kiln::ceil(x)); }
Tensor round(const Tensor& x) { return zero_grad_op("round", x, kiln::round(x)); }

Tensor exp(const Tensor& x) {
  Tensor y = kiln::exp(x);
  SavedTensor sy(y, "exp");
  return record_unary("exp", x, y, [sy](const Tensor& g) { return kiln::mul(g, sy.get()); });
}

Tensor log(const Tensor& x) {
  SavedTensor sx(x, "log");
  return record_unary("log", x, kiln::log(x), [sx](const Tensor& g) { return kiln::div(g, sx.get()); });
}

Tensor log1p(const Tensor& x) {
  SavedTensor sx(x, "log1p");
  return record_unary("log1p", x, kiln::log1p(x),
                      [sx](const Tensor& g) { return kiln::div(g, kiln::add(sx.get(), 1.0)); });
}

Tensor expm1(const Tensor& x) {
  Tensor y = kiln::expm1(x);
  SavedTensor sy(y, "expm1");
  return record_unary("expm1", x, y, [sy](const Tensor& g) { return kiln::mul(g, kiln::add(sy.get(), 1.0)); });
}

Tensor sqrt(const Tensor& x) {
  Tensor y = kiln::sqrt(x);
  SavedTensor sy(y, "sqrt");
  return record_unary("sqrt", x, y, [sy](const Tensor& g) { return kiln::div(g, kiln::mul(sy.get(), 2.0)); });
}

Tensor rsqrt(const Tensor& x) {
  // d x^(-1/2) = -1/2 x^(-3/2) = -1/2 y^3
  Tensor y = kiln::rsqrt(x);
  SavedTensor sy(y, "rsqrt");
  return record_unary("rsqrt", x, y, [sy](const Tensor& g) {
    Tensor yv = sy.get();
    return kiln::mul(g, kiln::mul(kiln::mul(yv, kiln::square(yv)), -0.5));
  });
}

Tensor reciprocal(const Tensor& x) {
  Tensor y = kiln::reciprocal(x);
  SavedTensor sy(y, "reciprocal");
  return record_unary("reciprocal", x, y, [sy](const Tensor& g) { return kiln::neg(kiln::mul(g, kiln::square(sy.get()))); });
}

Tensor square(const Tensor& x) {
  SavedTensor sx(x, "square");
  return record_unary("square", x, kiln::square(x), [sx](const Tensor& g) { return kiln::mul(g, kiln::mul(sx.get(), 2.0)); });
}

Tensor sin(const Tensor& x) {
  SavedTensor sx(x, "sin");
  return record_unary("sin", x, kiln::sin(x), [sx](const Tensor& g) { return kiln::mul(g, kiln::cos(sx.get())); });
}

Tensor cos(const Tensor& x) {
  SavedTensor sx(x, "cos");
  return record_unary("cos", x, kiln::cos(x), [sx](const Tensor& g) { return kiln::neg(kiln::mul(g, kiln::sin(sx.get()))); });
}

Tensor tanh(const Tensor& x) {
  Tensor y = kiln::tanh(x);
  SavedTensor sy(y, "tanh");
  return record_unary("tanh", x, y, [sy](const Tensor& g) {
    return kiln::mul(g, kiln::sub(1.0, kiln::square(sy.get())));
  });
}

Tensor sigmoid(const Tensor& x) {
  Tensor y = kiln::sigmoid(x);
  SavedTensor sy(y, "sigmoid");
  return record_unary("sigmoid", x, y, [sy](const Tensor& g) {
    Tensor yv = sy.get();
    return kiln::mul(g, kiln::mul(yv, kiln::sub(1.0, yv)));
  });
}

// d erf(x) = 2/sqrt(pi) exp(-x^2); erfc = 1 - erf has the opposite derivative.
static Tensor erf_derivative(const Tensor& x, double sign) {
  return kiln::mul(kiln::exp(kiln::neg(kiln::square(x))), sign * M_2_SQRTPI);
}

Tensor erf(const Tensor& x) {
  SavedTensor sx(x, "erf");
  return record_unary("erf", x, kiln::erf(x),
                      [sx](const Tensor& g) { return kiln::mul(g, erf_derivative(sx.get(), 1.0)); });
}

Tensor erfc(const Tensor& x) {
  SavedTensor sx(x, "erfc");
  return record_unary("erfc", x, kiln::erfc(x),
                      [sx](const Tensor& g) { return kiln::mul(g, erf_derivative(sx.get(), -1.0)); });
}

}  // namespace kiln::ag
