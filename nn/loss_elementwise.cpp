// The elementwise losses, composed from differentiable ops (their gradients need no closure).
#include "kiln/autograd/elementwise.h"
#include "kiln/autograd/reduce.h"
#include "kiln/nn/loss.h"
#include "kiln/tensor/elementwise.h"

namespace kiln::nn {

namespace {
Tensor reduce(const Tensor& l, Reduction r) {
  switch (r) {
    case Reduction::none: return l;
    case Reduction::sum: return ag::sum(l);
    case Reduction::mean: break;
  }
  return ag::mean(l);
}

void check_pair(const char* op, const Tensor& x, const Tensor& y) {
  check_defined(x, op, "input");
  check_defined(y, op, "target");
  KILN_CHECK(is_floating(x.dtype()), op, ": input must be floating, got ", dtype_name(x.dtype()));
}
}  // namespace

Tensor binary_cross_entropy_with_logits(const Tensor& x, const Tensor& target, const Tensor& weight,
                                        const Tensor& pos_weight, Reduction reduction) {
  const char* op = "binary_cross_entropy_with_logits";
  check_pair(op, x, target);
  KILN_CHECK(target.shape() == x.shape(), op, ": target shape ", target.shape(), " must match input shape ", x.shape());
  Tensor y = is_floating(target.dtype()) ? target : target.to(x.dtype());
  // softplus(-x) = log(1 + exp(-x)), computed stably by the op.
  Tensor sp = ag::softplus(ag::neg(x));
  Tensor coef_sp = sp;
  if (pos_weight.defined()) coef_sp = ag::mul(ag::add(ag::mul(ag::sub(pos_weight, 1.0), y), 1.0), sp);
  Tensor l = ag::add(ag::mul(ag::sub(1.0, y), x), coef_sp);
  if (weight.defined()) l = ag::mul(l, weight);
  return reduce(l, reduction);
}

Tensor mse_loss(const Tensor& x, const Tensor& target, Reduction reduction) {
  check_pair("mse_loss", x, target);
  return reduce(ag::square(ag::sub(x, target)), reduction);
}

Tensor l1_loss(const Tensor& x, const Tensor& target, Reduction reduction) {
  check_pair("l1_loss", x, target);
  return reduce(ag::abs(ag::sub(x, target)), reduction);
}

Tensor smooth_l1_loss(const Tensor& x, const Tensor& target, Reduction reduction, double beta) {
  check_pair("smooth_l1_loss", x, target);
  KILN_CHECK(beta >= 0, "smooth_l1_loss: beta must be >= 0, got ", beta);
  Tensor d = ag::sub(x, target);
  Tensor ad = ag::abs(d);
  if (beta == 0) return reduce(ad, reduction);
  Tensor quadratic = kiln::lt(ad, beta);  // raw comparison: the branch choice has no gradient
  Tensor l = ag::where(quadratic, ag::mul(ag::square(d), 0.5 / beta), ag::sub(ad, 0.5 * beta));
  return reduce(l, reduction);
}

}  // namespace kiln::nn
