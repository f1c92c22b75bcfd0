#pragma once
// Host-side state for the fused optimizer kernel tests (test_optim_kernels.cpp, test_optim_cuda.cpp):
// a group of tensors with their parameter / gradient / master / state buffers in any dtype, random
// contents, the step arguments of each step, and a float64 reference written directly from
// Note [Fused optimizer semantics] (kernels/optim_fused.h).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "kiln/kernels/dtype.h"
#include "kiln/kernels/optim_fused.h"

namespace kiln::test {

using optim_kernels::FusedGroupArgs;
using optim_kernels::FusedOptim;
using optim_kernels::FusedTensorArgs;

inline float load_float(DType d, const void* p, int64_t i) {
  switch (d) {
    case DType::f16: return float(static_cast<const Half*>(p)[i]);
    case DType::bf16: return float(static_cast<const BFloat16*>(p)[i]);
    default: return static_cast<const float*>(p)[i];
  }
}
inline void store_float(DType d, void* p, int64_t i, float x) {
  switch (d) {
    case DType::f16: static_cast<Half*>(p)[i] = Half(x); break;
    case DType::bf16: static_cast<BFloat16*>(p)[i] = BFloat16(x); break;
    default: static_cast<float*>(p)[i] = x; break;
  }
}

// One tensor: raw buffers (param and grad in their dtypes, the rest f32), n elements each.
struct TensorState {
  int64_t n = 0;
  std::vector<unsigned char> param, grad;
  std::vector<float> master, m, v;
  float wd = 0;
};

struct GroupState {
  DType pd = DType::f32, gd = DType::f32;
  bool master = false, has_m = false, has_v = false;
  std::vector<TensorState> t;

  // sizes: elements per tensor; w_scale[i]: scale of tensor i's initial weights (0: all zeros);
  // wd[i]: its weight decay.
  GroupState(DType pd_, DType gd_, const std::vector<int64_t>& sizes, const std::vector<float>& w_scale,
             const std::vector<float>& wd, bool master_, bool m_, bool v_, uint32_t seed)
      : pd(pd_), gd(gd_), master(master_), has_m(m_), has_v(v_) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> normal(0.0f, 1.0f);
    std::uniform_real_distribution<float> unif(0.0f, 1.0f);
    t.resize(sizes.size());
    for (size_t k = 0; k < sizes.size(); ++k) {
      TensorState& s = t[k];
      s.n = sizes[k];
      s.wd = wd[k % wd.size()];
      const float scale = w_scale[k % w_scale.size()];
      s.param.assign(size_t(s.n) * size_t(dtype_size(pd)), 0);
      s.grad.assign(size_t(s.n) * size_t(dtype_size(gd)), 0);
      if (master) s.master.resize(size_t(s.n));
      // Non-zero starting averages, so the first step exercises the full update formulas.
      if (m_) s.m.resize(size_t(s.n));
      if (v_) s.v.resize(size_t(s.n));
      for (int64_t i = 0; i < s.n; ++i) {
        const float w = scale * normal(rng);
        if (master) s.master[size_t(i)] = w;
        store_float(pd, s.param.data(), i, w);
        if (m_) s.m[size_t(i)] = 0.05f * normal(rng);
        if (v_) s.v[size_t(i)] = 0.01f * unif(rng);
      }
    }
  }

  // Fresh random gradients (the values, rounded to the gradient dtype).
  void random_grads(uint32_t seed, float scale) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> normal(0.0f, 1.0f);
    for (TensorState& s : t)
      for (int64_t i = 0; i < s.n; ++i) store_float(gd, s.grad.data(), i, scale * normal(rng));
  }

  // The weight the kernels read: master when present, else the (f32) parameter.
  float weight(size_t k, int64_t i) const {
    return master ? t[k].master[size_t(i)] : load_float(pd, t[k].param.data(), i);
  }

  // Host-pointer arguments of every tensor with this step's debias / rect values.
  std::vector<FusedTensorArgs> args(float debias1, float debias2, const std::vector<float>& rect) {
    std::vector<FusedTensorArgs> a(t.size());
    for (size_t k = 0; k < t.size(); ++k) {
      TensorState& s = t[k];
      a[k].param = s.n ? s.param.data() : nullptr;
      a[k].grad = s.n ? s.grad.data() : nullptr;
      a[k].master = master && s.n ? s.master.data() : nullptr;
      a[k].exp_avg = has_m && s.n ? s.m.data() : nullptr;
      a[k].exp_avg_sq = has_v && s.n ? s.v.data() : nullptr;
      a[k].n = s.n;
      a[k].wd = s.wd;
      a[k].debias1 = debias1;
      a[k].debias2 = debias2;
      a[k].radam_rect = rect.empty() ? 0.0f : rect[k % rect.size()];
    }
    return a;
  }
};

// ---- float64 reference, straight from the Note
struct RefTensor {
  std::vector<double> w, m, v;
};

inline double ref_softplus(double x, double beta) {
  const double bx = x * beta;
  return bx > 20.0 ? x : std::log1p(std::exp(bx)) / beta;
}

// One step of tensor a (its wd, debias, rect) with gradient values `grad` (already in f64).
inline void reference_step(const FusedGroupArgs& g, const FusedTensorArgs& a, const std::vector<double>& grad,
                           RefTensor& r) {
  const size_t n = r.w.size();
  if (n == 0) return;
  const double lr = g.lr, mom = g.mom, sqr = g.sqr_mom, eps = g.eps, wd = a.wd;
  const double d1 = a.debias1, d2 = a.debias2;
  std::vector<double> gr(n);
  for (size_t i = 0; i < n; ++i) {
    gr[i] = grad[i] * double(g.inv_scale);
    if (!g.decouple_wd) gr[i] += wd * r.w[i];
  }
  if (g.decouple_wd)
    for (size_t i = 0; i < n; ++i) r.w[i] *= 1.0 - lr * wd;
  const double damp = g.dampening ? 1.0 - mom : 1.0;
  auto adam_moments = [&] {
    for (size_t i = 0; i < n; ++i) {
      r.m[i] = mom * r.m[i] + (1.0 - mom) * gr[i];
      r.v[i] = sqr * r.v[i] + (1.0 - sqr) * gr[i] * gr[i];
    }
  };
  switch (g.kind) {
    case FusedOptim::sgd:
      for (size_t i = 0; i < n; ++i) {
        if (mom == 0) {
          r.w[i] -= lr * gr[i];
        } else {
          r.m[i] = mom * r.m[i] + damp * gr[i];
          r.w[i] -= lr * (g.nesterov ? gr[i] + mom * r.m[i] : r.m[i]);
        }
      }
      break;
    case FusedOptim::adam:
      adam_moments();
      for (size_t i = 0; i < n; ++i) r.w[i] -= (lr / d1) * r.m[i] / (std::sqrt(r.v[i] / d2) + eps);
      break;
    case FusedOptim::radam:
      adam_moments();
      for (size_t i = 0; i < n; ++i) {
        if (a.radam_rect > 0) {
          double d = std::sqrt(r.v[i] / d2) + eps;
          if (g.beta != 0) d = ref_softplus(d, g.beta);
          r.w[i] -= (lr * double(a.radam_rect) / d1) * r.m[i] / d;
        } else {
          r.w[i] -= (lr / d1) * r.m[i];
        }
      }
      break;
    case FusedOptim::qhadam: {
      adam_moments();
      const double nu1 = g.nu1, nu2 = g.nu2;
      for (size_t i = 0; i < n; ++i)
        r.w[i] -= lr * ((1 - nu1) * gr[i] + nu1 * r.m[i] / d1) /
                  (std::sqrt((1 - nu2) * gr[i] * gr[i] + nu2 * r.v[i] / d2) + eps);
      break;
    }
    case FusedOptim::lamb: {
      adam_moments();
      std::vector<double> u(n);
      double sw = 0, su = 0;
      for (size_t i = 0; i < n; ++i) {
        u[i] = (r.m[i] / d1) / (std::sqrt(r.v[i] / d2) + eps);
        sw += r.w[i] * r.w[i];
        su += u[i] * u[i];
      }
      const double r1 = std::sqrt(sw / double(n)), r2 = std::sqrt(su / double(n));
      const double q = (r1 == 0 || r2 == 0) ? 1.0 : std::min(r1 / r2, 10.0);
      for (size_t i = 0; i < n; ++i) r.w[i] -= lr * q * u[i];
      break;
    }
    case FusedOptim::larc: {
      double sw = 0, sg = 0;
      for (size_t i = 0; i < n; ++i) {
        sw += r.w[i] * r.w[i];
        sg += gr[i] * gr[i];
      }
      const double pn = std::sqrt(sw), gn = std::sqrt(sg);
      double local = lr * double(g.trust_coeff) * pn / (gn + pn * wd + eps);
      if (g.clip) local = std::min(lr, local);
      for (size_t i = 0; i < n; ++i) {
        if (mom != 0) {
          r.m[i] = mom * r.m[i] + damp * gr[i];
          r.w[i] -= local * r.m[i];
        } else {
          r.w[i] -= local * gr[i];
        }
      }
      break;
    }
  }
}

// ---- the test cases shared by the CPU and CUDA tests: every kind and option
struct OptCase {
  std::string name;
  FusedGroupArgs g;
  std::vector<float> w_scale = {1.0f};
  std::vector<float> wd = {0.05f, 0.0f};  // per tensor, cycled: weight decay masked off on every other tensor
  float grad_scale = 0.1f;
  std::vector<std::vector<float>> rect;   // radam: per step (cycled), per tensor (cycled)
};

inline bool kind_needs_m(const FusedGroupArgs& g) {
  return !((g.kind == FusedOptim::sgd || g.kind == FusedOptim::larc) && g.mom == 0);
}
inline bool kind_needs_v(const FusedGroupArgs& g) { return g.kind != FusedOptim::sgd && g.kind != FusedOptim::larc; }

inline FusedGroupArgs group(FusedOptim kind, float lr, float mom, float sqr_mom = 0, float eps = 0) {
  FusedGroupArgs g;
  g.kind = kind;
  g.lr = lr;
  g.mom = mom;
  g.sqr_mom = sqr_mom;
  g.eps = eps;
  return g;
}

inline std::vector<OptCase> all_cases() {
  std::vector<OptCase> cs;
  auto add = [&](std::string name, FusedGroupArgs g) {
    OptCase c;
    c.name = std::move(name);
    c.g = g;
    cs.push_back(c);
    return &cs.back();
  };
  FusedGroupArgs g;
  // sgd
  g = group(FusedOptim::sgd, 0.1f, 0.0f);
  add("sgd", g);
  g.decouple_wd = false;
  add("sgd_l2", g);
  g = group(FusedOptim::sgd, 0.1f, 0.9f);
  add("sgd_mom", g);
  g.dampening = true;
  add("sgd_mom_dampening", g);
  g = group(FusedOptim::sgd, 0.1f, 0.9f);
  g.nesterov = true;
  add("sgd_nesterov", g);
  g.decouple_wd = false;
  g.dampening = true;
  add("sgd_nesterov_l2_dampening", g);
  // adam
  g = group(FusedOptim::adam, 1e-2f, 0.9f, 0.99f, 1e-5f);
  add("adam", g);
  g.decouple_wd = false;
  g.inv_scale = 1.0f / 64;
  add("adam_l2_scaled", g)->grad_scale = 6.4f;
  // radam: rect == 0 and > 0 within one call, beta off and on
  g = group(FusedOptim::radam, 1e-2f, 0.9f, 0.99f, 1e-5f);
  add("radam", g)->rect = {{0.0f}, {0.6f, 0.0f}, {0.9f}};
  g.beta = 50.0f;
  add("radam_softplus", g)->rect = {{0.7f, 0.0f}, {0.0f, 0.8f}, {0.95f}};
  // qhadam
  g = group(FusedOptim::qhadam, 1e-2f, 0.9f, 0.99f, 1e-5f);
  g.nu1 = 0.7f;
  g.nu2 = 1.0f;
  add("qhadam", g);
  g.nu1 = 0.5f;
  g.nu2 = 0.8f;
  g.decouple_wd = false;
  add("qhadam_l2", g);
  // lamb: q in (0, 10), the min(., 10) clip, r1 == 0
  g = group(FusedOptim::lamb, 1e-2f, 0.9f, 0.99f, 1e-6f);
  add("lamb", g)->w_scale = {1.0f, 0.5f};
  add("lamb_clip", g)->w_scale = {100.0f};
  add("lamb_zero_weights", g)->w_scale = {0.0f};
  g.decouple_wd = false;
  add("lamb_l2", g);
  // larc: clip on / off, mom 0 / non-0, dampening
  g = group(FusedOptim::larc, 1e-2f, 0.9f, 0.0f, 1e-8f);
  g.trust_coeff = 0.02f;
  add("larc", g);
  g.trust_coeff = 1.0f;  // local lr above lr: the clip matters
  add("larc_clip", g);
  g.clip = false;
  add("larc_noclip", g);
  g = group(FusedOptim::larc, 1e-2f, 0.0f, 0.0f, 1e-8f);
  g.trust_coeff = 0.02f;
  add("larc_mom0", g);
  g = group(FusedOptim::larc, 1e-2f, 0.9f, 0.0f, 1e-8f);
  g.trust_coeff = 0.5f;
  g.dampening = true;
  g.decouple_wd = false;
  add("larc_l2_dampening", g);
  return cs;
}

inline std::vector<std::string> all_case_names() {
  std::vector<std::string> names;
  for (const OptCase& c : all_cases()) names.push_back(c.name);
  return names;
}

inline const OptCase& find_case(const std::string& name) {
  static const std::vector<OptCase> cs = all_cases();
  for (const OptCase& c : cs)
    if (c.name == name) return c;
  throw std::runtime_error("no case " + name);
}

// |got - want| <= atol + rtol |want| elementwise; reports the count and the worst element.
inline ::testing::AssertionResult all_close(const float* got, const double* want, size_t n, double rtol, double atol) {
  size_t bad = 0, worst = 0;
  double worst_excess = -1;
  for (size_t i = 0; i < n; ++i) {
    const double err = std::fabs(double(got[i]) - want[i]);
    const double lim = atol + rtol * std::fabs(want[i]);
    if (!(err <= lim)) {
      ++bad;
      const double excess = std::isnan(err) ? 1e300 : err - lim;
      if (excess > worst_excess) {
        worst_excess = excess;
        worst = i;
      }
    }
  }
  if (bad == 0) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << bad << " of " << n << " elements differ; worst at " << worst << ": got "
                                       << got[worst] << ", want " << want[worst];
}

}  // namespace kiln::test
