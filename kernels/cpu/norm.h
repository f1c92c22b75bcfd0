#pragma once
// Batch norm and layer norm CPU kernels, compiled once per instruction set (Note [ISA dispatch]).
// dtype is f32 or f64; per-channel / per-row statistics and coefficients are passed as double.
//
// Batch norm sees the contiguous input as [N, C, S] (S = product of the spatial dims, 1 for
// [N, C] inputs); statistics are per channel over N * S values.
// Layer norm sees it as [M, N]: M rows, each normalised over its N contiguous values.
#include <cstdint>

#include "kiln/kernels/bn_act_math.h"
#include "kiln/kernels/cpu/isa.h"
#include "kiln/kernels/dtype.h"

// mean[c] and biased variance var[c] over N * S values of each channel.
KILN_DECLARE_ISA_FN(void, batch_norm_stats, kiln::DType dtype, const void* x, int64_t N, int64_t C, int64_t S,
                    double* mean, double* var)
// y = act(x * scale[c] + shift[c]) (Note [Batch norm + activation]: act is none, relu or
// leaky_relu with `slope`).
KILN_DECLARE_ISA_FN(void, batch_norm_apply, kiln::DType dtype, const void* x, void* y, int64_t N, int64_t C,
                    int64_t S, const double* scale, const double* shift, kiln::BnActivation act, double slope)
// sum_dy[c] = sum(dz), sum_dy_xmu[c] = sum(dz * (x - mean[c])) over each channel, where dz = dy for
// act none, else dy * act'(z) with z = x * scale[c] + shift[c] recomputed from the forward's
// coefficients (relu: dz = z > 0 ? dy : 0; leaky_relu: dy times 1 or slope).
KILN_DECLARE_ISA_FN(void, batch_norm_backward_reduce, kiln::DType dtype, const void* dy, const void* x, int64_t N,
                    int64_t C, int64_t S, const double* mean, double* sum_dy, double* sum_dy_xmu,
                    kiln::BnActivation act, double slope, const double* scale, const double* shift)
// dx = a[c] * dz + b[c] * x + d[c], dz as in batch_norm_backward_reduce.
KILN_DECLARE_ISA_FN(void, batch_norm_backward_apply, kiln::DType dtype, const void* dy, const void* x, void* dx,
                    int64_t N, int64_t C, int64_t S, const double* a, const double* b, const double* d,
                    kiln::BnActivation act, double slope, const double* scale, const double* shift)
// Per row: mean, rstd = 1 / sqrt(biased var + eps), y = (x - mean) * rstd * w + b (w, b may be null,
// meaning 1 and 0; they have N values). mean and rstd have M values of the same dtype.
KILN_DECLARE_ISA_FN(void, layer_norm_forward, kiln::DType dtype, const void* x, const void* w, const void* b,
                    void* y, void* mean, void* rstd, int64_t M, int64_t N, double eps)
// dx (per row), dw and db (sums over rows, N values each; deterministic fixed row chunks).
// w may be null (ones). dw / db may be null (not computed).
KILN_DECLARE_ISA_FN(void, layer_norm_backward, kiln::DType dtype, const void* dy, const void* x, const void* mean,
                    const void* rstd, const void* w, void* dx, void* dw, void* db, int64_t M, int64_t N)
// Group norm over x [N, C, S] with G groups of C / G channels: statistics per (n, group) over its
// C / G * S contiguous values; y = (x - mean) * rstd * w[c] + b[c] (w, b may be null). mean and
// rstd are [N, G] of the same dtype.
KILN_DECLARE_ISA_FN(void, group_norm_forward, kiln::DType dtype, const void* x, const void* w, const void* b,
                    void* y, void* mean, void* rstd, int64_t N, int64_t C, int64_t S, int64_t G, double eps)
// dx, and dw / db ([C], always written) of group norm; w may be null (ones).
KILN_DECLARE_ISA_FN(void, group_norm_backward, kiln::DType dtype, const void* dy, const void* x, const void* mean,
                    const void* rstd, const void* w, void* dx, void* dw, void* db, int64_t N, int64_t C, int64_t S,
                    int64_t G)

namespace kiln::cpu {
inline void batch_norm_stats(DType dtype, const void* x, int64_t N, int64_t C, int64_t S, double* mean, double* var) {
  KILN_ISA_CALL(batch_norm_stats, dtype, x, N, C, S, mean, var);
}
inline void batch_norm_apply(DType dtype, const void* x, void* y, int64_t N, int64_t C, int64_t S,
                             const double* scale, const double* shift, BnActivation act = BnActivation::none,
                             double slope = 0.0) {
  KILN_ISA_CALL(batch_norm_apply, dtype, x, y, N, C, S, scale, shift, act, slope);
}
inline void batch_norm_backward_reduce(DType dtype, const void* dy, const void* x, int64_t N, int64_t C, int64_t S,
                                       const double* mean, double* sum_dy, double* sum_dy_xmu,
                                       BnActivation act = BnActivation::none, double slope = 0.0,
                                       const double* scale = nullptr, const double* shift = nullptr) {
  KILN_ISA_CALL(batch_norm_backward_reduce, dtype, dy, x, N, C, S, mean, sum_dy, sum_dy_xmu, act, slope, scale,
                shift);
}
inline void batch_norm_backward_apply(DType dtype, const void* dy, const void* x, void* dx, int64_t N, int64_t C,
                                      int64_t S, const double* a, const double* b, const double* d,
                                      BnActivation act = BnActivation::none, double slope = 0.0,
                                      const double* scale = nullptr, const double* shift = nullptr) {
  KILN_ISA_CALL(batch_norm_backward_apply, dtype, dy, x, dx, N, C, S, a, b, d, act, slope, scale, shift);
}
inline void layer_norm_forward(DType dtype, const void* x, const void* w, const void* b, void* y, void* mean,
                               void* rstd, int64_t M, int64_t N, double eps) {
  KILN_ISA_CALL(layer_norm_forward, dtype, x, w, b, y, mean, rstd, M, N, eps);
}
inline void layer_norm_backward(DType dtype, const void* dy, const void* x, const void* mean, const void* rstd,
                                const void* w, void* dx, void* dw, void* db, int64_t M, int64_t N) {
  KILN_ISA_CALL(layer_norm_backward, dtype, dy, x, mean, rstd, w, dx, dw, db, M, N);
}
inline void group_norm_forward(DType dtype, const void* x, const void* w, const void* b, void* y, void* mean,
                               void* rstd, int64_t N, int64_t C, int64_t S, int64_t G, double eps) {
  KILN_ISA_CALL(group_norm_forward, dtype, x, w, b, y, mean, rstd, N, C, S, G, eps);
}
inline void group_norm_backward(DType dtype, const void* dy, const void* x, const void* mean, const void* rstd,
                                const void* w, void* dx, void* dw, void* db, int64_t N, int64_t C, int64_t S,
                                int64_t G) {
  KILN_ISA_CALL(group_norm_backward, dtype, dy, x, mean, rstd, w, dx, dw, db, N, C, S, G);
}
}  // namespace kiln::cpu
