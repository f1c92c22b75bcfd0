// Compiled once per instruction set (Note [ISA dispatch] in kernels/cpu/isa.h).
// The folds of kernels/cpu/reduce.h as Ops of the engine in reduce_engine.h.
#include <cmath>
#include <limits>
#include <type_traits>
#include <vector>

#include "kiln/kernels/convert.h"
#include "kiln/kernels/reduce_math.h"
#include "kiln/kernels/cpu/vec_math.h"
#include "kiln/kernels/cpu/vec/reduce_engine.h"

namespace KILN_ISA_NAMESPACE {
namespace {

// Accumulator and output types shared with the CUDA reductions (kernels/reduce_math.h): integers
// and bools in i64, floats in their compute type (f32 for f16/bf16), with the lane/chunk
// structure keeping f32 error small.
using reduce_math::kFloat;
using reduce_math::sum_acc_t;
using reduce_math::sum_out_t;

template <class T>
struct SumOp {
  using Acc = sum_acc_t<T>;
  static constexpr bool kCenter = false;
  double scale = 1;
  Acc init() const { return Acc(0); }
  Acc step(Acc a, compute_t<T> x, Acc) const { return a + Acc(x); }
  Acc combine(Acc a, Acc b) const { return a + b; }
  sum_out_t<T> finish(Acc a, Acc) const {
    if constexpr (kFloat<T>)
      return sum_out_t<T>(compute_t<T>(double(a) * scale));
    else
      return a;
  }
};

template <class T>
struct ProdOp {
  using Acc = sum_acc_t<T>;
  static constexpr bool kCenter = false;
  Acc init() const { return Acc(1); }
  Acc step(Acc a, compute_t<T> x, Acc) const { return a * Acc(x); }
  Acc combine(Acc a, Acc b) const { return a * b; }
  sum_out_t<T> finish(Acc a, Acc) const { return sum_out_t<T>(a); }
};

// Max / min that propagate NaN: once a NaN is absorbed, no comparison replaces it.
template <class T, bool kMax>
struct ExtremeOp {
  using Acc = compute_t<T>;
  static constexpr bool kCenter = false;
  Acc init() const {
    if constexpr (kFloat<T>)
      return kMax ? -std::numeric_limits<Acc>::infinity() : std::numeric_limits<Acc>::infinity();
    else
      return kMax ? std::numeric_limits<Acc>::lowest() : std::numeric_limits<Acc>::max();
  }
  Acc step(Acc a, Acc x, Acc) const { return extreme_step<kMax>(a, x); }
  Acc combine(Acc a, Acc b) const { return step(a, b, a); }
  T finish(Acc a, Acc) const { return T(a); }
};

template <class T, bool kAll>
struct LogicalOp {
  using Acc = uint8_t;
  static constexpr bool kCenter = false;
  Acc init() const { return kAll ? 1 : 0; }
  Acc step(Acc a, compute_t<T> x, Acc) const { return kAll ? Acc(a & Acc(x != compute_t<T>(0))) : Acc(a | Acc(x != compute_t<T>(0))); }
  Acc combine(Acc a, Acc b) const { return kAll ? Acc(a & b) : Acc(a | b); }
  bool finish(Acc a, Acc) const { return a != 0; }
};

// Norms: kind 1 sum |x|, 2 sqrt(sum x^2), 3 max |x| (p = inf), 0 (sum |x|^p)^(1/p).
template <class T, int kKind>
struct NormOp {
  using Acc = compute_t<T>;
  static constexpr bool kCenter = false;
  Acc p = 2;
  Acc init() const { return Acc(0); }
  Acc step(Acc a, Acc x, Acc) const {
    Acc ax = x < 0 ? -x : x;
    if constexpr (kKind == 1) return a + ax;
    if constexpr (kKind == 2) return a + x * x;
    if constexpr (kKind == 3) return extreme_step<true>(a, ax);
    if constexpr (kKind == 0) return a + std::pow(ax, p);
  }
  Acc combine(Acc a, Acc b) const {
    if constexpr (kKind == 3) return extreme_step<true>(a, b);
    return a + b;
  }
  T finish(Acc a, Acc) const {
    if constexpr (kKind == 2) return T(std::sqrt(a));
    if constexpr (kKind == 0) return T(std::pow(a, Acc(1) / p));
    return T(a);
  }
};

// Centre for logsumexp: the max, replaced by 0 when infinite so that all -inf gives
// log(0) + 0 = -inf and a +inf gives +inf (NaN stays NaN).
template <class T>
struct LseCenterOp : ExtremeOp<T, true> {
  compute_t<T> finish(compute_t<T> a, compute_t<T>) const { return std::isinf(a) ? compute_t<T>(0) : a; }
};

// exp for f32 that vectorises (the shared vm::exp), 0 below -87.34: it feeds sums whose largest
// term is exp(0) = 1, so denormal terms do not matter.
inline float exp_f32(float x) { return x < -87.33654f ? 0.0f : vm::exp(x); }

template <class T>
struct LseOp {
  using Acc = compute_t<T>;
  static constexpr bool kCenter = true;
  Acc init() const { return Acc(0); }
  Acc step(Acc a, Acc x, Acc c) const {
    if constexpr (std::is_same_v<Acc, float>)
      return a + exp_f32(x - c);
    else
      return a + std::exp(x - c);
  }
  Acc combine(Acc a, Acc b) const { return a + b; }
  T finish(Acc a, Acc c) const { return T(std::log(a) + c); }
};

// Centre for var/std: the mean in the compute type.
template <class T>
struct MeanCenterOp : SumOp<T> {
  compute_t<T> finish(compute_t<T> a, compute_t<T>) const { return compute_t<T>(double(a) * this->scale); }
};

// Second pass of var/std: squared deviations from the row's mean (two-pass, no cancellation).
template <class T>
struct SqDevOp {
  using Acc = compute_t<T>;
  static constexpr bool kCenter = true;
  double denom = 1;
  bool take_sqrt = false;
  Acc init() const { return Acc(0); }
  Acc step(Acc a, Acc x, Acc c) const { return a + (x - c) * (x - c); }
  Acc combine(Acc a, Acc b) const { return a + b; }
  T finish(Acc a, Acc) const {
    double v = double(a) / denom;
    return T(compute_t<T>(take_sqrt ? std::sqrt(v) : v));
  }
};

// Which dims of the input are reduced: the middle one of [n0, n1, n2], or (split) the outer two.
struct Layout {
  bool split;
  int64_t n0, n1, n2;
  int64_t outputs() const { return split ? n1 : n0 * n2; }
  int64_t reduced() const { return split ? n0 * n2 : n1; }
  template <class Op, class T, class Y>
  void run(const Op& op, const T* x, Y* y, const typename Op::Acc* center = nullptr) const {
    if (split)
      run_reduce_split(op, x, n0, n1, n2, y, center);
    else
      run_reduce(op, x, n0, n1, n2, y, center);
  }
};

template <class T>
void reduce_floating(cpu::ReduceKind kind, const T* x, const Layout& L, T* y, T* aux,
                     const cpu::ReduceParams& params) {
  using C = compute_t<T>;
  using K = cpu::ReduceKind;
  switch (kind) {
    case K::mean: {
      SumOp<T> op;
      op.scale = 1.0 / double(L.reduced());
      L.run(op, x, y);
      return;
    }
    case K::norm: {
      double p = params.p;
      if (p == 1) return L.run(NormOp<T, 1>{}, x, y);
      if (p == 2) return L.run(NormOp<T, 2>{}, x, y);
      if (std::isinf(p)) return L.run(NormOp<T, 3>{}, x, y);
      NormOp<T, 0> op;
      op.p = C(p);
      return L.run(op, x, y);
    }
    case K::logsumexp: {
      std::vector<C> center(size_t(L.outputs()));
      L.run(LseCenterOp<T>{}, x, center.data());
      L.run(LseOp<T>{}, x, y, center.data());
      return;
    }
    case K::var:
    case K::std: {
      std::vector<C> center(size_t(L.outputs()));
      MeanCenterOp<T> mop;
      mop.scale = 1.0 / double(L.reduced());
      L.run(mop, x, center.data());
      SqDevOp<T> op;
      op.denom = double(L.reduced()) - params.correction;
      op.take_sqrt = kind == K::std;
      L.run(op, x, y, center.data());
      if (aux)
        for (size_t i = 0; i < center.size(); ++i) aux[i] = T(center[i]);
      return;
    }
    default: return;
  }
}

}  // namespace

namespace {
void reduce_layout(cpu::ReduceKind kind, DType dtype, const void* xv, const Layout& L, void* yv, void* aux,
                   const cpu::ReduceParams& params) {
  using K = cpu::ReduceKind;
  dispatch_dtype(dtype, [&](auto tag) {
    using T = decltype(tag);
    const T* x = static_cast<const T*>(xv);
    switch (kind) {
      case K::sum: return L.run(SumOp<T>{}, x, static_cast<sum_out_t<T>*>(yv));
      case K::prod: return L.run(ProdOp<T>{}, x, static_cast<sum_out_t<T>*>(yv));
      case K::max: return L.run(ExtremeOp<T, true>{}, x, static_cast<T*>(yv));
      case K::min: return L.run(ExtremeOp<T, false>{}, x, static_cast<T*>(yv));
      case K::any: return L.run(LogicalOp<T, false>{}, x, static_cast<bool*>(yv));
      case K::all: return L.run(LogicalOp<T, true>{}, x, static_cast<bool*>(yv));
      default:
        if constexpr (kFloat<T>) reduce_floating(kind, x, L, static_cast<T*>(yv), static_cast<T*>(aux), params);
        return;
    }
  });
}
}  // namespace

void reduce(cpu::ReduceKind kind, DType dtype, const void* x, int64_t outer, int64_t R, int64_t inner, void* y,
            void* aux, const cpu::ReduceParams& params) {
  reduce_layout(kind, dtype, x, Layout{false, outer, R, inner}, y, aux, params);
}

void reduce_split(cpu::ReduceKind kind, DType dtype, const void* x, int64_t A, int64_t K, int64_t B, void* y,
                  void* aux, const cpu::ReduceParams& params) {
  reduce_layout(kind, dtype, x, Layout{true, A, K, B}, y, aux, params);
}

}  // namespace KILN_ISA_NAMESPACE
