// The composed stats and steppers: the reference every fused path is tested against. Written with
// plain tensor-layer ops in the order fastai applies them (optim_callbacks.h has the formulas).
#include "kiln/learner/optim_callbacks.h"

#include <algorithm>
#include <cmath>

#include "kiln/tensor/ops.h"

namespace kiln::optim {

double debias(double beta, double step) { return 1.0 - std::pow(beta, step); }

double radam_rectification(double sqr_mom, double step) {
  const double r_inf = 2.0 / (1.0 - sqr_mom) - 1.0;
  const double b = std::pow(sqr_mom, step);
  const double r = r_inf - 2.0 * step * b / (1.0 - b);
  if (!(r > 5.0)) return 0.0;
  return std::sqrt(((r - 4.0) * (r - 2.0) * r_inf) / ((r_inf - 4.0) * (r_inf - 2.0) * r));
}

namespace {

// The weight decay that applies to this parameter: 0 when masked off.
double applied_wd(const StepContext& c) { return c.state.do_wd ? c.hyper("wd") : 0.0; }

// grad_avg when a stat tracks it, else this step's gradient.
Tensor avg_or_grad(StepContext& c) {
  auto it = c.state.buffers.find("grad_avg");
  return it == c.state.buffers.end() ? c.grad : it->second;
}

Tensor adam_direction(StepContext& c) {
  const double step = c.value("step", 0);
  const double d1 = debias(c.hyper("mom"), step), d2 = debias(c.hyper("sqr_mom"), step);
  Tensor denom = add(sqrt(div(c.buffer("sqr_avg"), d2)), c.hyper("eps"));
  return div(div(c.buffer("grad_avg"), d1), denom);
}

double rms(const Tensor& t) { return std::sqrt(mean(square(t.to(DType::f64))).item<double>()); }

}  // namespace

OptimCallback weight_decay() {
  return {"weight_decay", {{"wd", 0.0}}, [](StepContext& c) {
            const double wd = applied_wd(c);
            if (wd != 0) mul_(c.param, 1.0 - c.hyper("lr") * wd);
          }};
}

OptimCallback l2_reg() {
  return {"l2_reg", {{"wd", 0.0}}, [](StepContext& c) {
            const double wd = applied_wd(c);
            if (wd != 0) c.grad = add(c.grad, c.param, wd);
          }};
}

OptimCallback average_grad(bool dampening) {
  return {"average_grad", {{"mom", 0.9}}, [dampening](StepContext& c) {
            const double mom = c.hyper("mom");
            Tensor avg = c.buffer("grad_avg");
            mul_(avg, mom);
            add_(avg, c.grad, dampening ? 1.0 - mom : 1.0);
          }};
}

OptimCallback average_sqr_grad(bool dampening) {
  return {"average_sqr_grad", {{"sqr_mom", 0.99}}, [dampening](StepContext& c) {
            const double sqr_mom = c.hyper("sqr_mom");
            Tensor avg = c.buffer("sqr_avg");
            mul_(avg, sqr_mom);
            add_(avg, mul(c.grad, c.grad), dampening ? 1.0 - sqr_mom : 1.0);
          }};
}

OptimCallback step_stat() {
  return {"step_stat", {}, [](StepContext& c) { c.state.values["step"] = c.value("step", 0) + 1; }};
}

OptimCallback sgd_step() {
  return {"sgd_step", {{"lr", 1e-3}}, [](StepContext& c) { add_(c.param, c.grad, -c.hyper("lr")); }};
}

OptimCallback momentum_step() {
  return {"momentum_step", {{"lr", 1e-3}},
          [](StepContext& c) { add_(c.param, c.buffer("grad_avg"), -c.hyper("lr")); }};
}

OptimCallback nesterov_step() {
  return {"nesterov_step", {{"lr", 1e-3}}, [](StepContext& c) {
            add_(c.param, add(c.grad, c.buffer("grad_avg"), c.hyper("mom")), -c.hyper("lr"));
          }};
}

OptimCallback rms_prop_step() {
  return {"rms_prop_step", {{"lr", 1e-3}, {"eps", 1e-8}}, [](StepContext& c) {
            Tensor denom = add(sqrt(c.buffer("sqr_avg")), c.hyper("eps"));
            add_(c.param, div(avg_or_grad(c), denom), -c.hyper("lr"));
          }};
}

OptimCallback adam_step() {
  return {"adam_step", {{"lr", 1e-3}, {"eps", 1e-5}},
          [](StepContext& c) { add_(c.param, adam_direction(c), -c.hyper("lr")); }};
}

OptimCallback radam_step() {
  return {"radam_step", {{"lr", 1e-3}, {"eps", 1e-5}, {"beta", 0.0}}, [](StepContext& c) {
            const double step = c.value("step", 0), lr = c.hyper("lr");
            const double d1 = debias(c.hyper("mom"), step), d2 = debias(c.hyper("sqr_mom"), step);
            const double rect = radam_rectification(c.hyper("sqr_mom"), step);
            Tensor avg = c.buffer("grad_avg");
            if (rect > 0) {
              Tensor denom = sqrt(div(c.buffer("sqr_avg"), d2));
              const double eps = c.hyper("eps"), beta = c.hyper("beta");
              if (eps != 0) denom = add(denom, eps);
              if (beta != 0) denom = softplus(denom, beta);
              add_(c.param, div(avg, denom), -lr * rect / d1);
            } else {
              add_(c.param, avg, -lr / d1);
            }
          }};
}

OptimCallback qhadam_step() {
  return {"qhadam_step", {{"lr", 1e-3}, {"eps", 1e-8}, {"nu_1", 0.7}, {"nu_2", 1.0}}, [](StepContext& c) {
            const double step = c.value("step", 0);
            const double d1 = debias(c.hyper("mom"), step), d2 = debias(c.hyper("sqr_mom"), step);
            const double nu1 = c.hyper("nu_1"), nu2 = c.hyper("nu_2");
            Tensor num = add(mul(c.grad, 1.0 - nu1), mul(div(c.buffer("grad_avg"), d1), nu1));
            Tensor den = add(sqrt(add(mul(square(c.grad), 1.0 - nu2), mul(div(c.buffer("sqr_avg"), d2), nu2))),
                             c.hyper("eps"));
            add_(c.param, div(num, den), -c.hyper("lr"));
          }};
}

OptimCallback larc_layer_lr(bool clip) {
  return {"larc_layer_lr", {{"lr", 1e-3}, {"trust_coeff", 0.02}, {"wd", 0.0}, {"eps", 1e-8}},
          [clip](StepContext& c) {
            const double lr = c.hyper("lr");
            const double p_norm = norm(c.param.to(DType::f64)).item<double>();
            const double g_norm = norm(c.grad.to(DType::f64)).item<double>();
            double local = lr * c.hyper("trust_coeff") * p_norm / (g_norm + p_norm * applied_wd(c) + c.hyper("eps"));
            c.state.values["local_lr"] = clip ? std::min(lr, local) : local;
          }};
}

OptimCallback larc_step() {
  return {"larc_step", {}, [](StepContext& c) { add_(c.param, avg_or_grad(c), -c.value("local_lr", 0)); }};
}

OptimCallback lamb_step() {
  return {"lamb_step", {{"lr", 1e-3}, {"eps", 1e-6}, {"wd", 0.0}}, [](StepContext& c) {
            Tensor u = adam_direction(c);
            const double r1 = rms(c.param), r2 = rms(u);
            const double q = (r1 == 0 || r2 == 0) ? 1.0 : std::min(r1 / r2, 10.0);
            add_(c.param, u, -c.hyper("lr") * q);
          }};
}

}  // namespace kiln::optim
