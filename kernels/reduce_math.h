#pragma once
// The folds of the reductions (kernels/cpu/reduce.h: ReduceKind) and of the arg-reductions as
// __host__ __device__ structs, with the same formulas as the CPU folds of kernels/cpu/vec/reduce.cpp
// and reduce_arg.cpp: the same accumulator types (f32 for f16/bf16/f32, f64 for f64, i64 for
// integer and bool sums and products), the same identities, the same NaN rules. The CUDA
// reduction kernels (kernels/cuda/reduce_kernels.cuh) run them.
//
// A fold is:
//   using Acc;                                  the accumulator
//   static constexpr bool kCenter;              whether step/finish read a per-output centre
//   Acc init() const;                           identity
//   Acc step(Acc a, C x, Acc centre, int64_t r) const;   absorb element x at reduced index r
//   Acc combine(Acc a, Acc b) const;            merge two partials (a covers earlier elements)
//   void write(int64_t o, Acc a, Acc centre) const;      store output o (the fold holds pointers)
// No std::numeric_limits: device code is compiled without relaxed constexpr.
#include <cmath>
#include <cstdint>
#include <type_traits>

#include "kiln/kernels/cpu/vec_math.h"
#include "kiln/kernels/dtype.h"
#include "kiln/kernels/macros.h"

namespace kiln::reduce_math {

template <class T>
constexpr bool kFloat = std::is_floating_point_v<compute_t<T>>;
// Sums and products: floats in their compute type, integers and bool in i64 (as the CPU).
template <class T>
using sum_acc_t = std::conditional_t<kFloat<T>, compute_t<T>, int64_t>;
template <class T>
using sum_out_t = std::conditional_t<kFloat<T>, T, int64_t>;

// Identity of max (kMax) or min over C: -inf / +inf for floats, the type's extremes otherwise.
template <class C, bool kMax>
KILN_HD C extreme_identity() {
  if constexpr (std::is_same_v<C, float>) return kMax ? -vm::kInf : vm::kInf;
  else if constexpr (std::is_same_v<C, double>) return kMax ? -double(vm::kInf) : double(vm::kInf);
  else if constexpr (std::is_same_v<C, bool>) return !kMax;
  else if constexpr (std::is_same_v<C, uint8_t>) return kMax ? C(0) : C(255);
  else if constexpr (std::is_same_v<C, int32_t>) return kMax ? C(-2147483647 - 1) : C(2147483647);
  else return kMax ? C(-9223372036854775807LL - 1) : C(9223372036854775807LL);
}

template <class C>
KILN_HD bool is_nan(C x) {
  if constexpr (std::is_floating_point_v<C>) return x != x;
  return false;
}

// NaN-propagating max/min step (as extreme_step in kernels/cpu/vec/reduce_engine.h).
template <bool kMax, class C>
KILN_HD C extreme_step(C a, C x) {
  C m = kMax ? (a < x ? x : a) : (x < a ? x : a);
  return is_nan(x) ? x : m;
}

// exp for the logsumexp sums: exact 0 below -87.34 (as the CPU's exp_f32).
KILN_HD float lse_exp(float x) { return x < -87.33654f ? 0.0f : vm::exp(x); }
KILN_HD double lse_exp(double x) { return std::exp(x); }

template <class T>
struct SumFold {
  using Acc = sum_acc_t<T>;
  using C = compute_t<T>;
  static constexpr bool kCenter = false;
  sum_out_t<T>* y = nullptr;
  double scale = 1;  // mean: 1 / count
  KILN_HD Acc init() const { return Acc(0); }
  KILN_HD Acc step(Acc a, C x, Acc, int64_t) const { return a + Acc(x); }
  KILN_HD Acc combine(Acc a, Acc b) const { return a + b; }
  KILN_HD void write(int64_t o, Acc a, Acc) const {
    if constexpr (kFloat<T>)
      y[o] = sum_out_t<T>(C(double(a) * scale));
    else
      y[o] = a;
  }
};

template <class T>
struct ProdFold {
  using Acc = sum_acc_t<T>;
  using C = compute_t<T>;
  static constexpr bool kCenter = false;
  sum_out_t<T>* y = nullptr;
  KILN_HD Acc init() const { return Acc(1); }
  KILN_HD Acc step(Acc a, C x, Acc, int64_t) const { return a * Acc(x); }
  KILN_HD Acc combine(Acc a, Acc b) const { return a * b; }
  KILN_HD void write(int64_t o, Acc a, Acc) const { y[o] = sum_out_t<T>(a); }
};

template <class T, bool kMax>
struct ExtremeFold {
  using Acc = compute_t<T>;
  static constexpr bool kCenter = false;
  T* y = nullptr;
  KILN_HD Acc init() const { return extreme_identity<Acc, kMax>(); }
  KILN_HD Acc step(Acc a, Acc x, Acc, int64_t) const { return extreme_step<kMax>(a, x); }
  KILN_HD Acc combine(Acc a, Acc b) const { return extreme_step<kMax>(a, b); }
  KILN_HD void write(int64_t o, Acc a, Acc) const { y[o] = T(a); }
};

template <class T, bool kAll>
struct LogicalFold {
  using Acc = uint8_t;
  using C = compute_t<T>;
  static constexpr bool kCenter = false;
  bool* y = nullptr;
  KILN_HD Acc init() const { return kAll ? 1 : 0; }
  KILN_HD Acc step(Acc a, C x, Acc, int64_t) const {
    const Acc nz = Acc(x != C(0));
    return kAll ? Acc(a & nz) : Acc(a | nz);
  }
  KILN_HD Acc combine(Acc a, Acc b) const { return kAll ? Acc(a & b) : Acc(a | b); }
  KILN_HD void write(int64_t o, Acc a, Acc) const { y[o] = a != 0; }
};

// kKind 1: sum |x|; 2: sqrt(sum x^2); 3: max |x| (p = inf); 0: (sum |x|^p)^(1/p).
template <class T, int kKind>
struct NormFold {
  using Acc = compute_t<T>;
  static constexpr bool kCenter = false;
  T* y = nullptr;
  Acc p = 2;
  KILN_HD Acc init() const { return Acc(0); }
  KILN_HD Acc step(Acc a, Acc x, Acc, int64_t) const {
    const Acc ax = x < 0 ? -x : x;
    if constexpr (kKind == 1) return a + ax;
    if constexpr (kKind == 2) return a + x * x;
    if constexpr (kKind == 3) return extreme_step<true>(a, ax);
    if constexpr (kKind == 0) return a + Acc(std::pow(ax, p));
  }
  KILN_HD Acc combine(Acc a, Acc b) const {
    if constexpr (kKind == 3) return extreme_step<true>(a, b);
    return a + b;
  }
  KILN_HD void write(int64_t o, Acc a, Acc) const {
    if constexpr (kKind == 2) y[o] = T(Acc(std::sqrt(a)));
    else if constexpr (kKind == 0) y[o] = T(Acc(std::pow(a, Acc(1) / p)));
    else y[o] = T(a);
  }
};

// Centre of logsumexp: the max, 0 when infinite (all -inf gives log(0) + 0 = -inf).
template <class T>
struct LseCenterFold : ExtremeFold<T, true> {
  using Acc = compute_t<T>;
  Acc* centre = nullptr;
  KILN_HD void write(int64_t o, Acc a, Acc) const { centre[o] = (a == vm::kInf || a == -vm::kInf) ? Acc(0) : a; }
};

template <class T>
struct LseFold {
  using Acc = compute_t<T>;
  static constexpr bool kCenter = true;
  T* y = nullptr;
  KILN_HD Acc init() const { return Acc(0); }
  KILN_HD Acc step(Acc a, Acc x, Acc c, int64_t) const { return a + lse_exp(x - c); }
  KILN_HD Acc combine(Acc a, Acc b) const { return a + b; }
  KILN_HD void write(int64_t o, Acc a, Acc c) const { y[o] = T(Acc(std::log(a)) + c); }
};

// Centre of var/std: the mean in the compute type (two-pass variance, as the CPU).
template <class T>
struct MeanCenterFold {
  using Acc = compute_t<T>;
  static constexpr bool kCenter = false;
  Acc* centre = nullptr;
  double scale = 1;
  KILN_HD Acc init() const { return Acc(0); }
  KILN_HD Acc step(Acc a, Acc x, Acc, int64_t) const { return a + x; }
  KILN_HD Acc combine(Acc a, Acc b) const { return a + b; }
  KILN_HD void write(int64_t o, Acc a, Acc) const { centre[o] = Acc(double(a) * scale); }
};

template <class T>
struct SqDevFold {
  using Acc = compute_t<T>;
  static constexpr bool kCenter = true;
  T* y = nullptr;
  double denom = 1;
  bool take_sqrt = false;
  KILN_HD Acc init() const { return Acc(0); }
  KILN_HD Acc step(Acc a, Acc x, Acc c, int64_t) const { return a + (x - c) * (x - c); }
  KILN_HD Acc combine(Acc a, Acc b) const { return a + b; }
  KILN_HD void write(int64_t o, Acc a, Acc) const {
    const double v = double(a) / denom;
    y[o] = T(Acc(take_sqrt ? std::sqrt(v) : v));
  }
};

// Arg-reductions: the value and the index of the first extreme; NaN counts as the extreme and the
// first NaN wins (kernels/cpu/reduce.h reduce_arg). The order "more extreme, then lower index" is
// total, so any combining tree gives the same answer.
template <class C>
struct ArgAcc {
  C v;
  int64_t i;
};

template <class T, bool kMax>
struct ArgFold {
  using C = compute_t<T>;
  using Acc = ArgAcc<C>;
  static constexpr bool kCenter = false;
  T* values = nullptr;  // may be null
  int64_t* indices = nullptr;
  KILN_HD Acc init() const { return Acc{extreme_identity<C, kMax>(), int64_t(9223372036854775807LL)}; }
  // True when b should replace a.
  KILN_HD static bool takes(const Acc& a, const Acc& b) {
    const bool an = is_nan(a.v), bn = is_nan(b.v);
    if (an || bn) return bn && (!an || b.i < a.i);
    if (kMax ? b.v > a.v : b.v < a.v) return true;
    return b.v == a.v && b.i < a.i;
  }
  KILN_HD Acc step(Acc a, C x, Acc, int64_t r) const { return combine(a, Acc{x, r}); }
  KILN_HD Acc combine(Acc a, Acc b) const { return takes(a, b) ? b : a; }
  KILN_HD void write(int64_t o, Acc a, Acc) const {
    indices[o] = a.i;
    if (values) values[o] = T(a.v);
  }
};

}  // namespace kiln::reduce_math
