// Differentiable add, sub, mul, div in their tensor-tensor, tensor-scalar and scalar-tensor
// forms. Tensor-tensor forms broadcast, so each operand's gradient is summed back to its shape.
#include "kiln/autograd/elementwise.h"
#include "kiln/autograd/elementwise_record.h"
#include "kiln/autograd/sum_to.h"

namespace kiln::ag {

using detail::record_unary;

namespace {

// g * alpha, skipping the multiplication for alpha == 1.
Tensor scaled(const Tensor& g, const Scalar& alpha) {
  return alpha.to_double() == 1.0 ? g : kiln::mul(g, alpha);
}

// a + sign * alpha * b
Tensor add_sub(const char* name, const Tensor& a, const Tensor& b, Scalar alpha, const Tensor& y, double sign) {
  if (!any_requires_grad({&a, &b})) return y;
  Shape as = a.shape(), bs = b.shape();
  return record(name, {a, b}, y, [as, bs, alpha, sign](const Grads& g) -> std::vector<Tensor> {
    Tensor gb;
    if (g.needs[1]) gb = sum_to(kiln::mul(g[0], sign * alpha.to_double()), bs);
    return {g.needs[0] ? sum_to(g[0], as) : Tensor(), gb};
  });
}

}  // namespace

Tensor add(const Tensor& a, const Tensor& b, Scalar alpha) { return add_sub("add", a, b, alpha, kiln::add(a, b, alpha), 1.0); }
Tensor sub(const Tensor& a, const Tensor& b, Scalar alpha) { return add_sub("sub", a, b, alpha, kiln::sub(a, b, alpha), -1.0); }

Tensor add(const Tensor& a, Scalar b, Scalar alpha) {
  return record_unary("add", a, kiln::add(a, b, alpha), [](const Tensor& g) { return g; });
}
Tensor add(Scalar a, const Tensor& b) {
  return record_unary("add", b, kiln::add(a, b), [](const Tensor& g) { return g; });
}
Tensor sub(const Tensor& a, Scalar b, Scalar alpha) {
  return record_unary("sub", a, kiln::sub(a, b, alpha), [](const Tensor& g) { return g; });
}
Tensor sub(Scalar a, const Tensor& b) {
  return record_unary("sub", b, kiln::sub(a, b), [](const Tensor& g) { return kiln::neg(g); });
}

Tensor mul(const Tensor& a, const Tensor& b) {
  Tensor y = kiln::mul(a, b);
  if (!any_requires_grad({&a, &b})) return y;
  // Each operand is saved only if the other one needs a gradient.
  SavedTensor sa = requires_grad(b) ? SavedTensor(a, "mul") : SavedTensor();
  SavedTensor sb = requires_grad(a) ? SavedTensor(b, "mul") : SavedTensor();
  Shape as = a.shape(), bs = b.shape();
  return record("mul", {a, b}, y, [sa, sb, as, bs](const Grads& g) -> std::vector<Tensor> {
    return {g.needs[0] ? sum_to(kiln::mul(g[0], sb.get()), as) : Tensor(),
            g.needs[1] ? sum_to(kiln::mul(g[0], sa.get()), bs) : Tensor()};
  });
}
Tensor mul(const Tensor& a, Scalar b) {
  return record_unary("mul", a, kiln::mul(a, b), [b](const Tensor& g) { return kiln::mul(g, b); });
}
Tensor mul(Scalar a, const Tensor& b) {
  return record_unary("mul", b, kiln::mul(a, b), [a](const Tensor& g) { return kiln::mul(g, a); });
}

Tensor div(const Tensor& a, const Tensor& b) {
  Tensor y = kiln::div(a, b);
  if (!any_requires_grad({&a, &b})) return y;
  // d(a/b)/da = 1/b, d(a/b)/db = -a/b^2 = -(1/b) (a/b)
  SavedTensor sa = requires_grad(b) ? SavedTensor(a, "div") : SavedTensor();
  SavedTensor sb(b, "div");
  Shape as = a.shape(), bs = b.shape();
  return record("div", {a, b}, y, [sa, sb, as, bs](const Grads& g) -> std::vector<Tensor> {
    Tensor bv = sb.get();
    Tensor g_over_b = kiln::div(g[0], bv);
    Tensor ga = g.needs[0] ? sum_to(g_over_b, as) : Tensor();
    Tensor gb = g.needs[1] ? sum_to(kiln::neg(kiln::mul(g_over_b, kiln::div(sa.get(), bv))), bs) : Tensor();
    return {ga, gb};
  });
}
Tensor div(const Tensor& a, Scalar b) {
  return record_unary("div", a, kiln::div(a, b), [b](const Tensor& g) { return kiln::div(g, b); });
}
Tensor div(Scalar a, const Tensor& b) {
  // d(a/b)/db = -a/b^2 = -y/b
  Tensor y = kiln::div(a, b);
  SavedTensor sy(y, "div"), sb(b, "div");
  return record_unary("div", b, y, [sy, sb](const Tensor& g) {
    return kiln::neg(kiln::mul(g, kiln::div(sy.get(), sb.get())));
  });
}

}  // namespace kiln::ag
