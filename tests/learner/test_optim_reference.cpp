// Optimizers PyTorch 1.13 does not have (QHAdam, LARC / LARS, LAMB, Lookahead, ranger) and a new
// optimizer composed in a few lines, against float64 references written here from the update
// formulas as fastai defines them (fastai's docs and the papers it cites; learner/optim_callbacks.h
// lists them). Same 20-step problem as the PyTorch trajectories (optim_problem.h), composed and
// fused paths.
#include <algorithm>
#include <cmath>
#include <functional>

#include <gtest/gtest.h>

#include "kiln/learner/optim_callbacks.h"
#include "kiln/learner/optimizers.h"
#include "optim_problem.h"

namespace kiln::test {
namespace {

using optim::Optimizer;
using Vec = std::vector<double>;

// One parameter tensor of the float64 reference.
struct RefParam {
  Vec p, m, v, slow;
  double step = 0;
};
using RefStep = std::function<void(RefParam&, Vec g)>;

double sum_sq(const Vec& x) {
  double s = 0;
  for (double e : x) s += e * e;
  return s;
}
double debias(double b, double step) { return 1 - std::pow(b, step); }

// Simulates `steps` steps of `update` on the problem in float64; returns trajectories [k][t].
std::vector<std::vector<Vec>> simulate(const OptimProblem& prob, const RefStep& update,
                                       int lookahead_k = 0, double alpha = 0) {
  std::vector<RefParam> ps;
  for (const auto& n : prob.names) {
    RefParam r;
    r.p = prob.fx.at("init/" + n).to_vector<double>();
    r.m.assign(r.p.size(), 0);
    r.v.assign(r.p.size(), 0);
    r.slow = r.p;
    ps.push_back(r);
  }
  std::vector<std::vector<Vec>> traj(ps.size());
  for (int t = 0; t < OptimProblem::kSteps; ++t) {
    for (size_t k = 0; k < ps.size(); ++k) {
      const auto& n = prob.names[k];
      Vec target = prob.fx.at("target/" + n).to_vector<double>();
      Vec coef = prob.fx.at("coef/" + n).to_vector<double>();
      Vec noise = prob.fx.at("noise/" + n).select(0, t).to_vector<double>();
      Vec g(ps[k].p.size());
      for (size_t i = 0; i < g.size(); ++i) g[i] = (ps[k].p[i] - target[i]) * coef[i] + noise[i];
      update(ps[k], g);
      if (lookahead_k && (t + 1) % lookahead_k == 0) {
        for (size_t i = 0; i < g.size(); ++i) {
          ps[k].slow[i] += alpha * (ps[k].p[i] - ps[k].slow[i]);
          ps[k].p[i] = ps[k].slow[i];
        }
      }
      traj[k].push_back(ps[k].p);
    }
  }
  return traj;
}

// The float64 trajectory and kiln's f32 one stay within f32 tolerances for 20 steps: the problem
// is contractive, so rounding differences do not grow.
constexpr double kRtol = 1e-5, kAtol = 1e-6;

void check(const char* what, const std::function<Optimizer(std::vector<Tensor>)>& make, const RefStep& update,
           int lookahead_k = 0, double alpha = 0) {
  OptimProblem prob;
  auto ref = simulate(prob, update, lookahead_k, alpha);
  for (bool fused : {false, true}) {
    auto ps = prob.make_params();
    Optimizer opt = make(ps);
    opt.set_fused(fused);
    for (int t = 0; t < OptimProblem::kSteps; ++t) {
      prob.set_grads(ps, t);
      ASSERT_TRUE(opt.step());
      for (size_t k = 0; k < ps.size(); ++k) {
        Tensor expected = from_vector(ref[k][t], ps[k].shape());
        ASSERT_TRUE(tensors_close(ps[k].to(DType::f64), expected, kRtol, kAtol))
            << what << (fused ? " fused" : " composed") << ", parameter " << prob.names[k] << ", step " << t + 1;
      }
    }
  }
}

RefStep qhadam_ref(double lr, double mom, double sqr_mom, double nu1, double nu2, double eps, double wd) {
  return [=](RefParam& r, Vec g) {
    r.step += 1;
    const double d1 = debias(mom, r.step), d2 = debias(sqr_mom, r.step);
    for (size_t i = 0; i < g.size(); ++i) {
      r.p[i] *= 1 - lr * wd;
      r.m[i] = mom * r.m[i] + (1 - mom) * g[i];
      r.v[i] = sqr_mom * r.v[i] + (1 - sqr_mom) * g[i] * g[i];
      const double num = (1 - nu1) * g[i] + nu1 * r.m[i] / d1;
      const double den = std::sqrt((1 - nu2) * g[i] * g[i] + nu2 * r.v[i] / d2) + eps;
      r.p[i] -= lr * num / den;
    }
  };
}

RefStep larc_ref(double lr, double mom, double trust, double eps, double wd, bool clip) {
  return [=](RefParam& r, Vec g) {
    for (double& x : r.p) x *= 1 - lr * wd;
    const double pn = std::sqrt(sum_sq(r.p)), gn = std::sqrt(sum_sq(g));
    double local = lr * trust * pn / (gn + pn * wd + eps);
    if (clip) local = std::min(lr, local);
    for (size_t i = 0; i < g.size(); ++i) {
      if (mom != 0) r.m[i] = mom * r.m[i] + g[i];
      r.p[i] -= local * (mom != 0 ? r.m[i] : g[i]);
    }
  };
}

RefStep lamb_ref(double lr, double mom, double sqr_mom, double eps, double wd) {
  return [=](RefParam& r, Vec g) {
    r.step += 1;
    const double d1 = debias(mom, r.step), d2 = debias(sqr_mom, r.step);
    Vec u(g.size());
    for (size_t i = 0; i < g.size(); ++i) {
      r.p[i] *= 1 - lr * wd;
      r.m[i] = mom * r.m[i] + (1 - mom) * g[i];
      r.v[i] = sqr_mom * r.v[i] + (1 - sqr_mom) * g[i] * g[i];
      u[i] = (r.m[i] / d1) / (std::sqrt(r.v[i] / d2) + eps);
    }
    const double r1 = std::sqrt(sum_sq(r.p) / double(g.size())), r2 = std::sqrt(sum_sq(u) / double(g.size()));
    const double q = (r1 == 0 || r2 == 0) ? 1 : std::min(r1 / r2, 10.0);
    for (size_t i = 0; i < g.size(); ++i) r.p[i] -= lr * q * u[i];
  };
}

RefStep sgd_mom_ref(double lr, double mom) {
  return [=](RefParam& r, Vec g) {
    for (size_t i = 0; i < g.size(); ++i) {
      r.m[i] = mom * r.m[i] + g[i];
      r.p[i] -= lr * r.m[i];
    }
  };
}

RefStep radam_ref(double lr, double mom, double sqr_mom, double eps, double wd) {
  return [=](RefParam& r, Vec g) {
    r.step += 1;
    const double d1 = debias(mom, r.step), d2 = debias(sqr_mom, r.step);
    const double r_inf = 2 / (1 - sqr_mom) - 1;
    const double rho = r_inf - 2 * r.step * std::pow(sqr_mom, r.step) / (1 - std::pow(sqr_mom, r.step));
    for (size_t i = 0; i < g.size(); ++i) {
      r.p[i] *= 1 - lr * wd;
      r.m[i] = mom * r.m[i] + (1 - mom) * g[i];
      r.v[i] = sqr_mom * r.v[i] + (1 - sqr_mom) * g[i] * g[i];
      if (rho > 5) {
        const double rect = std::sqrt((rho - 4) * (rho - 2) * r_inf / ((r_inf - 4) * (r_inf - 2) * rho));
        r.p[i] -= lr * rect / d1 * r.m[i] / (std::sqrt(r.v[i] / d2) + eps);
      } else {
        r.p[i] -= lr / d1 * r.m[i];
      }
    }
  };
}

TEST(OptimReference, QHAdam) {
  check("QHAdam", [](auto ps) {
    return optim::QHAdam(ps, {.lr = 0.01, .mom = 0.9, .sqr_mom = 0.99, .nu_1 = 0.7, .nu_2 = 0.8, .eps = 1e-8, .wd = 0.05});
  }, qhadam_ref(0.01, 0.9, 0.99, 0.7, 0.8, 1e-8, 0.05));
}

TEST(OptimReference, LarcWithMomentum) {
  // trust_coeff large enough that clipping is active on some parameters and not on others.
  check("Larc", [](auto ps) { return optim::Larc(ps, {.lr = 0.1, .mom = 0.9, .trust_coeff = 0.2, .wd = 0.01}); },
        larc_ref(0.1, 0.9, 0.2, 1e-8, 0.01, true));
}

TEST(OptimReference, LarsWithoutMomentum) {
  check("Lars", [](auto ps) { return optim::Lars(ps, {.lr = 0.1, .mom = 0, .trust_coeff = 0.5, .wd = 0.01}); },
        larc_ref(0.1, 0, 0.5, 1e-8, 0.01, false));
}

TEST(OptimReference, Lamb) {
  check("Lamb", [](auto ps) { return optim::Lamb(ps, {.lr = 0.01, .mom = 0.9, .sqr_mom = 0.99, .eps = 1e-6, .wd = 0.05}); },
        lamb_ref(0.01, 0.9, 0.99, 1e-6, 0.05));
}

TEST(OptimReference, LookaheadAroundSgd) {
  check("Lookahead(SGD)", [](auto ps) { return optim::Lookahead(optim::SGD(ps, {.lr = 0.05, .mom = 0.9}), 3, 0.5); },
        sgd_mom_ref(0.05, 0.9), 3, 0.5);
}

TEST(OptimReference, Ranger) {
  check("ranger", [](auto ps) { return optim::ranger(ps, {.lr = 0.01, .mom = 0.95, .sqr_mom = 0.99, .eps = 1e-6, .wd = 0.01}); },
        radam_ref(0.01, 0.95, 0.99, 1e-6, 0.01), 6, 0.5);
}

// A new optimizer in a few lines: quasi-hyperbolic momentum (Ma & Yarats 2019),
// p -= lr ((1 - nu) g + nu grad_avg) with a dampened grad_avg, from an existing stat plus one new
// stepper.
TEST(OptimReference, NewOptimizerComposedFromStatsAndSteppers) {
  optim::OptimCallback qhm_step{"qhm_step", {{"nu", 0.7}}, [](optim::StepContext& c) {
                                  const double nu = c.hyper("nu");
                                  Tensor dir = add(mul(c.grad, 1 - nu), mul(c.buffer("grad_avg"), nu));
                                  add_(c.param, dir, -c.hyper("lr"));
                                }};
  auto make = [&](std::vector<Tensor> ps) {
    return Optimizer(ps, {optim::weight_decay(), optim::average_grad(/*dampening=*/true), qhm_step},
                     {{"lr", 0.1}, {"mom", 0.9}, {"wd", 0.01}});
  };
  RefStep ref = [](RefParam& r, Vec g) {
    for (size_t i = 0; i < g.size(); ++i) {
      r.p[i] *= 1 - 0.1 * 0.01;
      r.m[i] = 0.9 * r.m[i] + 0.1 * g[i];
      r.p[i] -= 0.1 * (0.3 * g[i] + 0.7 * r.m[i]);
    }
  };
  check("QHM", make, ref);
}

}  // namespace
}  // namespace kiln::test
