// Differentiable amax, amin, max, min (over all elements or one dim).
#include "kiln/autograd/reduce.h"
#include "kiln/autograd/reduce_grad.h"
#include "kiln/tensor/creation.h"
#include "kiln/tensor/elementwise.h"
#include "kiln/tensor/indexing.h"

namespace kiln::ag {

using detail::as_keepdim;

namespace {

// The gradient of an extreme over dims: split evenly among the elements equal to it (ties), as
// PyTorch does for amax / amin and the all-elements max / min.
Tensor extreme(const char* name, const Tensor& x, const Tensor& y, const Shape& dims) {
  if (!any_requires_grad({&x})) return y;
  SavedTensor sx(x, name), sy(y, name);
  Shape xs = x.shape();
  return record(name, {x}, y, [sx, sy, xs, dims, name](const Grads& g) -> std::vector<Tensor> {
    Tensor hit = kiln::eq(sx.get(), as_keepdim(sy.get(), xs, dims, name));
    Tensor count = kiln::sum(hit, dims, /*keepdim=*/true);
    Tensor share = kiln::div(as_keepdim(g[0], xs, dims, name), count);
    return {kiln::where(hit, share, 0.0)};
  });
}

// max / min over one dim: the gradient goes to the returned index only.
ValuesIndices extreme_dim(const char* name, const Tensor& x, ValuesIndices r, int64_t dim, bool keepdim) {
  if (!any_requires_grad({&x})) return r;
  Shape xs = x.shape();
  SavedTensor si(r.indices, name);
  r.values = record(name, {x}, r.values, [si, xs, dim, keepdim, name](const Grads& g) -> std::vector<Tensor> {
    if (xs.size() == 0) return {g[0]};
    const int64_t d = dim < 0 ? dim + xs.size() : dim;
    Tensor gk = keepdim ? g[0] : g[0].unsqueeze(d);
    Tensor ik = keepdim ? si.get() : si.get().unsqueeze(d);
    return {kiln::scatter(kiln::zeros(xs, g[0].dtype(), g[0].device()), d, ik, gk)};
  });
  return r;
}

}  // namespace

Tensor amax(const Tensor& x, const Shape& dims, bool keepdim) {
  return extreme("amax", x, kiln::amax(x, dims, keepdim), dims);
}
Tensor amin(const Tensor& x, const Shape& dims, bool keepdim) {
  return extreme("amin", x, kiln::amin(x, dims, keepdim), dims);
}
Tensor max(const Tensor& x) { return extreme("max", x, kiln::max(x), {}); }
Tensor min(const Tensor& x) { return extreme("min", x, kiln::min(x), {}); }

ValuesIndices max(const Tensor& x, int64_t dim, bool keepdim) {
  return extreme_dim("max", x, kiln::max(x, dim, keepdim), dim, keepdim);
}
ValuesIndices min(const Tensor& x, int64_t dim, bool keepdim) {
  return extreme_dim("min", x, kiln::min(x, dim, keepdim), dim, keepdim);
}

}  // namespace kiln::ag
