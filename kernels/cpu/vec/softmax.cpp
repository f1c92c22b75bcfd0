// Softmax kernels, compiled once per instruction set (Note [ISA dispatch] in kernels/cpu/isa.h).
//
// Note [Online softmax]
// A row is cut into blocks of kBlock values. For each block we take the block maximum; when it
// exceeds the running maximum m, the running sum s is rescaled by exp(m_old - m_new) once, and the
// block's exp(x - m) are added to s. The block is still in L1 when it is read the second time, so
// the statistics cost one pass over memory and one exp per element; the output is a second pass.
// That is the log-softmax path (its output needs no exp). Softmax itself keeps the exps instead
// (Note [Softmax blocks]), so it also computes one exp per element, not two.
// Sums and maxima use fixed lane arrays (kLanes<C> partial values combined in lane order), which
// the compiler turns into vector registers without reassociating float additions, and which keep
// the result independent of the thread count (a row is always processed by one thread).
// Let GCC if-convert the float compares of the exp/max loops into vector selects: with the default
// -ftrapping-math it keeps them as branches (a compare may raise an FP exception flag), which
// blocks vectorisation. kiln never reads FP exception flags. Placed before the includes so every
// function of this file has the same options (mixed options block inlining).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("no-trapping-math")
#endif
#include "kiln/kernels/cpu/softmax.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <limits>
#include <vector>

#include "kiln/kernels/cpu/parallel.h"
#include "kiln/kernels/cpu/vec_math.h"

namespace KILN_ISA_NAMESPACE {
namespace {

// exp for f32 that the compiler can vectorise: the shared vm::exp, with an exact 0 below -87.33
// (the true value is subnormal) so that masked (-inf) entries contribute exactly nothing.
inline float vexp(float x) { return x < -87.33f ? 0.0f : vm::exp(x); }
inline double vexp(double x) { return std::exp(x); }

template <class C> constexpr int kLanes = int(64 / sizeof(C));
constexpr int64_t kBlock = 512;
constexpr int64_t kTile = 256;  // inner positions processed together on the strided path

// Max of n values (NaN is skipped unless it comes first; the sums that follow turn any NaN of the
// row into NaN anyway). Four vectors of lanes, or the loop is bound by the latency of the max;
// written as selects with a lane-wise tail and a halving tree so that GCC vectorises all of it
// (with std::max and a serial tail it emits a scalar loop with a branch per element).
template <class C>
C lanes_max(const C* KILN_RESTRICT x, int64_t n) {
  constexpr int L = 4 * kLanes<C>;
  C lm[L];
  for (int k = 0; k < L; ++k) lm[k] = -std::numeric_limits<C>::infinity();
  int64_t i = 0;
  for (; i + L <= n; i += L)
    for (int k = 0; k < L; ++k) {
      const C v = x[i + k];
      lm[k] = lm[k] < v ? v : lm[k];
    }
  for (int k = 0; i + k < n; ++k) {
    const C v = x[i + k];
    lm[k] = lm[k] < v ? v : lm[k];
  }
  for (int w = L / 2; w >= 1; w /= 2)
    for (int k = 0; k < w; ++k) lm[k] = lm[k] < lm[k + w] ? lm[k + w] : lm[k];
  return lm[0];
}

// y = exp(x - m) over n values; returns their sum in lane order.
template <class C>
C lanes_exp_store(const C* KILN_RESTRICT x, C* KILN_RESTRICT y, int64_t n, C m) {
  constexpr int L = kLanes<C>;
  C ls[L] = {};
  int64_t i = 0;
  for (; i + L <= n; i += L)
    for (int k = 0; k < L; ++k) {
      const C e = vexp(x[i + k] - m);
      y[i + k] = e;
      ls[k] += e;
    }
  for (; i < n; ++i) {
    const C e = vexp(x[i] - m);
    y[i] = e;
    ls[0] += e;
  }
  C s = 0;
  for (int k = 0; k < L; ++k) s += ls[k];
  return s;
}

// sum(exp(x - m)) in lane order.
template <class C>
C lanes_sum_exp(const C* x, int64_t n, C m) {
  constexpr int L = kLanes<C>;
  C ls[L] = {};
  int64_t i = 0;
  for (; i + L <= n; i += L)
    for (int k = 0; k < L; ++k) ls[k] += vexp(x[i + k] - m);
  for (; i < n; ++i) ls[0] += vexp(x[i] - m);
  C s = 0;
  for (int k = 0; k < L; ++k) s += ls[k];
  return s;
}

// sum(a * b) (b == nullptr: sum(a)) in lane order.
template <class C>
C lanes_dot(const C* a, const C* b, int64_t n) {
  constexpr int L = kLanes<C>;
  C ls[L] = {};
  int64_t i = 0;
  if (b) {
    for (; i + L <= n; i += L)
      for (int k = 0; k < L; ++k) ls[k] += a[i + k] * b[i + k];
    for (; i < n; ++i) ls[0] += a[i] * b[i];
  } else {
    for (; i + L <= n; i += L)
      for (int k = 0; k < L; ++k) ls[k] += a[i + k];
    for (; i < n; ++i) ls[0] += a[i];
  }
  C s = 0;
  for (int k = 0; k < L; ++k) s += ls[k];
  return s;
}

// Note [Online softmax]: running max and sum of exp over one contiguous row.
template <class C>
void row_max_sum(const C* x, int64_t D, C& m_out, C& s_out) {
  C m = -std::numeric_limits<C>::infinity(), s = 0;
  for (int64_t b = 0; b < D; b += kBlock) {
    const int64_t n = std::min(kBlock, D - b);
    const C bm = lanes_max(x + b, n);
    if (bm > m) {
      s *= vexp(m - bm);
      m = bm;
    }
    if (m == -std::numeric_limits<C>::infinity()) continue;  // only -inf so far: nothing to add
    s += lanes_sum_exp(x + b, n, m);
  }
  m_out = m;
  s_out = s;
}

// Note [Softmax blocks]
// softmax of one contiguous row with one exp per element. The row is cut into blocks of
// kSoftBlock values; each block gets its own shift b = its maximum, and y = exp(x - b) is stored
// while the block is still in L1 from the max pass, with the block sum s. With M the largest
// shift and S = sum over blocks of s * exp(b - M), the last pass scales each block by
// exp(b - M) / S. A block of only -inf (and NaN) values gets shift -inf and y = 0 (NaN kept), so
// it vanishes from S; a row of only -inf gives NaN, as exp(x - max(x)) does.
constexpr int64_t kSoftBlock = 2048;
constexpr int64_t kSoftStackBlocks = 32;

template <class C>
void softmax_row(const C* KILN_RESTRICT x, C* KILN_RESTRICT y, int64_t D) {
  const int64_t nb = (D + kSoftBlock - 1) / kSoftBlock;
  C stack_shift[kSoftStackBlocks], stack_sum[kSoftStackBlocks];
  std::vector<C> heap;
  C* shift = stack_shift;
  C* sum = stack_sum;
  if (nb > kSoftStackBlocks) {
    heap.resize(size_t(2 * nb));
    shift = heap.data();
    sum = heap.data() + nb;
  }
  constexpr C kNegInf = -std::numeric_limits<C>::infinity();
  C M = kNegInf;
  for (int64_t b = 0; b < nb; ++b) {
    const int64_t o = b * kSoftBlock, n = std::min(kSoftBlock, D - o);
    const C bm = lanes_max(x + o, n);
    shift[b] = bm;
    if (bm == kNegInf) {
      C s = 0;
      for (int64_t i = 0; i < n; ++i) {
        y[o + i] = x[o + i] != x[o + i] ? x[o + i] : C(0);
        s += y[o + i];
      }
      sum[b] = s;
      continue;
    }
    sum[b] = lanes_exp_store(x + o, y + o, n, bm);
    M = bm > M || bm != bm ? bm : M;
  }
  if (M == kNegInf) {
    std::fill(y, y + D, std::numeric_limits<C>::quiet_NaN());
    return;
  }
  C S = 0;
  for (int64_t b = 0; b < nb; ++b) S += sum[b] * vexp(shift[b] - M);
  const C inv = C(1) / S;
  for (int64_t b = 0; b < nb; ++b) {
    const int64_t o = b * kSoftBlock, n = std::min(kSoftBlock, D - o);
    const C f = vexp(shift[b] - M) * inv;
    C* KILN_RESTRICT yb = y + o;
    for (int64_t i = 0; i < n; ++i) yb[i] *= f;
  }
}

template <class C>
void forward_rows(const C* x, C* y, int64_t rows, int64_t D, bool log) {
  const int64_t grain = std::max<int64_t>(1, 16384 / std::max<int64_t>(D, 1));
  kiln::cpu::parallel_for(0, rows, grain, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const C* KILN_RESTRICT xr = x + r * D;
      C* KILN_RESTRICT yr = y + r * D;
      if (!log) {
        softmax_row(xr, yr, D);
        continue;
      }
      C m, s;
      row_max_sum(xr, D, m, s);
      const C ls = std::log(s);
      for (int64_t i = 0; i < D; ++i) yr[i] = (xr[i] - m) - ls;
    }
  });
}

template <class C>
void forward_strided(const C* x, C* y, int64_t outer, int64_t D, int64_t inner, bool log) {
  const int64_t tiles = (inner + kTile - 1) / kTile;
  const int64_t grain = std::max<int64_t>(1, 16384 / std::max<int64_t>(D * std::min(inner, kTile), 1));
  kiln::cpu::parallel_for(0, outer * tiles, grain, [&](int64_t w0, int64_t w1) {
    C m[kTile], s[kTile];
    for (int64_t w = w0; w < w1; ++w) {
      const int64_t o = w / tiles, j0 = (w % tiles) * kTile, n = std::min(kTile, inner - j0);
      const C* xb = x + o * D * inner + j0;
      C* yb = y + o * D * inner + j0;
      for (int64_t j = 0; j < n; ++j) m[j] = xb[j], s[j] = 0;
      // Selects with an unconditional store: std::max here becomes a compare and a conditional
      // store per element, which GCC does not vectorise.
      for (int64_t d = 1; d < D; ++d) {
        const C* KILN_RESTRICT xd = xb + d * inner;
        for (int64_t j = 0; j < n; ++j) {
          const C v = xd[j], cur = m[j];
          m[j] = cur < v ? v : cur;
        }
      }
      for (int64_t d = 0; d < D; ++d) {
        const C* KILN_RESTRICT xd = xb + d * inner;
        C* KILN_RESTRICT yd = yb + d * inner;
        if (log) {
          for (int64_t j = 0; j < n; ++j) s[j] += vexp(xd[j] - m[j]);
        } else {
          for (int64_t j = 0; j < n; ++j) {
            const C e = vexp(xd[j] - m[j]);
            s[j] += e;
            yd[j] = e;
          }
        }
      }
      if (log) {
        for (int64_t j = 0; j < n; ++j) s[j] = m[j] + std::log(s[j]);
        for (int64_t d = 0; d < D; ++d)
          for (int64_t j = 0; j < n; ++j) yb[d * inner + j] = xb[d * inner + j] - s[j];
      } else {
        for (int64_t j = 0; j < n; ++j) s[j] = C(1) / s[j];
        for (int64_t d = 0; d < D; ++d)
          for (int64_t j = 0; j < n; ++j) yb[d * inner + j] *= s[j];
      }
    }
  });
}

template <class C>
void backward_rows(const C* dy, const C* y, C* dx, int64_t rows, int64_t D, bool log) {
  const int64_t grain = std::max<int64_t>(1, 16384 / std::max<int64_t>(D, 1));
  kiln::cpu::parallel_for(0, rows, grain, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const C* g = dy + r * D;
      const C* yr = y + r * D;
      C* o = dx + r * D;
      if (log) {
        const C sg = lanes_dot<C>(g, nullptr, D);
        for (int64_t i = 0; i < D; ++i) o[i] = g[i] - vexp(yr[i]) * sg;
      } else {
        const C dot = lanes_dot<C>(g, yr, D);
        for (int64_t i = 0; i < D; ++i) o[i] = yr[i] * (g[i] - dot);
      }
    }
  });
}

template <class C>
void backward_strided(const C* dy, const C* y, C* dx, int64_t outer, int64_t D, int64_t inner, bool log) {
  const int64_t tiles = (inner + kTile - 1) / kTile;
  const int64_t grain = std::max<int64_t>(1, 16384 / std::max<int64_t>(D * std::min(inner, kTile), 1));
  kiln::cpu::parallel_for(0, outer * tiles, grain, [&](int64_t w0, int64_t w1) {
    C acc[kTile];
    for (int64_t w = w0; w < w1; ++w) {
      const int64_t o = w / tiles, j0 = (w % tiles) * kTile, n = std::min(kTile, inner - j0);
      const int64_t base = o * D * inner + j0;
      const C* g = dy + base;
      const C* yb = y + base;
      C* out = dx + base;
      for (int64_t j = 0; j < n; ++j) acc[j] = 0;
      for (int64_t d = 0; d < D; ++d)
        for (int64_t j = 0; j < n; ++j) acc[j] += log ? g[d * inner + j] : g[d * inner + j] * yb[d * inner + j];
      for (int64_t d = 0; d < D; ++d)
        for (int64_t j = 0; j < n; ++j) {
          const int64_t k = d * inner + j;
          out[k] = log ? g[k] - vexp(yb[k]) * acc[j] : yb[k] * (g[k] - acc[j]);
        }
    }
  });
}

template <class C>
void forward_typed(const void* x, void* y, int64_t outer, int64_t D, int64_t inner, bool log) {
  if (outer == 0 || D == 0 || inner == 0) return;
  if (inner == 1)
    forward_rows(static_cast<const C*>(x), static_cast<C*>(y), outer, D, log);
  else
    forward_strided(static_cast<const C*>(x), static_cast<C*>(y), outer, D, inner, log);
}

template <class C>
void backward_typed(const void* dy, const void* y, void* dx, int64_t outer, int64_t D, int64_t inner, bool log) {
  if (outer == 0 || D == 0 || inner == 0) return;
  if (inner == 1)
    backward_rows(static_cast<const C*>(dy), static_cast<const C*>(y), static_cast<C*>(dx), outer, D, log);
  else
    backward_strided(static_cast<const C*>(dy), static_cast<const C*>(y), static_cast<C*>(dx), outer, D, inner,
                     log);
}

}  // namespace

void softmax_forward(DType dtype, const void* x, void* y, int64_t outer, int64_t D, int64_t inner, bool log) {
  if (dtype == DType::f64)
    forward_typed<double>(x, y, outer, D, inner, log);
  else
    forward_typed<float>(x, y, outer, D, inner, log);
}

void softmax_backward(DType dtype, const void* dy, const void* y, void* dx, int64_t outer, int64_t D,
                      int64_t inner, bool log) {
  if (dtype == DType::f64)
    backward_typed<double>(dy, y, dx, outer, D, inner, log);
  else
    backward_typed<float>(dy, y, dx, outer, D, inner, log);
}

}  // namespace KILN_ISA_NAMESPACE
