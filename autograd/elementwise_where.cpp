// Differentiable where(cond, a, b): a's gradient is g where cond holds, b's where it does not;
// cond is a bool tensor and gets none. Broadcasting of the three shapes is undone by sum_to.
#include "kiln/autograd/elementwise.h"
#include "kiln/autograd/sum_to.h"

namespace kiln::ag {

Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b) {
  Tensor y = kiln::where(cond, a, b);
  if (!any_requires_grad({&a, &b})) return y;
  SavedTensor sc(cond, "where");
  Shape as = a.shape(), bs = b.shape();
  return record("where", {Tensor(), a, b}, y, [sc, as, bs](const Grads& g) -> std::vector<Tensor> {
    Tensor c = sc.get();
    return {Tensor(), g.needs[1] ? sum_to(kiln::where(c, g[0], 0.0), as) : Tensor(),
            g.needs[2] ? sum_to(kiln::where(c, 0.0, g[0]), bs) : Tensor()};
  });
}

Tensor where(const Tensor& cond, const Tensor& a, Scalar b) {
  Tensor y = kiln::where(cond, a, b);
  if (!any_requires_grad({&a})) return y;
  SavedTensor sc(cond, "where");
  Shape as = a.shape();
  return record("where", {a}, y, [sc, as](const Grads& g) -> std::vector<Tensor> {
    return {sum_to(kiln::where(sc.get(), g[0], 0.0), as)};
  });
}

Tensor where(const Tensor& cond, Scalar a, const Tensor& b) {
  Tensor y = kiln::where(cond, a, b);
  if (!any_requires_grad({&b})) return y;
  SavedTensor sc(cond, "where");
  Shape bs = b.shape();
  return record("where", {b}, y, [sc, bs](const Grads& g) -> std::vector<Tensor> {
    return {sum_to(kiln::where(sc.get(), 0.0, g[0]), bs)};
  });
}

}  // namespace kiln::ag
