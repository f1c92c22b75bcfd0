// Differentiable pow: tensor^scalar, tensor^tensor, scalar^tensor.
#include "kiln/autograd/elementwise.h"
#include "kiln/autograd/elementwise_record.h"
#include "kiln/autograd/sum_to.h"
#include "kiln/tensor/creation.h"

namespace kiln::ag {

using detail::record_unary;

namespace {

// d(a^b)/db = a^b log(a). At a == 0 with b >= 0 the limit used is 0 (0^b is flat or has no
// useful slope there), which also avoids 0 * -inf = NaN; PyTorch masks the same points.
Tensor exponent_grad(const Tensor& g, const Tensor& y, const Tensor& a, const Tensor& b) {
  Tensor d = kiln::mul(g, kiln::mul(y, kiln::log(a)));
  return kiln::where(kiln::logical_and(kiln::eq(a, 0.0), kiln::ge(b, 0.0)), 0.0, d);
}

}  // namespace

Tensor pow(const Tensor& x, Scalar exponent) {
  SavedTensor sx(x, "pow");
  return record_unary("pow", x, kiln::pow(x, exponent), [sx, exponent](const Tensor& g) {
    if (exponent.to_double() == 0.0) return kiln::zeros_like(g);
    // e x^(e-1), keeping an integer exponent integral so negative bases stay finite.
    Scalar em1 = exponent.is_floating() ? Scalar(exponent.to_double() - 1.0) : Scalar(exponent.to_int() - 1);
    return kiln::mul(g, kiln::mul(kiln::pow(sx.get(), em1), exponent));
  });
}

Tensor pow(const Tensor& a, const Tensor& b) {
  Tensor y = kiln::pow(a, b);
  if (!any_requires_grad({&a, &b})) return y;
  SavedTensor sa(a, "pow"), sb(b, "pow");
  SavedTensor sy = requires_grad(b) ? SavedTensor(y, "pow") : SavedTensor();
  Shape as = a.shape(), bs = b.shape();
  return record("pow", {a, b}, y, [sa, sb, sy, as, bs](const Grads& g) -> std::vector<Tensor> {
    Tensor av = sa.get(), bv = sb.get();
    Tensor ga, gb;
    if (g.needs[0]) {
      // b a^(b-1), 0 where b == 0 (the derivative of the constant 1, even at a == 0).
      Tensor d = kiln::mul(bv, kiln::pow(av, kiln::sub(bv, 1.0)));
      ga = sum_to(kiln::where(kiln::eq(bv, 0.0), 0.0, kiln::mul(g[0], d)), as);
    }
    if (g.needs[1]) gb = sum_to(exponent_grad(g[0], sy.get(), av, bv), bs);
    return {ga, gb};
  });
}

Tensor pow(Scalar a, const Tensor& b) {
  Tensor y = kiln::pow(a, b);
  SavedTensor sy(y, "pow"), sb(b, "pow");
  return record_unary("pow", b, y, [sy, sb, a](const Tensor& g) {
    Tensor yv = sy.get();
    return exponent_grad(g, yv, kiln::full_like(yv, a), sb.get());
  });
}

}  // namespace kiln::ag
