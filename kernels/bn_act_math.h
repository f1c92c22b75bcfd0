#pragma once
// Batch norm fused with an activation: the formulas shared by the CPU reference
// (kernels/cpu/bn_act.h) and the CUDA kernels (kernels/cuda/bn_act.h).
//
// Note [Batch norm + activation]
// x is contiguous [N, C, S]; every channel c has M = N * S values. With mean / invstd the
// channel's statistics (batch statistics in training, running ones in eval):
//   z = (x - mean) * invstd * w + b = x * scale + shift,  scale = w invstd, shift = b - mean scale
//   y = act(z)          act: none, relu, leaky_relu(slope), silu
// Training statistics: mean and the biased variance, accumulated in f64 over values shifted by
// the channel's first value K = x[0, c, 0] (so that a large common offset does not cancel):
//   s1 = sum(x - K), s2 = sum((x - K)^2), mean = K + s1 / M, var = max(s2 / M - (s1 / M)^2, 0),
//   invstd = 1 / sqrt(var + eps); running_mean = (1 - momentum) running_mean + momentum mean,
//   running_var = (1 - momentum) running_var + momentum var M / (M - 1)   (unbiased, as PyTorch).
// Training needs M > 1. In eval, mean = running_mean and invstd = 1 / sqrt(running_var + eps).
// Backward recomputes z from x (never needs y): dz = dy act'(z), then per channel
//   sum_dz = sum(dz), sum_dz_xmu = sum(dz (x - mean))                       (f64 accumulation)
//   db = sum_dz, dw = sum_dz_xmu invstd
//   training: dx = w invstd (dz - sum_dz / M - (x - mean) invstd^2 sum_dz_xmu / M)
//   eval:     dx = w invstd dz
// act'(0) is 0 for relu and the slope for leaky_relu (PyTorch's choice at the kink). relu keeps a
// NaN z and passes dy through at it, as the unfused relu / relu_backward.
// Per-element arithmetic is in the compute type C (f32 for f32/f16/bf16 data, f64 for f64);
// per-channel coefficients are formed in f64 and rounded to C once.
#include <cstdint>

#include "kiln/kernels/scalar_ops.h"

namespace kiln {

enum class BnActivation : int32_t { none, relu, leaky_relu, silu };

struct BnActParams {
  BnActivation act = BnActivation::none;
  double slope = 0.01;    // leaky_relu's negative slope
  bool training = true;   // batch statistics (true) or running statistics (false)
  double momentum = 0.1;  // running statistics update, training only
  double eps = 1e-5;
};

const char* bn_activation_name(BnActivation a);

// Checks shared by the CPU and CUDA entry points (kernels/bn_act.cpp); throw kiln::Error naming
// `op`. They return false when there is nothing to do (C == 0).
bool check_bn_act_forward_args(const char* op, int64_t N, int64_t C, int64_t S, const BnActParams& p,
                               const void* running_mean, const void* running_var);
bool check_bn_act_backward_args(const char* op, int64_t N, int64_t C, int64_t S, const BnActParams& p,
                                const void* save_mean, const void* save_invstd);

namespace bn_act {

template <class C>
KILN_HD C act_forward(BnActivation a, C z, C slope) {
  switch (a) {
    case BnActivation::relu: return z < C(0) ? C(0) : z;  // keeps NaN, as relu
    case BnActivation::leaky_relu: return z > C(0) ? z : z * slope;
    case BnActivation::silu: return z * ops::m_sigmoid(z);
    default: return z;
  }
}

// d act / dz at z.
template <class C>
KILN_HD C act_grad(BnActivation a, C z, C slope) {
  switch (a) {
    case BnActivation::relu: return z <= C(0) ? C(0) : C(1);  // a NaN passes dy, as relu_backward
    case BnActivation::leaky_relu: return z > C(0) ? C(1) : slope;
    case BnActivation::silu: {
      C s = ops::m_sigmoid(z);
      return s * (C(1) + z * (C(1) - s));
    }
    default: return C(1);
  }
}

// Per-channel statistics from the shifted sums (training), see the Note.
struct Stats {
  double mean, var;
};
KILN_HD Stats stats_from_sums(double shift, double s1, double s2, double M) {
  double m1 = s1 / M;
  double var = s2 / M - m1 * m1;
  return {shift + m1, var > 0 ? var : 0.0};
}

KILN_HD double running_mean_update(double running, double mean, double momentum) {
  return (1 - momentum) * running + momentum * mean;
}
KILN_HD double running_var_update(double running, double biased_var, double M, double momentum) {
  return (1 - momentum) * running + momentum * biased_var * M / (M - 1);
}

// Forward coefficients of one channel: z = x * scale + shift.
template <class C>
struct FwdCoef {
  C scale, shift;
};
template <class C>
KILN_HD FwdCoef<C> forward_coef(double mean, double invstd, double w, double b) {
  double scale = w * invstd;
  return {C(scale), C(b - mean * scale)};
}

// Backward coefficients of one channel (see the Note): dx = a (dz - mdz - (x - mean) k).
template <class C>
struct BwdCoef {
  C scale, shift;  // forward coefficients, to recompute z
  C a, mean, mdz, k;
};
template <class C>
KILN_HD BwdCoef<C> backward_coef(double mean, double invstd, double w, double b, double sum_dz, double sum_dz_xmu,
                                 double M, bool training) {
  FwdCoef<C> f = forward_coef<C>(mean, invstd, w, b);
  BwdCoef<C> r;
  r.scale = f.scale;
  r.shift = f.shift;
  r.a = C(w * invstd);
  r.mean = C(mean);
  const bool batch = training && M > 0;
  r.mdz = batch ? C(sum_dz / M) : C(0);
  r.k = batch ? C(invstd * invstd * sum_dz_xmu / M) : C(0);
  return r;
}

template <class C>
KILN_HD C dz_of(BnActivation a, C x, C dy, const BwdCoef<C>& k, C slope) {
  if (a == BnActivation::none) return dy;
  return dy * act_grad(a, x * k.scale + k.shift, slope);
}

template <class C>
KILN_HD C dx_of(C x, C dz, const BwdCoef<C>& k) {
  return k.a * (dz - k.mdz - (x - k.mean) * k.k);
}

}  // namespace bn_act
}  // namespace kiln
