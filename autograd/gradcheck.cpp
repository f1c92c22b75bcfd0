#include "kiln/autograd/gradcheck.h"

#include <cmath>
#include <random>
#include <sstream>

#include "kiln/autograd/backward.h"
#include "kiln/autograd/grad_mode.h"
#include "kiln/autograd/node.h"
#include "kiln/kernels/error.h"
#include "kiln/tensor/ops.h"

namespace kiln::ag {
namespace {

// Sum of f(x) * v in float64, without recording.
double project(const Tensor& y, const Tensor& v) {
  if (y.numel() == 0) return 0.0;
  return kiln::sum(kiln::mul(y.to(DType::f64), v)).item<double>();
}

// Address of element `flat` (row-major over t's shape) of a CPU f64 tensor with any strides.
double* element(const Tensor& t, int64_t flat) {
  int64_t off = 0;
  for (int d = t.dim() - 1; d >= 0; --d) {
    const int64_t s = t.size(d);
    off += (flat % s) * t.stride(d);
    flat /= s;
  }
  return t.data<double>() + off;
}

}  // namespace

GradcheckResult gradcheck(const std::function<Tensor(const std::vector<Tensor>&)>& f,
                          const std::vector<Tensor>& inputs, const GradcheckOptions& opt) {
  GradcheckResult res;
  std::vector<size_t> checked;
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (!inputs[i].defined() || !requires_grad(inputs[i])) continue;
    KILN_CHECK(inputs[i].dtype() == DType::f64, "gradcheck: input ", i, " is ", dtype_name(inputs[i].dtype()),
               "; gradcheck needs float64 inputs");
    KILN_CHECK(inputs[i].device().is_cpu(), "gradcheck: inputs must be on the CPU");
    checked.push_back(i);
  }
  KILN_CHECK(!checked.empty(), "gradcheck: no input requires grad");

  Tensor y;
  {
    EnableGradGuard eg;
    y = f(inputs);
  }
  KILN_CHECK(y.defined() && y.is_floating_point(), "gradcheck: f must return a floating tensor");
  std::mt19937_64 rng(opt.seed + 12345);
  std::uniform_real_distribution<double> uni(-1.0, 1.0);
  std::vector<double> vv(size_t(y.numel()));
  for (auto& x : vv) x = uni(rng);
  Tensor v = kiln::from_vector(vv, y.shape());

  std::vector<Tensor> analytic(inputs.size());
  if (requires_grad(y)) {
    std::vector<Tensor> xs;
    for (size_t i : checked) xs.push_back(inputs[i]);
    auto g = ag::grad({y}, xs, {v.to(y.dtype())}, false, /*allow_unused=*/true);
    for (size_t k = 0; k < checked.size(); ++k) analytic[checked[k]] = g[k];
  }

  NoGradGuard ng;
  for (size_t i : checked) {
    const Tensor& x = inputs[i];
    Tensor a = analytic[i].defined() ? analytic[i].to(DType::f64).contiguous() : kiln::zeros(x.shape(), DType::f64);
    const double* ap = a.data<double>();
    for (int64_t k = 0; k < x.numel(); ++k) {
      double* p = element(x, k);
      const double orig = *p;
      *p = orig + opt.eps;
      const double fp = project(f(inputs), v);
      *p = orig - opt.eps;
      const double fm = project(f(inputs), v);
      *p = orig;
      const double num = (fp - fm) / (2 * opt.eps);
      const double ana = ap[k];
      if (!(std::abs(ana - num) <= opt.atol + opt.rtol * std::abs(num))) {
        std::ostringstream os;
        os << "input " << i << " (shape " << x.shape().str() << ") element " << k << ": analytic " << ana
           << " vs numeric " << num;
        res.ok = false;
        res.message = os.str();
        return res;
      }
    }
  }
  return res;
}

}  // namespace kiln::ag
