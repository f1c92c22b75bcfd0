// Inverted dropout: y = x * mask, where the mask already holds 0 or 1 / (1 - p), so the gradient
// is dy * mask. The mask is the only thing saved.
#include "kiln/autograd/dropout.h"

#include "kiln/kernels/error.h"
#include "kiln/tensor/creation.h"
#include "kiln/tensor/elementwise.h"

namespace kiln::ag {
namespace {

// x * mask with mask of mask_shape (broadcast over x), recorded under `name`.
Tensor apply_mask(const char* name, const Tensor& x, const Shape& mask_shape, double p, Generator* gen) {
  // p == 1 drops everything; dropout_mask takes p < 1 only (its scale 1 / (1 - p) would be inf).
  Tensor mask = p >= 1.0 ? kiln::zeros(mask_shape, x.dtype(), x.device())
                         : kiln::dropout_mask(mask_shape, p, gen, x.dtype(), x.device());
  Tensor y = kiln::mul(x, mask);
  if (!any_requires_grad({&x})) return y;
  SavedTensor sm(mask, name);
  return record(name, {x}, y, [sm](const Grads& g) -> std::vector<Tensor> { return {kiln::mul(g[0], sm.get())}; });
}

}  // namespace

Tensor dropout(const Tensor& x, double p, bool training, Generator* gen) {
  KILN_CHECK(p >= 0.0 && p <= 1.0, "dropout: probability must be in [0, 1], got ", p);
  KILN_CHECK(x.defined() && x.is_floating_point(), "dropout: x must be a defined floating tensor");
  if (!training || p == 0.0) return x;
  return apply_mask("dropout", x, x.shape(), p, gen);
}

Tensor dropout2d(const Tensor& x, double p, bool training, Generator* gen) {
  KILN_CHECK(p >= 0.0 && p <= 1.0, "dropout2d: probability must be in [0, 1], got ", p);
  KILN_CHECK(x.defined() && x.is_floating_point(), "dropout2d: x must be a defined floating tensor");
  KILN_CHECK(x.dim() >= 2, "dropout2d: expected x of shape [B, C, *], got shape ", x.shape().str());
  if (!training || p == 0.0) return x;
  Shape ms = Shape::filled(x.dim(), 1);
  ms[0] = x.size(0);
  ms[1] = x.size(1);
  return apply_mask("dropout2d", x, ms, p, gen);
}

}  // namespace kiln::ag
