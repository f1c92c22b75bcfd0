// Differentiable activations: relu, leaky_relu, gelu, silu, mish, softplus.
#include <cmath>

#include "kiln/autograd/elementwise.h"
#include "kiln/autograd/elementwise_record.h"

namespace kiln::ag {

using detail::record_unary;

Tensor relu(const Tensor& x) {
  Tensor y = kiln::relu(x);
  SavedTensor sy(y, "relu");
  // y > 0 exactly where x > 0; the gradient at 0 is 0.
  return record_unary("relu", x, y, [sy](const Tensor& g) { return kiln::relu_backward(g, sy.get()); });
}

Tensor leaky_relu(const Tensor& x, double negative_slope) {
  SavedTensor sx(x, "leaky_relu");
  return record_unary("leaky_relu", x, kiln::leaky_relu(x, negative_slope), [sx, negative_slope](const Tensor& g) {
    return kiln::where(kiln::gt(sx.get(), 0.0), g, kiln::mul(g, negative_slope));
  });
}

Tensor gelu(const Tensor& x, GeluApprox approximate) {
  Tensor y = kiln::gelu(x, approximate);
  SavedTensor sx(x, "gelu");
  if (approximate == GeluApprox::tanh) {
    // y = x/2 (1 + tanh u), u = k (x + c x^3):
    // dy = (1 + tanh u)/2 + x/2 (1 - tanh^2 u) k (1 + 3 c x^2)
    return record_unary("gelu", x, y, [sx](const Tensor& g) {
      const double k = std::sqrt(2.0 / M_PI), c = 0.044715;
      Tensor xv = sx.get();
      Tensor x2 = kiln::square(xv);
      Tensor t = kiln::tanh(kiln::mul(kiln::add(xv, kiln::mul(kiln::mul(x2, xv), c)), k));
      Tensor du = kiln::mul(kiln::add(kiln::mul(x2, 3 * c), 1.0), k);
      Tensor d = kiln::add(kiln::mul(kiln::add(t, 1.0), 0.5),
                           kiln::mul(kiln::mul(kiln::mul(xv, 0.5), kiln::sub(1.0, kiln::square(t))), du));
      return kiln::mul(g, d);
    });
  }
  // y = x Phi(x): dy = Phi(x) + x phi(x), with Phi(x) = erfc(-x / sqrt2) / 2 computed directly
  // (not recovered from y / x, which loses Phi where x Phi(x) rounds to 0, e.g. for subnormal x;
  // and not as (1 + erf(x / sqrt2)) / 2, which cancels to 0 for large negative x).
  return record_unary("gelu", x, y, [sx](const Tensor& g) {
    Tensor xv = sx.get();
    Tensor cdf = kiln::mul(kiln::erfc(kiln::mul(xv, -M_SQRT1_2)), 0.5);
    Tensor pdf = kiln::mul(kiln::exp(kiln::mul(kiln::square(xv), -0.5)), 1.0 / std::sqrt(2.0 * M_PI));
    return kiln::mul(g, kiln::add(cdf, kiln::mul(xv, pdf)));
  });
}

Tensor silu(const Tensor& x) {
  // d(x s(x)) = s (1 + x (1 - s))
  SavedTensor sx(x, "silu");
  return record_unary("silu", x, kiln::silu(x), [sx](const Tensor& g) {
    Tensor xv = sx.get();
    Tensor s = kiln::sigmoid(xv);
    return kiln::mul(g, kiln::mul(s, kiln::add(kiln::mul(xv, kiln::sub(1.0, s)), 1.0)));
  });
}

Tensor mish(const Tensor& x) {
  // y = x tanh(sp(x)), sp' = sigmoid: dy = tanh(sp) + x sigmoid(x) (1 - tanh^2(sp))
  SavedTensor sx(x, "mish");
  return record_unary("mish", x, kiln::mish(x), [sx](const Tensor& g) {
    Tensor xv = sx.get();
    Tensor t = kiln::tanh(kiln::softplus(xv));
    Tensor d = kiln::add(t, kiln::mul(kiln::mul(xv, kiln::sigmoid(xv)), kiln::sub(1.0, kiln::square(t))));
    return kiln::mul(g, d);
  });
}

Tensor softplus(const Tensor& x, double beta, double threshold) {
  // d/dx log(1 + exp(beta x)) / beta = sigmoid(beta x); 1 in the linear region beta x > threshold.
  SavedTensor sx(x, "softplus");
  return record_unary("softplus", x, kiln::softplus(x, beta, threshold), [sx, beta, threshold](const Tensor& g) {
    Tensor bx = kiln::mul(sx.get(), beta);
    return kiln::where(kiln::gt(bx, threshold), g, kiln::mul(g, kiln::sigmoid(bx)));
  });
}

}  // namespace kiln::ag
