// Differentiable views and copies. Each forward is the Tensor member itself, so a view stays a
// view (sharing storage) and a bad argument is reported by the member, word for word. Backward
// closures keep only shapes and a few integers: no view needs its input's values.
#include "kiln/autograd/view.h"

#include "kiln/autograd/sum_to.h"
#include "kiln/tensor/creation.h"

namespace kiln::ag {
namespace {

// The gradient of a reshaping view (view, reshape, squeeze, unsqueeze, flatten, unflatten):
// the same elements in x's shape. reshape copies when dy is not viewable (e.g. non-contiguous).
Tensor record_reshaping(const char* name, const Tensor& x, const Tensor& y) {
  Shape xs = x.shape();
  return record(name, {x}, y, [xs](const Grads& g) -> std::vector<Tensor> {
    return {g.needs[0] ? g[0].reshape(xs) : Tensor()};
  });
}

// The gradient of a view that picks a sub-block of x (narrow, slice, select): zeros of x's shape
// with dy written into the same sub-block, which `pick` re-creates on the zeros.
template <class Pick>
Tensor record_picking(const char* name, const Tensor& x, const Tensor& y, Pick pick) {
  Shape xs = x.shape();
  return record(name, {x}, y, [xs, pick](const Grads& g) -> std::vector<Tensor> {
    if (!g.needs[0]) return {Tensor()};
    Tensor dx = kiln::zeros(xs, g[0].dtype(), g[0].device());
    pick(dx).copy_(g[0]);
    return {dx};
  });
}

}  // namespace

Tensor view(const Tensor& x, const Shape& shape) {
  Tensor y = x.view(shape);
  if (!any_requires_grad({&x})) return y;
  return record_reshaping("view", x, y);
}

Tensor reshape(const Tensor& x, const Shape& shape) {
  Tensor y = x.reshape(shape);
  if (!any_requires_grad({&x})) return y;
  return record_reshaping("reshape", x, y);
}

Tensor permute(const Tensor& x, const Shape& dims) {
  Tensor y = x.permute(dims);
  if (!any_requires_grad({&x})) return y;
  // The member validated dims, so they wrap cleanly; the inverse permutation undoes it.
  Shape inv = Shape::filled(x.dim(), 0);
  for (int i = 0; i < dims.size(); ++i) inv[wrap_dim(dims[i], x.dim(), "permute")] = i;
  return record("permute", {x}, y, [inv](const Grads& g) -> std::vector<Tensor> {
    return {g.needs[0] ? g[0].permute(inv) : Tensor()};
  });
}

Tensor transpose(const Tensor& x, int64_t d0, int64_t d1) {
  Tensor y = x.transpose(d0, d1);
  if (!any_requires_grad({&x})) return y;
  return record("transpose", {x}, y, [d0, d1](const Grads& g) -> std::vector<Tensor> {
    return {g.needs[0] ? g[0].transpose(d0, d1) : Tensor()};
  });
}

Tensor t(const Tensor& x) {
  Tensor y = x.t();
  if (!any_requires_grad({&x})) return y;
  return record("t", {x}, y, [](const Grads& g) -> std::vector<Tensor> {
    return {g.needs[0] ? g[0].t() : Tensor()};
  });
}

Tensor expand(const Tensor& x, const Shape& shape) {
  Tensor y = x.expand(shape);
  if (!any_requires_grad({&x})) return y;
  Shape xs = x.shape();
  // Every element of x was read by each broadcast copy: their gradients add up.
  return record("expand", {x}, y, [xs](const Grads& g) -> std::vector<Tensor> {
    return {g.needs[0] ? sum_to(g[0], xs) : Tensor()};
  });
}

Tensor broadcast_to(const Tensor& x, const Shape& shape) {
  Tensor y = x.broadcast_to(shape);
  if (!any_requires_grad({&x})) return y;
  Shape xs = x.shape();
  return record("broadcast_to", {x}, y, [xs](const Grads& g) -> std::vector<Tensor> {
    return {g.needs[0] ? sum_to(g[0], xs) : Tensor()};
  });
}

Tensor squeeze(const Tensor& x) {
  Tensor y = x.squeeze();
  if (!any_requires_grad({&x})) return y;
  return record_reshaping("squeeze", x, y);
}

Tensor squeeze(const Tensor& x, int64_t dim) {
  Tensor y = x.squeeze(dim);
  if (!any_requires_grad({&x})) return y;
  return record_reshaping("squeeze", x, y);
}

Tensor unsqueeze(const Tensor& x, int64_t dim) {
  Tensor y = x.unsqueeze(dim);
  if (!any_requires_grad({&x})) return y;
  return record_reshaping("unsqueeze", x, y);
}

Tensor narrow(const Tensor& x, int64_t dim, int64_t start, int64_t length) {
  Tensor y = x.narrow(dim, start, length);
  if (!any_requires_grad({&x})) return y;
  return record_picking("narrow", x, y,
                        [dim, start, length](const Tensor& z) { return z.narrow(dim, start, length); });
}

Tensor slice(const Tensor& x, int64_t dim, int64_t start, int64_t end, int64_t step) {
  Tensor y = x.slice(dim, start, end, step);
  if (!any_requires_grad({&x})) return y;
  return record_picking("slice", x, y,
                        [dim, start, end, step](const Tensor& z) { return z.slice(dim, start, end, step); });
}

Tensor select(const Tensor& x, int64_t dim, int64_t index) {
  Tensor y = x.select(dim, index);
  if (!any_requires_grad({&x})) return y;
  return record_picking("select", x, y, [dim, index](const Tensor& z) { return z.select(dim, index); });
}

Tensor flatten(const Tensor& x, int64_t start_dim, int64_t end_dim) {
  Tensor y = x.flatten(start_dim, end_dim);
  if (!any_requires_grad({&x})) return y;
  return record_reshaping("flatten", x, y);
}

Tensor unflatten(const Tensor& x, int64_t dim, const Shape& sizes) {
  Tensor y = x.unflatten(dim, sizes);
  if (!any_requires_grad({&x})) return y;
  return record_reshaping("unflatten", x, y);
}

Tensor contiguous(const Tensor& x) {
  Tensor y = x.contiguous();
  if (!any_requires_grad({&x})) return y;
  return record("contiguous", {x}, y, [](const Grads& g) -> std::vector<Tensor> {
    return {g.needs[0] ? g[0] : Tensor()};
  });
}

Tensor clone(const Tensor& x) {
  Tensor y = x.clone();
  if (!any_requires_grad({&x})) return y;
  return record("clone", {x}, y, [](const Grads& g) -> std::vector<Tensor> {
    return {g.needs[0] ? g[0] : Tensor()};
  });
}

Tensor to(const Tensor& x, DType dtype) {
  Tensor y = x.to(dtype);
  if (!any_requires_grad({&x})) return y;
  // A cast to an integer dtype has no gradient; record() gives such an output no autograd meta.
  DType xd = x.dtype();
  return record("to", {x}, y, [xd](const Grads& g) -> std::vector<Tensor> {
    return {g.needs[0] ? g[0].to(xd) : Tensor()};
  });
}

Tensor to(const Tensor& x, Device device) {
  Tensor y = x.to(device);
  if (!any_requires_grad({&x})) return y;
  Device xd = x.device();
  return record("to", {x}, y, [xd](const Grads& g) -> std::vector<Tensor> {
    return {g.needs[0] ? g[0].to(xd) : Tensor()};
  });
}

}  // namespace kiln::ag
