// Differentiable var, std, var_mean and norm.
#include <cmath>

#include "kiln/autograd/reduce.h"
#include "kiln/autograd/reduce_grad.h"
#include "kiln/tensor/creation.h"
#include "kiln/tensor/elementwise.h"

namespace kiln::ag {

using detail::as_keepdim;

namespace {

// d var / d x_i = 2 (x_i - mean) / (N - correction), as a full-shape tensor (before g).
Tensor var_slope(const Tensor& x, const Shape& dims, double correction, const char* op) {
  const double n = double(detail::reduced_count(x.shape(), dims, op));
  Tensor centred = kiln::sub(x, kiln::mean(x, dims, /*keepdim=*/true));
  return kiln::mul(centred, 2.0 / (n - correction));
}

}  // namespace

Tensor var(const Tensor& x, const Shape& dims, double correction, bool keepdim) {
  Tensor y = kiln::var(x, dims, correction, keepdim);
  if (!any_requires_grad({&x})) return y;
  SavedTensor sx(x, "var");
  return record("var", {x}, y, [sx, dims, correction](const Grads& g) -> std::vector<Tensor> {
    Tensor xv = sx.get();
    return {kiln::mul(var_slope(xv, dims, correction, "var"), as_keepdim(g[0], xv.shape(), dims, "var"))};
  });
}

// d std = d var / (2 std); 0 where std == 0 (a constant slice), as PyTorch.
Tensor std(const Tensor& x, const Shape& dims, double correction, bool keepdim) {
  Tensor y = kiln::std(x, dims, correction, keepdim);
  if (!any_requires_grad({&x})) return y;
  SavedTensor sx(x, "std"), sy(y, "std");
  return record("std", {x}, y, [sx, sy, dims, correction](const Grads& g) -> std::vector<Tensor> {
    Tensor xv = sx.get();
    Tensor yk = as_keepdim(sy.get(), xv.shape(), dims, "std");
    Tensor gk = as_keepdim(g[0], xv.shape(), dims, "std");
    Tensor scale = kiln::where(kiln::eq(yk, 0.0), 0.0, kiln::div(gk, kiln::mul(yk, 2.0)));
    return {kiln::mul(var_slope(xv, dims, correction, "std"), scale)};
  });
}

VarMean var_mean(const Tensor& x, const Shape& dims, double correction, bool keepdim) {
  VarMean r = kiln::var_mean(x, dims, correction, keepdim);
  if (!any_requires_grad({&x})) return r;
  SavedTensor sx(x, "var_mean");
  auto outs = record("var_mean", {x}, {r.var, r.mean}, [sx, dims, correction](const Grads& g) -> std::vector<Tensor> {
    Tensor xv = sx.get();
    const Shape& xs = xv.shape();
    const double n = double(detail::reduced_count(xs, dims, "var_mean"));
    Tensor dv = kiln::mul(var_slope(xv, dims, correction, "var_mean"), as_keepdim(g[0], xs, dims, "var_mean"));
    return {kiln::add(dv, kiln::div(as_keepdim(g[1], xs, dims, "var_mean"), n))};
  });
  return {outs[0], outs[1]};
}

// p = 2: x / ||x|| (0 for a zero norm); p = 1: sign(x); p = inf: sign(x) split among the ties of
// max |x|; other p: sign(x) |x|^(p-1) / ||x||^(p-1) (0 where x or the norm is 0).
Tensor norm(const Tensor& x, double p, const Shape& dims, bool keepdim) {
  Tensor y = kiln::norm(x, p, dims, keepdim);
  if (!any_requires_grad({&x})) return y;
  SavedTensor sx(x, "norm"), sy(y, "norm");
  return record("norm", {x}, y, [sx, sy, p, dims](const Grads& g) -> std::vector<Tensor> {
    Tensor xv = sx.get();
    const Shape& xs = xv.shape();
    Tensor yk = as_keepdim(sy.get(), xs, dims, "norm");
    Tensor gk = as_keepdim(g[0], xs, dims, "norm");
    if (p == 1) return {kiln::mul(kiln::sign(xv), gk)};
    if (p == 2) return {kiln::mul(xv, kiln::where(kiln::eq(yk, 0.0), 0.0, kiln::div(gk, yk)))};
    if (std::isinf(p)) {
      Tensor hit = kiln::eq(kiln::abs(xv), yk);
      Tensor count = kiln::sum(hit, dims, /*keepdim=*/true);
      return {kiln::where(hit, kiln::mul(kiln::sign(xv), kiln::div(gk, count)), 0.0)};
    }
    Tensor scale = kiln::where(kiln::eq(yk, 0.0), 0.0, kiln::div(gk, kiln::pow(yk, p - 1)));
    Tensor d = kiln::mul(kiln::sign(xv), kiln::pow(kiln::abs(xv), p - 1));
    return {kiln::where(kiln::eq(xv, 0.0), 0.0, kiln::mul(d, scale))};
  });
}

}  // namespace kiln::ag
