// Fused log-softmax + NLL on the CPU. Rows run in parallel; each row's sums and the reduction
// over rows are accumulated in f64 in index order, so the result does not depend on threads.
#include "kiln/kernels/cpu/cross_entropy.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "kiln/kernels/cpu/parallel.h"
#include "kiln/kernels/layer_dtype.h"
#include "kiln/kernels/scalar_ops.h"

namespace kiln::cpu {
namespace {

void check_args(const char* op, const int64_t* target, int64_t N, int64_t C, const CrossEntropyParams& p) {
  KILN_CHECK(N >= 0 && C >= 1, op, ": need N >= 0 rows of C >= 1 classes, got N=", N, " C=", C);
  KILN_CHECK(p.label_smoothing >= 0 && p.label_smoothing <= 1, op, ": label_smoothing must be in [0, 1], got ",
             p.label_smoothing);
  KILN_CHECK(p.reduction == CeReduction::none || p.reduction == CeReduction::sum || p.reduction == CeReduction::mean,
             op, ": unknown reduction code ", int(p.reduction));
  for (int64_t i = 0; i < N; ++i) {
    const int64_t t = target[i];
    KILN_CHECK(t == p.ignore_index || (t >= 0 && t < C), op, ": target ", t, " of row ", i, " is out of range [0, ", C,
               ") and is not ignore_index=", p.ignore_index);
  }
}

int64_t row_grain(int64_t C) { return std::max<int64_t>(1, (int64_t(1) << 14) / C); }

template <class T>
void forward_impl(const T* x, const int64_t* target, const compute_t<T>* w, int64_t N, int64_t C,
                  const CrossEntropyParams& p, T* loss, compute_t<T>* lse, compute_t<T>* denom) {
  using Cm = compute_t<T>;
  const Cm eps = Cm(p.label_smoothing), eps_c = Cm(p.label_smoothing / double(C));
  std::vector<double> row_loss(static_cast<size_t>(N)), row_w(static_cast<size_t>(N));
  parallel_for(0, N, row_grain(C), [&](int64_t rb, int64_t re) {
    for (int64_t i = rb; i < re; ++i) {
      const T* xr = x + i * C;
      const int64_t t = target[i];
      const bool ignored = t == p.ignore_index;
      Cm m = -std::numeric_limits<Cm>::infinity();
      for (int64_t c = 0; c < C; ++c) {
        const Cm v = Cm(xr[c]);
        m = (v != v || v > m) ? v : m;
      }
      double se = 0, qx = 0, qs = 0;
      for (int64_t c = 0; c < C; ++c) {
        const Cm v = Cm(xr[c]) - m;
        se += double(ops::m_exp(v));
        if (ignored) continue;
        const Cm q = cross_entropy::class_coef(c, t, w ? w[c] : Cm(1), eps, eps_c);
        if (q != Cm(0)) qx += double(q) * double(v);
        qs += double(q);
      }
      const double log_se = std::log(se);
      if (lse) lse[i] = Cm(double(m) + log_se);
      row_loss[size_t(i)] = ignored ? 0.0 : cross_entropy::row_loss(log_se, qs, qx);
      row_w[size_t(i)] = ignored ? 0.0 : (w ? double(w[t]) : 1.0);
      if (p.reduction == CeReduction::none) loss[i] = T(Cm(row_loss[size_t(i)]));
    }
  });
  double total = 0, wsum = 0;
  for (int64_t i = 0; i < N; ++i) {
    total += row_loss[size_t(i)];
    wsum += row_w[size_t(i)];
  }
  if (denom) denom[0] = Cm(wsum);
  if (p.reduction == CeReduction::sum) loss[0] = T(Cm(total));
  if (p.reduction == CeReduction::mean) loss[0] = T(Cm(total / wsum));
}

template <class T>
void backward_impl(const T* dloss, const T* x, const int64_t* target, const compute_t<T>* w, const compute_t<T>* lse,
                   const compute_t<T>* denom, int64_t N, int64_t C, const CrossEntropyParams& p, T* dx) {
  using Cm = compute_t<T>;
  const Cm eps = Cm(p.label_smoothing), eps_c = Cm(p.label_smoothing / double(C));
  parallel_for(0, N, row_grain(C), [&](int64_t rb, int64_t re) {
    for (int64_t i = rb; i < re; ++i) {
      const T* xr = x + i * C;
      T* dr = dx + i * C;
      const int64_t t = target[i];
      if (t == p.ignore_index) {
        for (int64_t c = 0; c < C; ++c) dr[c] = T(Cm(0));
        continue;
      }
      const Cm g = p.reduction == CeReduction::none  ? Cm(dloss[i])
                   : p.reduction == CeReduction::sum ? Cm(dloss[0])
                                                     : Cm(dloss[0]) / denom[0];
      double qs = 0;
      for (int64_t c = 0; c < C; ++c) qs += double(cross_entropy::class_coef(c, t, w ? w[c] : Cm(1), eps, eps_c));
      const Cm q_sum = Cm(qs), l = lse[i];
      for (int64_t c = 0; c < C; ++c) {
        const Cm q = cross_entropy::class_coef(c, t, w ? w[c] : Cm(1), eps, eps_c);
        dr[c] = T(cross_entropy::logit_grad(g, ops::m_exp(Cm(xr[c]) - l), q_sum, q));
      }
    }
  });
}

}  // namespace

void cross_entropy_forward(DType dtype, const void* logits, const int64_t* target, const void* weight, int64_t N,
                           int64_t C, const CrossEntropyParams& p, void* loss, void* lse, void* denom) {
  const char* op = "cross_entropy_forward";
  check_args(op, target, N, C, p);
  dispatch_layer_dtype(dtype, op, [&](auto tag) {
    using T = decltype(tag);
    using Cm = compute_t<T>;
    forward_impl<T>(static_cast<const T*>(logits), target, static_cast<const Cm*>(weight), N, C, p,
                    static_cast<T*>(loss), static_cast<Cm*>(lse), static_cast<Cm*>(denom));
  });
}

void cross_entropy_backward(DType dtype, const void* dloss, const void* logits, const int64_t* target,
                            const void* weight, const void* lse, const void* denom, int64_t N, int64_t C,
                            const CrossEntropyParams& p, void* dlogits) {
  const char* op = "cross_entropy_backward";
  check_args(op, target, N, C, p);
  KILN_CHECK(N == 0 || lse != nullptr, op, ": lse (from the forward) is required");
  KILN_CHECK(p.reduction != CeReduction::mean || denom != nullptr, op, ": reduction mean needs denom");
  dispatch_layer_dtype(dtype, op, [&](auto tag) {
    using T = decltype(tag);
    using Cm = compute_t<T>;
    backward_impl<T>(static_cast<const T*>(dloss), static_cast<const T*>(logits), target,
                     static_cast<const Cm*>(weight), static_cast<const Cm*>(lse), static_cast<const Cm*>(denom), N, C,
                     p, static_cast<T*>(dlogits));
  });
}

}  // namespace kiln::cpu
