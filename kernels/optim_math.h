#pragma once
// Per-element formulas of the fused optimizer steps (Note [Fused optimizer semantics] in
// kernels/optim_fused.h), called by the CPU kernels (kernels/cpu/vec/optim.cpp) and the CUDA
// multi-tensor kernels (kernels/cuda/optim.cu) so that both compute the same thing.
//
// The scalars of a step are derived once on the host: GroupScalars for what the whole group
// shares, TensorScalars for what depends on the tensor (its weight decay and its step count).
// optim_element<R> then updates one element: w (the f32 weight, from master or an f32 param),
// m (exp_avg), v (exp_avg_sq), given the raw gradient value (already converted to f32).
//
// Note [Fused optimizer rules]
// Each kind is split into rules that have no data-dependent branches, so that the CPU loops
// vectorise and the CUDA kernels read only the buffers they need:
//   sgd: sgd (mom == 0, no exp_avg), sgd_mom (nesterov is a select);
//   adam: adam;  radam: radam_plain (radam_rect == 0), radam_rect, radam_rect_sp (beta != 0);
//   qhadam: qhadam;
//   lamb: lamb_norms (phase 1: updates m, v; yields w after decay and u for the norms),
//         lamb_apply (phase 2: w = w_dec - step * u with step = lr * q, reads no gradient);
//   larc: larc_norms (phase 1: read only; yields w after decay and g for the norms),
//         larc_apply / larc_apply_mom (phase 2 with step = the local lr).
// Phase 1 sums the squares of the two yielded values per tensor (in double, fixed order); the
// per-tensor step of phase 2 comes from lamb_step_scale / larc_step_scale below.
#include <cmath>
#include <cstdint>

#include "kiln/kernels/cpu/vec_math.h"
#include "kiln/kernels/dtype.h"
#include "kiln/kernels/macros.h"
#include "kiln/kernels/optim_fused.h"

namespace kiln::optim_kernels {

enum class Rule : int32_t {
  sgd, sgd_mom, adam, radam_plain, radam_rect, radam_rect_sp, qhadam,
  lamb_norms, lamb_apply, larc_norms, larc_apply, larc_apply_mom,
};
constexpr int kNumRules = 12;

// Which buffers a rule reads and writes (w is always read).
constexpr KILN_HOST_DEVICE bool rule_reads_grad(Rule r) { return r != Rule::lamb_apply; }
constexpr KILN_HOST_DEVICE bool rule_uses_m(Rule r) {
  return r != Rule::sgd && r != Rule::larc_norms && r != Rule::larc_apply;
}
constexpr KILN_HOST_DEVICE bool rule_uses_v(Rule r) {
  return r == Rule::adam || r == Rule::radam_plain || r == Rule::radam_rect || r == Rule::radam_rect_sp ||
         r == Rule::qhadam || r == Rule::lamb_norms || r == Rule::lamb_apply;
}
constexpr KILN_HOST_DEVICE bool rule_writes_m(Rule r) { return rule_uses_m(r) && r != Rule::lamb_apply; }
constexpr KILN_HOST_DEVICE bool rule_writes_v(Rule r) { return rule_uses_v(r) && r != Rule::lamb_apply; }
constexpr KILN_HOST_DEVICE bool rule_is_norms(Rule r) { return r == Rule::lamb_norms || r == Rule::larc_norms; }
constexpr KILN_HOST_DEVICE bool rule_writes_w(Rule r) { return !rule_is_norms(r); }

// Scalars shared by every tensor of the group.
struct GroupScalars {
  float inv_scale = 1;
  float mom = 0, mom_g = 0;          // m = mom * m + mom_g * g
  float sqr_mom = 0, sqr_g = 0;      // v = sqr_mom * v + sqr_g * g^2
  float eps = 0;
  float beta = 0;                    // radam softplus
  float nu1 = 0, nu1_g = 0;          // qhadam: nu1_g = 1 - nu1
  float nu2 = 0, nu2_g = 0;          // qhadam: nu2_g = 1 - nu2
  float lr = 0;
  bool l2 = false;                   // !decouple_wd: g += wd * w
  bool nesterov = false;
};

// Scalars of one tensor for this step.
struct TensorScalars {
  float wd = 0;       // L2 coefficient (used when GroupScalars::l2)
  float decay = 1;    // 1 - lr * wd when decoupled, else 1
  float step = 0;     // the rule's step size (see make_tensor_scalars); phase 2 of lamb / larc: set later
  float debias1 = 1;
  float debias2 = 1;
};

inline GroupScalars make_group_scalars(const FusedGroupArgs& g) {
  GroupScalars s;
  s.inv_scale = g.inv_scale;
  s.mom = g.mom;
  const bool adam_like = g.kind == FusedOptim::adam || g.kind == FusedOptim::radam ||
                         g.kind == FusedOptim::qhadam || g.kind == FusedOptim::lamb;
  s.mom_g = (adam_like || g.dampening) ? 1.0f - g.mom : 1.0f;
  s.sqr_mom = g.sqr_mom;
  s.sqr_g = 1.0f - g.sqr_mom;
  s.eps = g.eps;
  s.beta = g.beta;
  s.nu1 = g.nu1;
  s.nu1_g = 1.0f - g.nu1;
  s.nu2 = g.nu2;
  s.nu2_g = 1.0f - g.nu2;
  s.lr = g.lr;
  s.l2 = !g.decouple_wd;
  s.nesterov = g.nesterov;
  return s;
}

// The rule that updates tensor t (phase 2 for lamb / larc).
inline Rule update_rule(const FusedGroupArgs& g, const FusedTensorArgs& t) {
  switch (g.kind) {
    case FusedOptim::sgd: return g.mom == 0 ? Rule::sgd : Rule::sgd_mom;
    case FusedOptim::adam: return Rule::adam;
    case FusedOptim::radam:
      return t.radam_rect > 0 ? (g.beta != 0 ? Rule::radam_rect_sp : Rule::radam_rect) : Rule::radam_plain;
    case FusedOptim::qhadam: return Rule::qhadam;
    case FusedOptim::lamb: return Rule::lamb_apply;
    case FusedOptim::larc: return g.mom == 0 ? Rule::larc_apply : Rule::larc_apply_mom;
  }
  return Rule::sgd;
}
inline bool kind_has_norms(FusedOptim k) { return k == FusedOptim::lamb || k == FusedOptim::larc; }
inline Rule norms_rule(FusedOptim k) { return k == FusedOptim::lamb ? Rule::lamb_norms : Rule::larc_norms; }

inline TensorScalars make_tensor_scalars(const FusedGroupArgs& g, const FusedTensorArgs& t) {
  TensorScalars s;
  s.wd = t.wd;
  s.decay = g.decouple_wd ? 1.0f - g.lr * t.wd : 1.0f;
  s.debias1 = t.debias1;
  s.debias2 = t.debias2;
  switch (g.kind) {
    case FusedOptim::sgd:
    case FusedOptim::qhadam: s.step = g.lr; break;
    case FusedOptim::adam: s.step = g.lr / t.debias1; break;
    case FusedOptim::radam:
      s.step = t.radam_rect > 0 ? (g.lr * t.radam_rect) / t.debias1 : g.lr / t.debias1;
      break;
    case FusedOptim::lamb:
    case FusedOptim::larc: s.step = 0; break;  // from the norms (phase 1b)
  }
  return s;
}

// softplus(x) = log(1 + exp(beta x)) / beta, and x where beta x > 20: the same formula and
// threshold as kiln's softplus op (kernels/scalar_ops.h) and PyTorch's default.
KILN_HD float softplus_beta(float x, float beta) {
  float bx = x * beta;
  float sp = vm::log1p(vm::exp(bx)) / beta;
  return bx > 20.0f ? x : sp;
}

// One element of rule R. `grad` is the raw gradient value (ignored by lamb_apply). w, m, v are
// updated in place (for the norms rules, m and v only). The norms rules return in a and b the
// two values whose squares phase 1 sums: lamb (w after decay, u), larc (w after decay, g).
template <Rule R>
KILN_HD void optim_element(const GroupScalars& gs, const TensorScalars& ts, float grad, float& w, float& m,
                           float& v, float& a, float& b) {
  // The gradient (L2 term with w before the decoupled decay), then the decay.
  float g = grad * gs.inv_scale;
  g = gs.l2 ? g + ts.wd * w : g;
  const float wdec = w * ts.decay;
  if constexpr (R == Rule::sgd) {
    w = wdec - ts.step * g;
  } else if constexpr (R == Rule::sgd_mom) {
    m = gs.mom * m + gs.mom_g * g;
    const float upd = gs.nesterov ? g + gs.mom * m : m;
    w = wdec - ts.step * upd;
  } else if constexpr (R == Rule::qhadam) {
    m = gs.mom * m + gs.mom_g * g;
    v = gs.sqr_mom * v + gs.sqr_g * (g * g);
    const float num = gs.nu1_g * g + gs.nu1 * (m / ts.debias1);
    const float den = std::sqrt(gs.nu2_g * (g * g) + gs.nu2 * (v / ts.debias2)) + gs.eps;
    w = wdec - ts.step * num / den;
  } else if constexpr (R == Rule::adam || R == Rule::radam_plain || R == Rule::radam_rect ||
                       R == Rule::radam_rect_sp || R == Rule::lamb_norms) {
    m = gs.mom * m + gs.mom_g * g;
    v = gs.sqr_mom * v + gs.sqr_g * (g * g);
    if constexpr (R == Rule::radam_plain) {
      w = wdec - ts.step * m;
    } else if constexpr (R == Rule::lamb_norms) {
      a = wdec;
      b = (m / ts.debias1) / (std::sqrt(v / ts.debias2) + gs.eps);
    } else {
      float d = std::sqrt(v / ts.debias2) + gs.eps;
      if constexpr (R == Rule::radam_rect_sp) d = softplus_beta(d, gs.beta);
      w = wdec - ts.step * m / d;
    }
  } else if constexpr (R == Rule::lamb_apply) {
    const float u = (m / ts.debias1) / (std::sqrt(v / ts.debias2) + gs.eps);
    w = wdec - ts.step * u;
  } else if constexpr (R == Rule::larc_norms) {
    a = wdec;
    b = g;
  } else if constexpr (R == Rule::larc_apply) {
    w = wdec - ts.step * g;
  } else if constexpr (R == Rule::larc_apply_mom) {
    m = gs.mom * m + gs.mom_g * g;
    w = wdec - ts.step * m;
  }
}

// Phase 1b of lamb: from the sums of squares of w (after decay) and u over n elements, the
// step lr * q with q = (r1 == 0 || r2 == 0) ? 1 : min(r1 / r2, 10), r = sqrt(sum / n).
// A NaN ratio stays NaN (as Python's min(nan, 10)).
KILN_HD float lamb_step_scale(double sum_w2, double sum_u2, int64_t n, float lr) {
  const double r1 = std::sqrt(sum_w2 / double(n));
  const double r2 = std::sqrt(sum_u2 / double(n));
  double q = 1.0;
  if (!(r1 == 0.0 || r2 == 0.0)) {
    const double ratio = r1 / r2;
    q = 10.0 < ratio ? 10.0 : ratio;
  }
  return float(double(lr) * q);
}

// Phase 1b of larc: local = lr * trust * |w| / (|g| + |w| * wd + eps), min(lr, local) with clip.
KILN_HD float larc_step_scale(double sum_w2, double sum_g2, float lr, float trust_coeff, float wd, float eps,
                              bool clip) {
  const double pn = std::sqrt(sum_w2);
  const double gn = std::sqrt(sum_g2);
  double local = double(lr) * double(trust_coeff) * pn / (gn + pn * double(wd) + double(eps));
  if (clip) local = double(lr) < local ? double(lr) : local;
  return float(local);
}

// ---- element access: f32 / f16 / bf16 as float
KILN_HD float to_f32(float x) { return x; }
KILN_HD float to_f32(Half x) { return half_bits_to_float(x.bits); }
KILN_HD float to_f32(BFloat16 x) { return bf16_bits_to_float(x.bits); }
template <class T> KILN_HD T from_f32(float x);
template <> KILN_HD float from_f32<float>(float x) { return x; }
template <> KILN_HD Half from_f32<Half>(float x) { return Half::from_bits(float_to_half_bits(x)); }
template <> KILN_HD BFloat16 from_f32<BFloat16>(float x) { return BFloat16::from_bits(float_to_bf16_bits(x)); }

// True when the value is NaN or +-inf (exponent bits all ones), tested on the bit pattern.
KILN_HD bool nonfinite_bits(float x) { return (float_bits(x) & 0x7f800000u) == 0x7f800000u; }
KILN_HD bool nonfinite_bits(Half x) { return (x.bits & 0x7c00u) == 0x7c00u; }
KILN_HD bool nonfinite_bits(BFloat16 x) { return (x.bits & 0x7f80u) == 0x7f80u; }

}  // namespace kiln::optim_kernels
