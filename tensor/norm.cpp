#include "kiln/tensor/norm.h"

#include <cmath>
#include <vector>

#include "kiln/kernels/cpu/norm.h"
#include "kiln/tensor/creation.h"
#include "kiln/tensor/nn_support.h"

#if KILN_HAVE_CUDA
#include "kiln/kernels/cuda/norm.h"
#include "kiln/kernels/cuda/runtime.h"
#endif

namespace kiln {
namespace {

// Checks an optional per-channel tensor: absent, or floating with `n` elements in one dim.
void check_param(const Tensor& t, int64_t n, const char* op, const char* arg, const Tensor& x) {
  if (!t.defined()) return;
  KILN_CHECK(is_floating(t.dtype()), op, ": ", arg, " must be floating, got dtype ", dtype_name(t.dtype()));
  KILN_CHECK(t.dim() == 1 && t.size(0) == n, op, ": ", arg, " has shape ", t.shape(), ", expected [", n,
             "] (the number of channels)");
  check_same_device(t, x, op);
}

std::vector<double> values_or(const Tensor& t, int64_t n, double v) {
  return t.defined() ? t.to_vector<double>() : std::vector<double>(size_t(n), v);
}

Tensor vector_tensor(const std::vector<double>& v, DType dtype) {
  return from_vector(v, Shape{int64_t(v.size())}).to(dtype);
}

#if KILN_HAVE_CUDA
const void* ptr_or_null(const Tensor& t) { return t.defined() ? t.data_ptr() : nullptr; }
void* mut_ptr_or_null(const Tensor& t) { return t.defined() ? t.data_ptr() : nullptr; }

// The dtype the CUDA kernels read dy and x in: their common dtype, or the compute dtype when they
// differ (the kernels take one data dtype; parameters and statistics are in the compute dtype).
DType data_dtype(const Tensor& dy, const Tensor& x) {
  return dy.dtype() == x.dtype() ? x.dtype() : nn_detail::compute_dtype(x.dtype());
}
#endif

// A statistic as the compute dtype stores it (save_mean / save_invstd): the forward's coefficients
// are formed from these values so that the backward can recompute the same pre-activation values.
double as_stored(double v, DType cd) { return cd == DType::f32 ? double(float(v)) : v; }

void check_act(const char* op, BnActivation act, double slope) {
  KILN_CHECK(act == BnActivation::none || act == BnActivation::relu || act == BnActivation::leaky_relu, op,
             ": activation ", bn_activation_name(act), " is not supported (none, relu or leaky_relu)");
  KILN_CHECK(std::isfinite(slope), op, ": slope must be finite, got ", slope);
}

// x as [N, C, S].
void nchs(const Shape& s, int64_t& N, int64_t& C, int64_t& S) {
  N = s[0];
  C = s[1];
  S = 1;
  for (int d = 2; d < s.size(); ++d) S *= s[d];
}

}  // namespace

BatchNormResult batch_norm_forward(const Tensor& x, const Tensor& weight, const Tensor& bias,
                                   const Tensor& running_mean, const Tensor& running_var, bool training,
                                   double momentum, double eps, BnActivation act, double slope) {
  const char* op = "batch_norm_forward";
  nn_detail::check_float(x, op, "x");
  check_act(op, act, slope);
  KILN_CHECK(x.dim() >= 2, op, ": input must have at least 2 dims [N, C, ...], got shape ", x.shape());
  int64_t N, C, S;
  nchs(x.shape(), N, C, S);
  check_param(weight, C, op, "weight", x);
  check_param(bias, C, op, "bias", x);
  check_param(running_mean, C, op, "running_mean", x);
  check_param(running_var, C, op, "running_var", x);
  KILN_CHECK(eps >= 0, op, ": eps must be non-negative, got ", eps);
  KILN_CHECK(running_mean.defined() == running_var.defined(), op,
             ": running_mean and running_var must be given together");
  if (training) {
    KILN_CHECK(N * S > 1, op, ": expected more than 1 value per channel when training, got input shape ",
               x.shape());
  } else {
    KILN_CHECK(running_mean.defined(), op, ": running_mean and running_var are required in eval mode");
  }
  switch (x.device().type) {
    case DeviceType::CPU: {
      Tensor xc = nn_detail::to_compute(x);
      const DType cd = xc.dtype();
      std::vector<double> mean(static_cast<size_t>(C)), var(static_cast<size_t>(C)), invstd(static_cast<size_t>(C));
      if (training) {
        cpu::batch_norm_stats(cd, xc.data_ptr(), N, C, S, mean.data(), var.data());
        if (running_mean.defined()) {
          // Update in place (through a copy when the buffers are not contiguous f64 host memory).
          std::vector<double> rm = running_mean.to_vector<double>(), rv = running_var.to_vector<double>();
          const double M = double(N) * double(S);
          for (int64_t c = 0; c < C; ++c) {
            rm[size_t(c)] = (1 - momentum) * rm[size_t(c)] + momentum * mean[size_t(c)];
            rv[size_t(c)] = (1 - momentum) * rv[size_t(c)] + momentum * var[size_t(c)] * M / (M - 1);
          }
          Tensor rm_t = running_mean, rv_t = running_var;
          rm_t.copy_(vector_tensor(rm, DType::f64));
          rv_t.copy_(vector_tensor(rv, DType::f64));
        }
      } else {
        mean = running_mean.to_vector<double>();
        var = running_var.to_vector<double>();
      }
      const std::vector<double> w = values_or(weight, C, 1.0), b = values_or(bias, C, 0.0);
      std::vector<double> scale(static_cast<size_t>(C)), shift(static_cast<size_t>(C));
      for (int64_t c = 0; c < C; ++c) {
        mean[size_t(c)] = as_stored(mean[size_t(c)], cd);
        invstd[size_t(c)] = as_stored(1.0 / std::sqrt(var[size_t(c)] + eps), cd);
        scale[size_t(c)] = w[size_t(c)] * invstd[size_t(c)];
        shift[size_t(c)] = b[size_t(c)] - mean[size_t(c)] * scale[size_t(c)];
      }
      Tensor y = empty(x.shape(), cd);
      cpu::batch_norm_apply(cd, xc.data_ptr(), y.data_ptr(), N, C, S, scale.data(), shift.data(), act, slope);
      return {y.to(x.dtype()), vector_tensor(mean, cd), vector_tensor(invstd, cd)};
    }
    case DeviceType::CUDA: {
#if KILN_HAVE_CUDA
      const Device dev = x.device();
      const DType cd = nn_detail::compute_dtype(x.dtype());
      Tensor xc = x.contiguous();
      Tensor wc = weight.defined() ? nn_detail::contiguous_as(weight, cd) : Tensor();
      Tensor bc = bias.defined() ? nn_detail::contiguous_as(bias, cd) : Tensor();
      // The kernels update the running statistics in place in the compute dtype; a buffer of
      // another dtype or layout is updated through a copy.
      Tensor rm = running_mean.defined() ? nn_detail::contiguous_as(running_mean, cd) : Tensor();
      Tensor rv = running_var.defined() ? nn_detail::contiguous_as(running_var, cd) : Tensor();
      Tensor y = empty(x.shape(), x.dtype(), dev);
      Tensor save_mean = empty({C}, cd, dev), save_invstd = empty({C}, cd, dev);
      cuda::batch_norm_forward(x.dtype(), xc.data_ptr(), y.data_ptr(), ptr_or_null(wc), ptr_or_null(bc),
                               mut_ptr_or_null(rm), mut_ptr_or_null(rv), save_mean.data_ptr(), save_invstd.data_ptr(),
                               N, C, S, training, momentum, eps, act, slope, dev.index, cuda::prepare(dev.index));
      if (training && running_mean.defined()) {
        auto write_back = [](const Tensor& buf, const Tensor& upd) {
          if (upd.shares_storage(buf) && upd.data_ptr() == buf.data_ptr()) {
            buf.bump_version();  // the kernel updated the buffer itself
          } else {
            Tensor b = buf;
            b.copy_(upd);
          }
        };
        write_back(running_mean, rm);
        write_back(running_var, rv);
      }
      return {y, save_mean, save_invstd};
#endif
    }
      unsupported_device(op, x.device());
  }
  return {};
}

NormGrads batch_norm_backward(const Tensor& dy, const Tensor& x, const Tensor& weight, const Tensor& save_mean,
                              const Tensor& save_invstd, bool training, const Tensor& bias, BnActivation act,
                              double slope) {
  const char* op = "batch_norm_backward";
  nn_detail::check_float(dy, op, "dy");
  check_act(op, act, slope);
  nn_detail::check_float(x, op, "x");
  KILN_CHECK(x.dim() >= 2, op, ": input must have at least 2 dims [N, C, ...], got shape ", x.shape());
  KILN_CHECK(dy.shape() == x.shape(), op, ": dy has shape ", dy.shape(), " but x has shape ", x.shape());
  check_same_device(dy, x, op);
  int64_t N, C, S;
  nchs(x.shape(), N, C, S);
  check_param(weight, C, op, "weight", x);
  check_param(bias, C, op, "bias", x);
  check_defined(save_mean, op, "save_mean");
  check_defined(save_invstd, op, "save_invstd");
  check_param(save_mean, C, op, "save_mean", x);
  check_param(save_invstd, C, op, "save_invstd", x);
  switch (x.device().type) {
    case DeviceType::CPU: {
      const DType cd = nn_detail::compute_dtype(x.dtype());
      Tensor xc = nn_detail::to_compute(x), gc = dy.to(cd).contiguous();
      const std::vector<double> mean = save_mean.to_vector<double>(), invstd = save_invstd.to_vector<double>();
      const std::vector<double> w = values_or(weight, C, 1.0);
      std::vector<double> sum_dy(static_cast<size_t>(C)), sum_dy_xmu(static_cast<size_t>(C)), a(static_cast<size_t>(C)), b(static_cast<size_t>(C)), d(static_cast<size_t>(C));
      std::vector<double> dw(static_cast<size_t>(C));
      // The forward's coefficients, for the activation's derivative at z = x * scale + shift.
      std::vector<double> fscale, fshift;
      if (act != BnActivation::none) {
        const std::vector<double> bv = values_or(bias, C, 0.0);
        fscale.resize(size_t(C)), fshift.resize(size_t(C));
        for (size_t c = 0; c < size_t(C); ++c) fscale[c] = w[c] * invstd[c], fshift[c] = bv[c] - mean[c] * fscale[c];
      }
      const double* gs = fscale.empty() ? nullptr : fscale.data();
      const double* gh = fshift.empty() ? nullptr : fshift.data();
      cpu::batch_norm_backward_reduce(cd, gc.data_ptr(), xc.data_ptr(), N, C, S, mean.data(), sum_dy.data(),
                                      sum_dy_xmu.data(), act, slope, gs, gh);
      const double M = double(N) * double(S);
      for (size_t c = 0; c < size_t(C); ++c) {
        const double is = invstd[c];
        dw[c] = sum_dy_xmu[c] * is;
        a[c] = w[c] * is;
        if (training && M > 0) {
          // dx = w*is*(dy - mean(dy) - (x - mean) * is^2 * mean(dy * (x - mean))), expanded into
          // a*dy + b*x + d.
          b[c] = -w[c] * is * is * is * sum_dy_xmu[c] / M;
          d[c] = -w[c] * is * sum_dy[c] / M - b[c] * mean[c];
        } else {
          b[c] = 0;
          d[c] = 0;
        }
      }
      Tensor dx = empty(x.shape(), cd);
      cpu::batch_norm_backward_apply(cd, gc.data_ptr(), xc.data_ptr(), dx.data_ptr(), N, C, S, a.data(), b.data(),
                                     d.data(), act, slope, gs, gh);
      return {dx.to(x.dtype()), vector_tensor(dw, x.dtype()), vector_tensor(sum_dy, x.dtype())};
    }
    case DeviceType::CUDA: {
#if KILN_HAVE_CUDA
      const Device dev = x.device();
      const DType cd = nn_detail::compute_dtype(x.dtype()), kd = data_dtype(dy, x);
      Tensor xc = x.to(kd).contiguous(), gc = dy.to(kd).contiguous();
      Tensor wc = weight.defined() ? nn_detail::contiguous_as(weight, cd) : Tensor();
      Tensor bc = bias.defined() && act != BnActivation::none ? nn_detail::contiguous_as(bias, cd) : Tensor();
      Tensor mc = nn_detail::contiguous_as(save_mean, cd), ic = nn_detail::contiguous_as(save_invstd, cd);
      Tensor dx = empty(x.shape(), kd, dev), dw = empty({C}, cd, dev), db = empty({C}, cd, dev);
      cuda::batch_norm_backward(kd, gc.data_ptr(), xc.data_ptr(), ptr_or_null(wc), ptr_or_null(bc), mc.data_ptr(),
                                ic.data_ptr(), dx.data_ptr(), dw.data_ptr(), db.data_ptr(), N, C, S, training, act,
                                slope, dev.index,
                                cuda::prepare(dev.index));
      return {dx.to(x.dtype()), dw.to(x.dtype()), db.to(x.dtype())};
#endif
    }
      unsupported_device(op, x.device());
  }
  return {};
}

LayerNormResult layer_norm(const Tensor& x, const Shape& normalized_shape, const Tensor& weight, const Tensor& bias,
                           double eps) {
  const char* op = "layer_norm";
  nn_detail::check_float(x, op, "x");
  const int k = normalized_shape.size();
  KILN_CHECK(k >= 1, op, ": normalized_shape must not be empty");
  KILN_CHECK(x.dim() >= k, op, ": input of shape ", x.shape(), " has fewer dims than normalized_shape ",
             normalized_shape);
  for (int i = 0; i < k; ++i)
    KILN_CHECK(x.size(x.dim() - k + i) == normalized_shape[i], op, ": input of shape ", x.shape(),
               " does not end with normalized_shape ", normalized_shape);
  for (const Tensor* p : {&weight, &bias}) {
    if (!p->defined()) continue;
    const char* arg = p == &weight ? "weight" : "bias";
    KILN_CHECK(is_floating(p->dtype()), op, ": ", arg, " must be floating, got dtype ", dtype_name(p->dtype()));
    KILN_CHECK(p->shape() == normalized_shape, op, ": ", arg, " has shape ", p->shape(),
               ", expected normalized_shape ", normalized_shape);
    check_same_device(*p, x, op);
  }
  KILN_CHECK(eps >= 0, op, ": eps must be non-negative, got ", eps);
  const int64_t N = normalized_shape.numel();
  const int64_t M = N > 0 ? x.numel() / N : x.numel() == 0 ? 0 : 1;
  Shape stat_shape = x.shape();
  for (int i = x.dim() - k; i < x.dim(); ++i) stat_shape[i] = 1;
  switch (x.device().type) {
    case DeviceType::CPU: {
      Tensor xc = nn_detail::to_compute(x);
      const DType cd = xc.dtype();
      Tensor wc = weight.defined() ? nn_detail::contiguous_as(weight, cd) : Tensor();
      Tensor bc = bias.defined() ? nn_detail::contiguous_as(bias, cd) : Tensor();
      Tensor y = empty(x.shape(), cd), mean = empty(stat_shape, cd), rstd = empty(stat_shape, cd);
      cpu::layer_norm_forward(cd, xc.data_ptr(), wc.defined() ? wc.data_ptr() : nullptr,
                              bc.defined() ? bc.data_ptr() : nullptr, y.data_ptr(), mean.data_ptr(), rstd.data_ptr(),
                              N > 0 ? M : 0, N, eps);
      return {y.to(x.dtype()), mean, rstd};
    }
    case DeviceType::CUDA: {
#if KILN_HAVE_CUDA
      const Device dev = x.device();
      const DType cd = nn_detail::compute_dtype(x.dtype());
      Tensor xc = x.contiguous();
      Tensor wc = weight.defined() ? nn_detail::contiguous_as(weight, cd) : Tensor();
      Tensor bc = bias.defined() ? nn_detail::contiguous_as(bias, cd) : Tensor();
      Tensor y = empty(x.shape(), x.dtype(), dev), mean = empty(stat_shape, cd, dev), rstd = empty(stat_shape, cd, dev);
      cuda::layer_norm_forward(x.dtype(), xc.data_ptr(), ptr_or_null(wc), ptr_or_null(bc), y.data_ptr(),
                               mean.data_ptr(), rstd.data_ptr(), N > 0 ? M : 0, N, eps, dev.index,
                               cuda::prepare(dev.index));
      return {y, mean, rstd};
#endif
    }
      unsupported_device(op, x.device());
  }
  return {};
}

NormGrads layer_norm_backward(const Tensor& dy, const Tensor& x, const Tensor& mean, const Tensor& rstd,
                              const Tensor& weight) {
  const char* op = "layer_norm_backward";
  nn_detail::check_float(dy, op, "dy");
  nn_detail::check_float(x, op, "x");
  nn_detail::check_float(mean, op, "mean");
  nn_detail::check_float(rstd, op, "rstd");
  KILN_CHECK(dy.shape() == x.shape(), op, ": dy has shape ", dy.shape(), " but x has shape ", x.shape());
  KILN_CHECK(mean.numel() == rstd.numel(), op, ": mean has ", mean.numel(), " elements but rstd has ", rstd.numel());
  const int64_t M = mean.numel();
  KILN_CHECK((M == 0 && x.numel() == 0) || (M > 0 && x.numel() % M == 0), op, ": mean has ", M,
             " elements, which does not divide the input's ", x.numel());
  // The normalized dims: weight's shape when given, else the fewest trailing dims of x holding
  // numel / M elements.
  Shape pshape;
  int64_t N;
  if (weight.defined()) {
    pshape = weight.shape();
    N = weight.numel();
    KILN_CHECK(M * N == x.numel(), op, ": weight has ", N, " elements, but the input has ", x.numel(),
               " elements for ", M, " rows");
  } else {
    N = M > 0 ? x.numel() / M : (x.dim() > 0 ? x.size(-1) : 1);
    int64_t p = 1;
    int d = x.dim();
    while (d > 0 && (p != N || d == x.dim())) p *= x.size(--d);
    for (int i = d; i < x.dim(); ++i) pshape.push_back(x.size(i));
  }
  for (const Tensor* t : {&x, &mean, &rstd}) check_same_device(dy, *t, op);
  if (weight.defined()) check_same_device(dy, weight, op);
  switch (x.device().type) {
    case DeviceType::CPU: {
      const DType cd = nn_detail::compute_dtype(x.dtype());
      Tensor xc = nn_detail::to_compute(x), gc = dy.to(cd).contiguous();
      Tensor mc = nn_detail::contiguous_as(mean, cd), rc = nn_detail::contiguous_as(rstd, cd);
      Tensor wc = weight.defined() ? nn_detail::contiguous_as(weight, cd) : Tensor();
      Tensor dx = empty(x.shape(), cd), dw = zeros(pshape, cd), db = zeros(pshape, cd);
      if (M > 0 && N > 0)
        cpu::layer_norm_backward(cd, gc.data_ptr(), xc.data_ptr(), mc.data_ptr(), rc.data_ptr(),
                                 wc.defined() ? wc.data_ptr() : nullptr, dx.data_ptr(), dw.data_ptr(), db.data_ptr(), M,
                                 N);
      const DType pd = weight.defined() ? weight.dtype() : x.dtype();
      return {dx.to(x.dtype()), dw.to(pd), db.to(pd)};
    }
    case DeviceType::CUDA: {
#if KILN_HAVE_CUDA
      const Device dev = x.device();
      const DType cd = nn_detail::compute_dtype(x.dtype()), kd = data_dtype(dy, x);
      Tensor xc = x.to(kd).contiguous(), gc = dy.to(kd).contiguous();
      Tensor mc = nn_detail::contiguous_as(mean, cd), rc = nn_detail::contiguous_as(rstd, cd);
      Tensor wc = weight.defined() ? nn_detail::contiguous_as(weight, cd) : Tensor();
      Tensor dx = empty(x.shape(), kd, dev), dw = empty(pshape, cd, dev), db = empty(pshape, cd, dev);
      // M == 0 still writes dw = db = 0 (N > 0); N == 0 leaves nothing to write.
      cuda::layer_norm_backward(kd, gc.data_ptr(), xc.data_ptr(), mc.data_ptr(), rc.data_ptr(), ptr_or_null(wc),
                                dx.data_ptr(), dw.data_ptr(), db.data_ptr(), M, N, dev.index, cuda::prepare(dev.index));
      const DType pd = weight.defined() ? weight.dtype() : x.dtype();
      return {dx.to(x.dtype()), dw.to(pd), db.to(pd)};
#endif
    }
      unsupported_device(op, x.device());
  }
  return {};
}

namespace {
void check_groups(const Tensor& x, int64_t G, const char* op) {
  KILN_CHECK(x.dim() >= 2, op, ": input must have at least 2 dims [N, C, ...], got shape ", x.shape());
  KILN_CHECK(G > 0, op, ": num_groups must be positive, got ", G);
  KILN_CHECK(x.size(1) % G == 0, op, ": number of channels ", x.size(1), " is not divisible by num_groups ", G);
}
}  // namespace

GroupNormResult group_norm(const Tensor& x, int64_t num_groups, const Tensor& weight, const Tensor& bias, double eps) {
  const char* op = "group_norm";
  nn_detail::check_float(x, op, "x");
  check_groups(x, num_groups, op);
  int64_t N, C, S;
  nchs(x.shape(), N, C, S);
  check_param(weight, C, op, "weight", x);
  check_param(bias, C, op, "bias", x);
  KILN_CHECK(eps >= 0, op, ": eps must be non-negative, got ", eps);
  switch (x.device().type) {
    case DeviceType::CPU: {
      Tensor xc = nn_detail::to_compute(x);
      const DType cd = xc.dtype();
      Tensor wc = weight.defined() ? nn_detail::contiguous_as(weight, cd) : Tensor();
      Tensor bc = bias.defined() ? nn_detail::contiguous_as(bias, cd) : Tensor();
      Tensor y = empty(x.shape(), cd), mean = empty({N, num_groups}, cd), rstd = empty({N, num_groups}, cd);
      cpu::group_norm_forward(cd, xc.data_ptr(), wc.defined() ? wc.data_ptr() : nullptr,
                              bc.defined() ? bc.data_ptr() : nullptr, y.data_ptr(), mean.data_ptr(), rstd.data_ptr(), N,
                              C, S, num_groups, eps);
      return {y.to(x.dtype()), mean, rstd};
    }
    case DeviceType::CUDA: {
#if KILN_HAVE_CUDA
      const Device dev = x.device();
      const DType cd = nn_detail::compute_dtype(x.dtype());
      Tensor xc = x.contiguous();
      Tensor wc = weight.defined() ? nn_detail::contiguous_as(weight, cd) : Tensor();
      Tensor bc = bias.defined() ? nn_detail::contiguous_as(bias, cd) : Tensor();
      Tensor y = empty(x.shape(), x.dtype(), dev);
      Tensor mean = empty({N, num_groups}, cd, dev), rstd = empty({N, num_groups}, cd, dev);
      cuda::group_norm_forward(x.dtype(), xc.data_ptr(), ptr_or_null(wc), ptr_or_null(bc), y.data_ptr(),
                               mean.data_ptr(), rstd.data_ptr(), N, C, S, num_groups, eps, dev.index,
                               cuda::prepare(dev.index));
      return {y, mean, rstd};
#endif
    }
      unsupported_device(op, x.device());
  }
  return {};
}

NormGrads group_norm_backward(const Tensor& dy, const Tensor& x, const Tensor& mean, const Tensor& rstd,
                              int64_t num_groups, const Tensor& weight) {
  const char* op = "group_norm_backward";
  nn_detail::check_float(dy, op, "dy");
  nn_detail::check_float(x, op, "x");
  nn_detail::check_float(mean, op, "mean");
  nn_detail::check_float(rstd, op, "rstd");
  check_groups(x, num_groups, op);
  KILN_CHECK(dy.shape() == x.shape(), op, ": dy has shape ", dy.shape(), " but x has shape ", x.shape());
  int64_t N, C, S;
  nchs(x.shape(), N, C, S);
  check_param(weight, C, op, "weight", x);
  for (const Tensor* t : {&mean, &rstd})
    KILN_CHECK(t->numel() == N * num_groups, op, ": mean / rstd have ", t->numel(), " elements, expected N * G = ",
               N * num_groups);
  for (const Tensor* t : {&x, &mean, &rstd}) check_same_device(dy, *t, op);
  switch (x.device().type) {
    case DeviceType::CPU: {
      const DType cd = nn_detail::compute_dtype(x.dtype());
      Tensor xc = nn_detail::to_compute(x), gc = dy.to(cd).contiguous();
      Tensor mc = nn_detail::contiguous_as(mean, cd), rc = nn_detail::contiguous_as(rstd, cd);
      Tensor wc = weight.defined() ? nn_detail::contiguous_as(weight, cd) : Tensor();
      Tensor dx = empty(x.shape(), cd), dw = empty({C}, cd), db = empty({C}, cd);
      cpu::group_norm_backward(cd, gc.data_ptr(), xc.data_ptr(), mc.data_ptr(), rc.data_ptr(),
                               wc.defined() ? wc.data_ptr() : nullptr, dx.data_ptr(), dw.data_ptr(), db.data_ptr(), N, C,
                               S, num_groups);
      const DType pd = weight.defined() ? weight.dtype() : x.dtype();
      return {dx.to(x.dtype()), dw.to(pd), db.to(pd)};
    }
    case DeviceType::CUDA: {
#if KILN_HAVE_CUDA
      const Device dev = x.device();
      const DType cd = nn_detail::compute_dtype(x.dtype()), kd = data_dtype(dy, x);
      Tensor xc = x.to(kd).contiguous(), gc = dy.to(kd).contiguous();
      Tensor mc = nn_detail::contiguous_as(mean, cd), rc = nn_detail::contiguous_as(rstd, cd);
      Tensor wc = weight.defined() ? nn_detail::contiguous_as(weight, cd) : Tensor();
      Tensor dx = empty(x.shape(), kd, dev), dw = empty({C}, cd, dev), db = empty({C}, cd, dev);
      cuda::group_norm_backward(kd, gc.data_ptr(), xc.data_ptr(), mc.data_ptr(), rc.data_ptr(), ptr_or_null(wc),
                                dx.data_ptr(), dw.data_ptr(), db.data_ptr(), N, C, S, num_groups, dev.index,
                                cuda::prepare(dev.index));
      const DType pd = weight.defined() ? weight.dtype() : x.dtype();
      return {dx.to(x.dtype()), dw.to(pd), db.to(pd)};
#endif
    }
      unsupported_device(op, x.device());
  }
  return {};
}

}  // namespace kiln
