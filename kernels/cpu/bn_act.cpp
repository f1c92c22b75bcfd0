// Batch norm + activation on the CPU. This is the reference of the CUDA kernels: each channel's
// sums are accumulated in f64 in (n, s) order by one task, so results do not depend on threads.
#include "kiln/kernels/cpu/bn_act.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "kiln/kernels/cpu/parallel.h"
#include "kiln/kernels/error.h"
#include "kiln/kernels/layer_dtype.h"

namespace kiln {

namespace cpu {
namespace {

// Grains (in channels, or in rows of S values) so that a task covers at least ~32k values.
int64_t channel_grain(int64_t M) { return std::max<int64_t>(1, (int64_t(1) << 15) / std::max<int64_t>(1, M)); }
int64_t row_grain(int64_t S) { return channel_grain(S); }

template <class T>
void forward_impl(const T* x, T* y, const compute_t<T>* w, const compute_t<T>* b, compute_t<T>* rm, compute_t<T>* rv,
                  compute_t<T>* save_mean, compute_t<T>* save_invstd, int64_t N, int64_t C, int64_t S,
                  const BnActParams& p) {
  using Cm = compute_t<T>;
  const int64_t M = N * S;
  std::vector<bn_act::FwdCoef<Cm>> coef(static_cast<size_t>(C));
  parallel_for(0, C, channel_grain(M), [&](int64_t cb, int64_t ce) {
    for (int64_t c = cb; c < ce; ++c) {
      double mean, invstd;
      if (p.training) {
        const double K = double(Cm(x[c * S]));
        double s1 = 0, s2 = 0;
        for (int64_t n = 0; n < N; ++n) {
          const T* row = x + (n * C + c) * S;
          for (int64_t s = 0; s < S; ++s) {
            double v = double(Cm(row[s])) - K;
            s1 += v;
            s2 += v * v;
          }
        }
        bn_act::Stats st = bn_act::stats_from_sums(K, s1, s2, double(M));
        mean = st.mean;
        invstd = 1.0 / std::sqrt(st.var + p.eps);
        if (rm) {
          rm[c] = Cm(bn_act::running_mean_update(double(rm[c]), st.mean, p.momentum));
          rv[c] = Cm(bn_act::running_var_update(double(rv[c]), st.var, double(M), p.momentum));
        }
      } else {
        mean = double(rm[c]);
        invstd = 1.0 / std::sqrt(double(rv[c]) + p.eps);
      }
      if (save_mean) save_mean[c] = Cm(mean);
      if (save_invstd) save_invstd[c] = Cm(invstd);
      // From the stored (rounded) statistics, which the backward reads to recompute z.
      coef[size_t(c)] = bn_act::forward_coef<Cm>(double(Cm(mean)), double(Cm(invstd)), w ? double(w[c]) : 1.0,
                                                 b ? double(b[c]) : 0.0);
    }
  });
  const Cm slope = Cm(p.slope);
  const int64_t rows = N * C;
  parallel_for(0, rows, row_grain(S), [&](int64_t rb, int64_t re) {
    for (int64_t r = rb; r < re; ++r) {
      const bn_act::FwdCoef<Cm> k = coef[size_t(r % C)];
      const T* xr = x + r * S;
      T* yr = y + r * S;
      for (int64_t s = 0; s < S; ++s) yr[s] = T(bn_act::act_forward(p.act, Cm(xr[s]) * k.scale + k.shift, slope));
    }
  });
}

template <class T>
void backward_impl(const T* dy, const T* x, const compute_t<T>* w, const compute_t<T>* b, const compute_t<T>* mean,
                   const compute_t<T>* invstd, T* dx, compute_t<T>* dw, compute_t<T>* db, int64_t N, int64_t C,
                   int64_t S, const BnActParams& p) {
  using Cm = compute_t<T>;
  const int64_t M = N * S;
  const Cm slope = Cm(p.slope);
  std::vector<bn_act::BwdCoef<Cm>> coef(static_cast<size_t>(C));
  parallel_for(0, C, channel_grain(M), [&](int64_t cb, int64_t ce) {
    for (int64_t c = cb; c < ce; ++c) {
      const double mu = double(mean[c]), is = double(invstd[c]);
      const double wc = w ? double(w[c]) : 1.0, bc = b ? double(b[c]) : 0.0;
      // The forward coefficients come first: dz needs z.
      bn_act::BwdCoef<Cm> k = bn_act::backward_coef<Cm>(mu, is, wc, bc, 0, 0, double(M), p.training);
      const Cm mu_c = Cm(mu);
      double s1 = 0, s2 = 0;
      for (int64_t n = 0; n < N; ++n) {
        const T* xr = x + (n * C + c) * S;
        const T* gr = dy + (n * C + c) * S;
        for (int64_t s = 0; s < S; ++s) {
          const Cm xv = Cm(xr[s]);
          const Cm dz = bn_act::dz_of(p.act, xv, Cm(gr[s]), k, slope);
          s1 += double(dz);
          s2 += double(dz) * double(xv - mu_c);
        }
      }
      if (db) db[c] = Cm(s1);
      if (dw) dw[c] = Cm(s2 * is);
      coef[size_t(c)] = bn_act::backward_coef<Cm>(mu, is, wc, bc, s1, s2, double(M), p.training);
    }
  });
  if (!dx) return;
  const int64_t rows = N * C;
  parallel_for(0, rows, row_grain(S), [&](int64_t rb, int64_t re) {
    for (int64_t r = rb; r < re; ++r) {
      const bn_act::BwdCoef<Cm> k = coef[size_t(r % C)];
      const T* xr = x + r * S;
      const T* gr = dy + r * S;
      T* dr = dx + r * S;
      for (int64_t s = 0; s < S; ++s) {
        const Cm xv = Cm(xr[s]);
        dr[s] = T(bn_act::dx_of(xv, bn_act::dz_of(p.act, xv, Cm(gr[s]), k, slope), k));
      }
    }
  });
}

}  // namespace

void bn_act_forward(DType dtype, const void* x, void* y, const void* weight, const void* bias, void* running_mean,
                    void* running_var, void* save_mean, void* save_invstd, int64_t N, int64_t C, int64_t S,
                    const BnActParams& p) {
  const char* op = "bn_act_forward";
  if (!check_bn_act_forward_args(op, N, C, S, p, running_mean, running_var)) return;
  dispatch_layer_dtype(dtype, op, [&](auto tag) {
    using T = decltype(tag);
    using Cm = compute_t<T>;
    forward_impl<T>(static_cast<const T*>(x), static_cast<T*>(y), static_cast<const Cm*>(weight),
                    static_cast<const Cm*>(bias), static_cast<Cm*>(running_mean), static_cast<Cm*>(running_var),
                    static_cast<Cm*>(save_mean), static_cast<Cm*>(save_invstd), N, C, S, p);
  });
}

void bn_act_backward(DType dtype, const void* dy, const void* x, const void* weight, const void* bias,
                     const void* save_mean, const void* save_invstd, void* dx, void* dweight, void* dbias, int64_t N,
                     int64_t C, int64_t S, const BnActParams& p) {
  const char* op = "bn_act_backward";
  if (!check_bn_act_backward_args(op, N, C, S, p, save_mean, save_invstd)) return;
  dispatch_layer_dtype(dtype, op, [&](auto tag) {
    using T = decltype(tag);
    using Cm = compute_t<T>;
    backward_impl<T>(static_cast<const T*>(dy), static_cast<const T*>(x), static_cast<const Cm*>(weight),
                     static_cast<const Cm*>(bias), static_cast<const Cm*>(save_mean),
                     static_cast<const Cm*>(save_invstd), static_cast<T*>(dx), static_cast<Cm*>(dweight),
                     static_cast<Cm*>(dbias), N, C, S, p);
  });
}

}  // namespace cpu
}  // namespace kiln
