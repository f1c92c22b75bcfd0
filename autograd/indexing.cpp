// Differentiable indexing ops. Index tensors and masks are kept as SavedTensor (an in-place change
// of an index between forward and backward is caught) and never get a gradient. Each gradient is
// the adjoint indexing op: a read (select, gather, index) scatters back by adding, so repeated
// indices accumulate; a write (scatter, index_put) passes dy through with the overwritten
// positions zeroed and gives the written values dy read back at their positions.
#include "kiln/autograd/indexing.h"

#include "kiln/autograd/sum_to.h"
#include "kiln/tensor/creation.h"
#include "kiln/tensor/elementwise.h"

namespace kiln::ag {
namespace {

Tensor zeros_as(const Shape& shape, const Tensor& like) { return kiln::zeros(shape, like.dtype(), like.device()); }

// g placed at the start of a zero tensor of `shape` (g.shape <= shape in every dim). scatter and
// scatter_add read only the leading index.shape block of src; the rest of src gets no gradient.
Tensor embed(const Tensor& g, const Shape& shape) {
  if (g.shape() == shape) return g;
  Tensor z = zeros_as(shape, g);
  Tensor dst = z;
  for (int d = 0; d < g.dim(); ++d) dst = dst.narrow(d, 0, g.size(d));
  dst.copy_(g);
  return z;
}

}  // namespace

Tensor index_select(const Tensor& x, int64_t dim, const Tensor& index) {
  Tensor y = kiln::index_select(x, dim, index);
  if (!any_requires_grad({&x})) return y;
  SavedTensor si(index, "index_select");
  Shape xs = x.shape();
  return record("index_select", {x, index}, y, [si, xs, dim](const Grads& g) -> std::vector<Tensor> {
    if (!g.needs[0]) return {Tensor(), Tensor()};
    return {kiln::index_add(zeros_as(xs, g[0]), dim, si.get(), g[0]), Tensor()};
  });
}

Tensor gather(const Tensor& x, int64_t dim, const Tensor& index) {
  Tensor y = kiln::gather(x, dim, index);
  if (!any_requires_grad({&x})) return y;
  SavedTensor si(index, "gather");
  Shape xs = x.shape();
  return record("gather", {x, index}, y, [si, xs, dim](const Grads& g) -> std::vector<Tensor> {
    if (!g.needs[0]) return {Tensor(), Tensor()};
    return {kiln::scatter_add(zeros_as(xs, g[0]), dim, si.get(), g[0]), Tensor()};
  });
}

Tensor take_along_dim(const Tensor& x, const Tensor& index, int64_t dim) {
  Tensor y = kiln::take_along_dim(x, index, dim);
  if (!any_requires_grad({&x})) return y;
  SavedTensor si(index, "take_along_dim");
  Shape xs = x.shape();
  return record("take_along_dim", {x, index}, y, [si, xs, dim](const Grads& g) -> std::vector<Tensor> {
    if (!g.needs[0]) return {Tensor(), Tensor()};
    Tensor index = si.get();
    if (xs.empty()) return {kiln::scatter_add(zeros_as(xs, g[0]), 0, index, g[0]), Tensor()};
    // The forward gathered from x broadcast against index (all dims but `dim`): scatter into the
    // broadcast shape, then sum the broadcast copies back onto x.
    const int d = wrap_dim(dim, xs.size(), "take_along_dim");
    Shape xb = g[0].shape(), ib = g[0].shape();
    xb[d] = xs[d];
    ib[d] = index.size(d);
    Tensor dxb = kiln::scatter_add(zeros_as(xb, g[0]), d, index.expand(ib), g[0]);
    return {sum_to(dxb, xs), Tensor()};
  });
}

Tensor scatter(const Tensor& x, int64_t dim, const Tensor& index, const Tensor& src) {
  Tensor y = kiln::scatter(x, dim, index, src);
  if (!any_requires_grad({&x, &src})) return y;
  SavedTensor si(index, "scatter");
  Shape ss = src.shape();
  return record("scatter", {x, index, src}, y, [si, ss, dim](const Grads& g) -> std::vector<Tensor> {
    Tensor index = si.get();
    // With repeated indices only the last write survives; the gradient to src follows PyTorch
    // and reads dy at every written position regardless.
    return {g.needs[0] ? kiln::scatter(g[0], dim, index, Scalar(0.0)) : Tensor(), Tensor(),
            g.needs[2] ? embed(kiln::gather(g[0], dim, index), ss) : Tensor()};
  });
}

Tensor scatter(const Tensor& x, int64_t dim, const Tensor& index, Scalar value) {
  Tensor y = kiln::scatter(x, dim, index, value);
  if (!any_requires_grad({&x})) return y;
  SavedTensor si(index, "scatter");
  return record("scatter", {x, index}, y, [si, dim](const Grads& g) -> std::vector<Tensor> {
    return {g.needs[0] ? kiln::scatter(g[0], dim, si.get(), Scalar(0.0)) : Tensor(), Tensor()};
  });
}

Tensor scatter_add(const Tensor& x, int64_t dim, const Tensor& index, const Tensor& src) {
  Tensor y = kiln::scatter_add(x, dim, index, src);
  if (!any_requires_grad({&x, &src})) return y;
  SavedTensor si(index, "scatter_add");
  Shape ss = src.shape();
  return record("scatter_add", {x, index, src}, y, [si, ss, dim](const Grads& g) -> std::vector<Tensor> {
    return {g.needs[0] ? g[0] : Tensor(), Tensor(),
            g.needs[2] ? embed(kiln::gather(g[0], dim, si.get()), ss) : Tensor()};
  });
}

Tensor masked_fill(const Tensor& x, const Tensor& mask, Scalar value) {
  Tensor y = kiln::masked_fill(x, mask, value);
  if (!any_requires_grad({&x})) return y;
  SavedTensor sm(mask, "masked_fill");
  Shape xs = x.shape();
  return record("masked_fill", {x, mask}, y, [sm, xs](const Grads& g) -> std::vector<Tensor> {
    if (!g.needs[0]) return {Tensor(), Tensor()};
    return {sum_to(kiln::masked_fill(g[0], sm.get(), Scalar(0.0)), xs), Tensor()};
  });
}

Tensor masked_select(const Tensor& x, const Tensor& mask) {
  Tensor y = kiln::masked_select(x, mask);
  if (!any_requires_grad({&x})) return y;
  SavedTensor sm(mask, "masked_select");
  Shape xs = x.shape();
  Shape b = broadcast_shapes(x.shape(), mask.shape(), "masked_select");
  return record("masked_select", {x, mask}, y, [sm, xs, b](const Grads& g) -> std::vector<Tensor> {
    if (!g.needs[0]) return {Tensor(), Tensor()};
    // A bool mask in index_put stands for its true positions, in the same row-major order.
    Tensor dxb = kiln::index_put(zeros_as(b, g[0]), {sm.get().expand(b)}, g[0], /*accumulate=*/false);
    return {sum_to(dxb, xs), Tensor()};
  });
}

Tensor index_add(const Tensor& x, int64_t dim, const Tensor& index, const Tensor& src, Scalar alpha) {
  Tensor y = kiln::index_add(x, dim, index, src, alpha);
  if (!any_requires_grad({&x, &src})) return y;
  SavedTensor si(index, "index_add");
  return record("index_add", {x, index, src}, y, [si, dim, alpha](const Grads& g) -> std::vector<Tensor> {
    Tensor ds;
    if (g.needs[2]) ds = kiln::mul(kiln::index_select(g[0], dim, si.get()), alpha);
    return {g.needs[0] ? g[0] : Tensor(), Tensor(), ds};
  });
}

Tensor index(const Tensor& x, const std::vector<Tensor>& indices) {
  Tensor y = kiln::index(x, indices);
  if (!any_requires_grad({&x})) return y;
  std::vector<SavedTensor> si;
  for (const Tensor& i : indices) si.emplace_back(i, "index");
  Shape xs = x.shape();
  std::vector<Tensor> inputs{x};
  return record("index", inputs, y, [si, xs](const Grads& g) -> std::vector<Tensor> {
    if (!g.needs[0]) return {Tensor()};
    std::vector<Tensor> idx;
    for (auto& s : si) idx.push_back(s.get());
    return {kiln::index_put(zeros_as(xs, g[0]), idx, g[0], /*accumulate=*/true)};
  });
}

Tensor index_put(const Tensor& x, const std::vector<Tensor>& indices, const Tensor& values, bool accumulate) {
  Tensor y = kiln::index_put(x, indices, values, accumulate);
  if (!any_requires_grad({&x, &values})) return y;
  std::vector<SavedTensor> si;
  for (const Tensor& i : indices) si.emplace_back(i, "index_put");
  Shape vs = values.shape();
  return record("index_put", {x, values}, y, [si, vs, accumulate](const Grads& g) -> std::vector<Tensor> {
    std::vector<Tensor> idx;
    for (auto& s : si) idx.push_back(s.get());
    Tensor dx, dv;
    if (g.needs[0])
      dx = accumulate ? g[0] : kiln::index_put(g[0], idx, kiln::zeros({}, g[0].dtype(), g[0].device()), false);
    if (g.needs[1]) dv = sum_to(kiln::index(g[0], idx), vs);
    return {dx, dv};
  });
}

}  // namespace kiln::ag
