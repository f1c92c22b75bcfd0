// Matrix products. For y = a b the vector-Jacobian products are da = dy b^T and db = a^T dy; the
// transposes are raw views (the GEMM reads them through its transpose flags, no copy).
#include "kiln/autograd/linalg.h"

#include "kiln/autograd/sum_to.h"
#include "kiln/kernels/error.h"
#include "kiln/tensor/creation.h"
#include "kiln/tensor/elementwise.h"
#include "kiln/tensor/reduce.h"

namespace kiln::ag {

Tensor mm(const Tensor& a, const Tensor& b) {
  Tensor y = kiln::mm(a, b);
  if (!any_requires_grad({&a, &b})) return y;
  SavedTensor sa(a, "mm"), sb(b, "mm");
  return record("mm", {a, b}, y, [sa, sb](const Grads& g) -> std::vector<Tensor> {
    return {g.needs[0] ? kiln::mm(g[0], sb.get().t()) : Tensor(), g.needs[1] ? kiln::mm(sa.get().t(), g[0]) : Tensor()};
  });
}

Tensor bmm(const Tensor& a, const Tensor& b) {
  Tensor y = kiln::bmm(a, b);
  if (!any_requires_grad({&a, &b})) return y;
  SavedTensor sa(a, "bmm"), sb(b, "bmm");
  return record("bmm", {a, b}, y, [sa, sb](const Grads& g) -> std::vector<Tensor> {
    return {g.needs[0] ? kiln::bmm(g[0], sb.get().transpose(1, 2)) : Tensor(),
            g.needs[1] ? kiln::bmm(sa.get().transpose(1, 2), g[0]) : Tensor()};
  });
}

Tensor matmul(const Tensor& a, const Tensor& b) {
  if (a.dim() == 1 && b.dim() == 1) return ag::dot(a, b);
  Tensor y = kiln::matmul(a, b);
  if (!any_requires_grad({&a, &b})) return y;
  // Promote 1-d operands to matrices as matmul does ([K] -> [1, K] on the left, [K, 1] on the
  // right); the gradient then follows the batched rule, with broadcast batch dims (and the
  // promoted dims) summed back by sum_to and reshape.
  const bool a_vec = a.dim() == 1, b_vec = b.dim() == 1;
  SavedTensor sa(a_vec ? a.unsqueeze(0) : a, "matmul"), sb(b_vec ? b.unsqueeze(-1) : b, "matmul");
  const Shape as = a.shape(), bs = b.shape();
  return record("matmul", {a, b}, y, [sa, sb, a_vec, b_vec, as, bs](const Grads& g) -> std::vector<Tensor> {
    Tensor g2 = g[0];
    if (a_vec) g2 = g2.unsqueeze(-2);
    if (b_vec) g2 = g2.unsqueeze(-1);
    Tensor a2 = sa.get(), b2 = sb.get();
    Tensor da, db;
    if (g.needs[0]) da = sum_to(kiln::matmul(g2, b2.transpose(-1, -2)), a2.shape()).reshape(as);
    if (g.needs[1]) db = sum_to(kiln::matmul(a2.transpose(-1, -2), g2), b2.shape()).reshape(bs);
    return {da, db};
  });
}

Tensor addmm(const Tensor& c, const Tensor& a, const Tensor& b, Scalar beta, Scalar alpha) {
  Tensor y = kiln::addmm(c, a, b, beta, alpha);
  if (!any_requires_grad({&c, &a, &b})) return y;
  SavedTensor sa(a, "addmm"), sb(b, "addmm");
  const Shape cs = c.shape();
  return record("addmm", {c, a, b}, y, [sa, sb, cs, beta, alpha](const Grads& g) -> std::vector<Tensor> {
    Tensor dc, da, db;
    // beta == 0 means c is not read: its gradient is exactly zero (no 0 * NaN).
    if (g.needs[0])
      dc = beta.to_double() == 0 ? kiln::zeros_like(sum_to(g[0], cs)) : sum_to(kiln::mul(g[0], beta), cs);
    if (g.needs[1]) da = kiln::mul(kiln::mm(g[0], sb.get().t()), alpha);
    if (g.needs[2]) db = kiln::mul(kiln::mm(sa.get().t(), g[0]), alpha);
    return {dc, da, db};
  });
}

Tensor outer(const Tensor& a, const Tensor& b) {
  Tensor y = kiln::outer(a, b);
  if (!any_requires_grad({&a, &b})) return y;
  SavedTensor sa(a, "outer"), sb(b, "outer");
  return record("outer", {a, b}, y, [sa, sb](const Grads& g) -> std::vector<Tensor> {
    // y[i, j] = a[i] b[j]: da = dy b, db = dy^T a, as matrix products with explicit column
    // vectors (no size inference, so empty a or b work).
    const int64_t N = g[0].size(0), M = g[0].size(1);
    return {g.needs[0] ? kiln::mm(g[0], sb.get().reshape({M, 1})).reshape({N}) : Tensor(),
            g.needs[1] ? kiln::mm(g[0].t(), sa.get().reshape({N, 1})).reshape({M}) : Tensor()};
  });
}

Tensor dot(const Tensor& a, const Tensor& b) {
  Tensor y = kiln::dot(a, b);
  if (!any_requires_grad({&a, &b})) return y;
  SavedTensor sa(a, "dot"), sb(b, "dot");
  return record("dot", {a, b}, y, [sa, sb](const Grads& g) -> std::vector<Tensor> {
    return {g.needs[0] ? kiln::mul(g[0], sb.get()) : Tensor(), g.needs[1] ? kiln::mul(g[0], sa.get()) : Tensor()};
  });
}

Tensor linear(const Tensor& x, const Tensor& w, const Tensor& bias) {
  KILN_CHECK(x.defined() && w.defined(), "linear: x and w must be defined");
  KILN_CHECK(w.dim() == 2, "linear: weight must be 2-d [out, in], got shape ", w.shape().str());
  KILN_CHECK(x.dim() >= 1 && x.size(-1) == w.size(1), "linear: x has shape ", x.shape().str(),
             " but weight expects ", w.size(1), " input features");
  const int64_t in = w.size(1), out = w.size(0);
  if (bias.defined())
    KILN_CHECK(bias.dim() == 1 && bias.size(0) == out, "linear: bias must have shape [", out, "], got ",
               bias.shape().str());
  // Fast path: every leading dim of x folds into the rows of one GEMM.
  int64_t rows = 1;  // the product of x's leading dims (not inferred: in may be 0)
  for (int d = 0; d + 1 < x.dim(); ++d) rows *= x.size(d);
  Tensor x2 = x.reshape({rows, in});
  Tensor y2 = bias.defined() ? kiln::addmm(bias, x2, w.t()) : kiln::mm(x2, w.t());
  Shape ys = x.shape();
  ys[ys.size() - 1] = out;
  Tensor y = y2.reshape(ys);
  if (!any_requires_grad({&x, &w, &bias})) return y;
  SavedTensor sx(x2, "linear"), sw(w, "linear");
  const Shape xs = x.shape();
  return record("linear", {x, w, bias}, y, [sx, sw, xs, rows, out](const Grads& g) -> std::vector<Tensor> {
    Tensor g2 = g[0].reshape({rows, out});
    return {g.needs[0] ? kiln::mm(g2, sw.get()).reshape(xs) : Tensor(),
            g.needs[1] ? kiln::mm(g2.t(), sx.get()) : Tensor(),
            g.needs[2] ? kiln::sum(g2, {0}) : Tensor()};
  });
}

}  // namespace kiln::ag
