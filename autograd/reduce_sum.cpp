// Differentiable sum, mean, prod, logsumexp, cumsum, cumprod.
#include "kiln/autograd/reduce.h"
#include "kiln/autograd/reduce_grad.h"
#include "kiln/tensor/creation.h"
#include "kiln/tensor/elementwise.h"
#include "kiln/tensor/shape_ops.h"

namespace kiln::ag {

using detail::as_keepdim;

Tensor sum(const Tensor& x, const Shape& dims, bool keepdim, std::optional<DType> dtype) {
  Tensor y = kiln::sum(x, dims, keepdim, dtype);
  if (!any_requires_grad({&x})) return y;
  Shape xs = x.shape();
  return record("sum", {x}, y, [xs, dims](const Grads& g) -> std::vector<Tensor> {
    return {as_keepdim(g[0], xs, dims, "sum").expand(xs).contiguous()};
  });
}

Tensor mean(const Tensor& x, const Shape& dims, bool keepdim, std::optional<DType> dtype) {
  Tensor y = kiln::mean(x, dims, keepdim, dtype);
  if (!any_requires_grad({&x})) return y;
  Shape xs = x.shape();
  const double n = double(detail::reduced_count(xs, dims, "mean"));
  return record("mean", {x}, y, [xs, dims, n](const Grads& g) -> std::vector<Tensor> {
    return {kiln::div(as_keepdim(g[0], xs, dims, "mean").expand(xs), n)};
  });
}

// d prod / d x_i is the product of the other elements of its slice. Dividing y by x_i is wrong
// when the slice has zeros, so: with no zero it is prod(nonzero) / x_i; with exactly one zero,
// the zero element gets prod(nonzero) and the others 0; with two or more zeros every element
// gets 0.
Tensor prod(const Tensor& x, const Shape& dims, bool keepdim, std::optional<DType> dtype) {
  Tensor y = kiln::prod(x, dims, keepdim, dtype);
  if (!any_requires_grad({&x})) return y;
  SavedTensor sx(x, "prod");
  Shape xs = x.shape();
  return record("prod", {x}, y, [sx, xs, dims](const Grads& g) -> std::vector<Tensor> {
    Tensor xv = sx.get();
    Tensor is0 = kiln::eq(xv, 0.0);
    Tensor nonzero = kiln::where(is0, 1.0, xv);
    Tensor p_nz = kiln::prod(nonzero, dims, /*keepdim=*/true);
    Tensor zeros = kiln::sum(is0, dims, /*keepdim=*/true);
    Tensor one_zero_here = kiln::logical_and(kiln::eq(zeros, 1), is0);
    Tensor d = kiln::where(kiln::eq(zeros, 0), kiln::div(p_nz, nonzero), kiln::where(one_zero_here, p_nz, 0.0));
    return {kiln::mul(d, as_keepdim(g[0], xs, dims, "prod"))};
  });
}

Tensor logsumexp(const Tensor& x, const Shape& dims, bool keepdim) {
  // d/dx_i log sum exp x = exp(x_i - y): the softmax over the reduced dims.
  Tensor y = kiln::logsumexp(x, dims, keepdim);
  if (!any_requires_grad({&x})) return y;
  SavedTensor sx(x, "logsumexp"), sy(y, "logsumexp");
  Shape xs = x.shape();
  return record("logsumexp", {x}, y, [sx, sy, xs, dims](const Grads& g) -> std::vector<Tensor> {
    Tensor soft = kiln::exp(kiln::sub(sx.get(), as_keepdim(sy.get(), xs, dims, "logsumexp")));
    return {kiln::mul(soft, as_keepdim(g[0], xs, dims, "logsumexp"))};
  });
}

namespace {

// sum_{j >= i} t_j along dim: the adjoint of an inclusive cumulative sum.
Tensor reverse_cumsum(const Tensor& t, int64_t dim) {
  if (t.dim() == 0) return t;
  return kiln::flip(kiln::cumsum(kiln::flip(t, {dim}), dim), {dim});
}

}  // namespace

Tensor cumsum(const Tensor& x, int64_t dim, std::optional<DType> dtype) {
  Tensor y = kiln::cumsum(x, dim, dtype);
  if (!any_requires_grad({&x})) return y;
  return record("cumsum", {x}, y, [dim](const Grads& g) -> std::vector<Tensor> { return {reverse_cumsum(g[0], dim)}; });
}

// dx_i = sum_{j >= i} g_j prod_{k <= j, k != i} x_k. With z the position of the first zero of
// the slice (n when there is none):
// - i < z: x_i != 0, so the inner product is y_j / x_i (0 for j >= z, as y_j is), and
//   dx_i = (sum_{j >= i} g_j y_j) / x_i;
// - i = z: the inner product is y'_j, the cumulative product with x_z replaced by 1, so
//   dx_z = sum_{j >= z} g_j y'_j;
// - i > z: every inner product contains x_z = 0, so dx_i = 0.
// Slices without zeros take the first formula only.
Tensor cumprod(const Tensor& x, int64_t dim, std::optional<DType> dtype) {
  Tensor y = kiln::cumprod(x, dim, dtype);
  if (!any_requires_grad({&x})) return y;
  if (x.dim() == 0) return record("cumprod", {x}, y, [](const Grads& g) -> std::vector<Tensor> { return {g[0]}; });
  SavedTensor sx(x, "cumprod"), sy(y, "cumprod");
  return record("cumprod", {x}, y, [sx, sy, dim, dtype](const Grads& g) -> std::vector<Tensor> {
    Tensor xv = sx.get();
    Tensor from_y = reverse_cumsum(kiln::mul(g[0], sy.get()), dim);
    Tensor is0 = kiln::eq(xv, 0.0);
    if (!kiln::any(is0).item<bool>()) return {kiln::div(from_y, xv)};
    Tensor zeros_so_far = kiln::cumsum(is0, dim);  // i64
    Tensor before = kiln::eq(zeros_so_far, 0);
    Tensor first_zero = kiln::logical_and(is0, kiln::eq(zeros_so_far, 1));
    Tensor y1 = kiln::cumprod(kiln::where(first_zero, 1.0, xv), dim, dtype);
    Tensor at_zero = reverse_cumsum(kiln::mul(g[0], y1), dim);
    Tensor safe_x = kiln::where(before, xv, 1.0);
    return {kiln::where(before, kiln::div(from_y, safe_x), kiln::where(first_zero, at_zero, 0.0))};
  });
}

}  // namespace kiln::ag
