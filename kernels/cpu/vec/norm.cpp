// Batch norm and layer norm kernels, compiled once per instruction set (Note [ISA dispatch]).
//
// Note [Deterministic norm statistics]
// Every partial sum is computed by exactly one thread over a fixed range of values (one (n, c)
// row of batch norm, one fixed chunk of rows of layer norm's column sums), with fixed lane
// arrays inside, and partials are combined serially in index order. The result therefore does
// not depend on the number of threads. Batch norm statistics use the shifted-data formulas
// (sums of x - K and (x - K)^2 with K = the channel's first value), which avoid the cancellation
// of sum(x^2) - sum(x)^2 when the mean is large compared with the spread, in one read of x.
#include "kiln/kernels/cpu/norm.h"

#include <algorithm>
#include <cmath>
#include <type_traits>
#include <vector>

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

#include "kiln/kernels/cpu/parallel.h"
#include "kiln/kernels/dtype.h"
#include "kiln/kernels/macros.h"

namespace KILN_ISA_NAMESPACE {
namespace {

template <class C> constexpr int kLanes = int(64 / sizeof(C));
constexpr int64_t kGrain = 16384;        // elements of work per parallel chunk
constexpr int64_t kChunkRowsS1 = 256;    // batch norm with S == 1: rows of [N, C] per partial

// Note [Batch norm + activation on the CPU]
// The activation of Note [Batch norm + activation] (none, relu, leaky_relu) rides along the
// existing passes instead of adding its own: the forward applies it while writing y, and the
// backward's two passes (the per-channel sums, then dx) both turn dy into dz on the fly, recomputing
// z = x * scale + shift with the forward's coefficients, so dz is never stored. relu has the
// unfused ops' forms (y = z < 0 ? 0 : z, dz = z <= 0 ? 0 : dy, so NaN propagates as in relu and
// relu_backward), hence batch norm + relu here gives the same bits as batch norm, then relu.
enum class Act { none, relu, leaky };

template <Act A, class C>
inline C act_out(C z, C slope) {
  if constexpr (A == Act::relu) return z < C(0) ? C(0) : z;
  else if constexpr (A == Act::leaky) return z > C(0) ? z : z * slope;
  else return z;
}

// dz from dy and z (see the Note).
template <Act A, class C>
inline C gate(C dy, C z, C slope) {
  if constexpr (A == Act::relu) return z <= C(0) ? C(0) : dy;
  else if constexpr (A == Act::leaky) return z > C(0) ? dy : dy * slope;
  else return dy;
}

// Per-channel gate coefficients, rounded once to the compute type (null pointers: no gate).
template <class C>
struct Gate {
  std::vector<C> scale, shift;
  C slope = C(0);
  Gate(const double* sc, const double* sh, int64_t Cn, double sl) : slope(C(sl)) {
    if (!sc) return;
    scale.resize(size_t(Cn)), shift.resize(size_t(Cn));
    for (int64_t c = 0; c < Cn; ++c) scale[size_t(c)] = C(sc[c]), shift[size_t(c)] = C(sh[c]);
  }
  C s(int64_t c) const { return scale.empty() ? C(0) : scale[size_t(c)]; }
  C h(int64_t c) const { return shift.empty() ? C(0) : shift[size_t(c)]; }
};

// Calls f with the Act matching `act` (the kernels take none, relu and leaky_relu).
template <class F>
void with_act(kiln::BnActivation act, F&& f) {
  switch (act) {
    case kiln::BnActivation::relu: return f(std::integral_constant<Act, Act::relu>{});
    case kiln::BnActivation::leaky_relu: return f(std::integral_constant<Act, Act::leaky>{});
    default: return f(std::integral_constant<Act, Act::none>{});
  }
}

// sum(a' - k) and sum((a' - k) * (b - kb)) over n values, lanes combined in order, where a' is a
// gated by z = b * gs + gh (Note [Batch norm + activation on the CPU]; a' = a for Act::none). With
// b == a, kb == k this gives the shifted sums of squares. Four vectors of lanes per sum, so the
// adds are not bound by their latency; the tail goes to the first lanes one value each
// (vectorisable too).
#if defined(__AVX512F__)
template <Act A>
void lanes_shifted_f32(const float* KILN_RESTRICT a, float k, const float* KILN_RESTRICT b, float kb, int64_t n,
                       float gsf, float ghf, float slopef, float& s1, float& s2);
#endif

template <Act A, class C>
void lanes_shifted(const C* KILN_RESTRICT a, C k, const C* KILN_RESTRICT b, C kb, int64_t n, C gs, C gh, C slope,
                   C& s1, C& s2) {
#if defined(__AVX512F__)
  if constexpr (std::is_same_v<C, float>) return lanes_shifted_f32<A>(a, k, b, kb, n, gs, gh, slope, s1, s2);
#endif
  constexpr int L = 4 * kLanes<C>;
  C l1[L] = {}, l2[L] = {};
  auto step = [&](int64_t i, int j) {
    const C bv = b[i];
    const C d = gate<A>(a[i], bv * gs + gh, slope) - k;
    l1[j] += d;
    l2[j] += d * (bv - kb);
  };
  int64_t i = 0;
  for (; i + L <= n; i += L)
    for (int j = 0; j < L; ++j) step(i + j, j);
  // Then one vector at a time (a fixed trip count, so it vectorises: short rows such as a 7 x 7
  // plane would otherwise run all in the scalar tail), then the last few values.
  constexpr int V = kLanes<C>;
  for (; i + V <= n; i += V)
    for (int j = 0; j < V; ++j) step(i + j, j);
  for (int j = 0; i + j < n; ++j) step(i + j, j);
  for (int w = L / 2; w >= 1; w /= 2)
    for (int j = 0; j < w; ++j) l1[j] += l1[j + w], l2[j] += l2[j + w];
  s1 = l1[0], s2 = l2[0];
}

#if defined(__AVX512F__)
KILN_INTRINSIC_WARNINGS_OFF
// dz of one vector (see gate()): relu keeps dy where z is not <= 0 (NaN passes), leaky_relu
// scales dy by the slope where z is not > 0.
template <Act A>
inline __m512 gate16(__m512 dy, __m512 x, __m512 gs, __m512 gh, __m512 slope) {
  if constexpr (A == Act::none) {
    return dy;
  } else {
    const __m512 z = _mm512_fmadd_ps(x, gs, gh);
    if constexpr (A == Act::relu) return _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(z, _mm512_setzero_ps(), _CMP_NLE_UQ), dy);
    else return _mm512_mask_mov_ps(_mm512_mul_ps(dy, slope), _mm512_cmp_ps_mask(z, _mm512_setzero_ps(), _CMP_GT_OQ), dy);
  }
}

// The same sums for f32 with the lanes in registers: the generic loop above keeps its 64 lanes in a
// stack array, so every short row (a 7 x 7 or 14 x 14 plane) paid for spilling, zeroing and a
// scalar reduction tree in memory. Lane assignment and combining order are those of the generic
// loop (element i of the blocks of 64 to lane i mod 64, then vectors of 16, then the tail to the
// first lanes; lanes combined by halves).
template <Act A>
void lanes_shifted_f32(const float* KILN_RESTRICT a, float k, const float* KILN_RESTRICT b, float kb, int64_t n,
                       float gsf, float ghf, float slopef, float& s1, float& s2) {
  __m512 x1[4], x2[4];
  for (int u = 0; u < 4; ++u) x1[u] = _mm512_setzero_ps(), x2[u] = _mm512_setzero_ps();
  const __m512 vk = _mm512_set1_ps(k), vkb = _mm512_set1_ps(kb);
  const __m512 gs = _mm512_set1_ps(gsf), gh = _mm512_set1_ps(ghf), slope = _mm512_set1_ps(slopef);
  int64_t i = 0;
  for (; i + 64 <= n; i += 64)
    for (int u = 0; u < 4; ++u) {
      const __m512 bv = _mm512_loadu_ps(b + i + 16 * u);
      const __m512 d = _mm512_sub_ps(gate16<A>(_mm512_loadu_ps(a + i + 16 * u), bv, gs, gh, slope), vk);
      x1[u] = _mm512_add_ps(x1[u], d);
      x2[u] = _mm512_fmadd_ps(d, _mm512_sub_ps(bv, vkb), x2[u]);
    }
  for (; i + 16 <= n; i += 16) {
    const __m512 bv = _mm512_loadu_ps(b + i);
    const __m512 d = _mm512_sub_ps(gate16<A>(_mm512_loadu_ps(a + i), bv, gs, gh, slope), vk);
    x1[0] = _mm512_add_ps(x1[0], d);
    x2[0] = _mm512_fmadd_ps(d, _mm512_sub_ps(bv, vkb), x2[0]);
  }
  if (i < n) {
    const __mmask16 m = __mmask16((1u << (n - i)) - 1u);
    const __m512 bv = _mm512_maskz_loadu_ps(m, b + i);
    const __m512 d = _mm512_maskz_sub_ps(m, gate16<A>(_mm512_maskz_loadu_ps(m, a + i), bv, gs, gh, slope), vk);
    x1[0] = _mm512_add_ps(x1[0], d);
    x2[0] = _mm512_fmadd_ps(d, _mm512_maskz_sub_ps(m, bv, vkb), x2[0]);
  }
  x1[0] = _mm512_add_ps(x1[0], x1[2]), x1[1] = _mm512_add_ps(x1[1], x1[3]);
  x2[0] = _mm512_add_ps(x2[0], x2[2]), x2[1] = _mm512_add_ps(x2[1], x2[3]);
  s1 = _mm512_reduce_add_ps(_mm512_add_ps(x1[0], x1[1]));
  s2 = _mm512_reduce_add_ps(_mm512_add_ps(x2[0], x2[1]));
}
KILN_INTRINSIC_WARNINGS_ON
#endif

// Per-channel sums over [N, C, S] of (a' - ka[c]) and (a' - ka[c]) * (b - kb[c]), in double, a'
// being a gated by z = b * scale + shift (see lanes_shifted). Used by the statistics (a = b = x,
// shift K, no gate) and by the backward reduction (a = dy, ka = 0, b = x, kb = mean).
template <Act A, class C>
void channel_sums(const C* a, const C* b, int64_t N, int64_t Cn, int64_t S, const C* ka, const C* kb, const Gate<C>& g,
                  double* s1, double* s2) {
  std::fill(s1, s1 + Cn, 0.0);
  std::fill(s2, s2 + Cn, 0.0);
  if (N == 0 || S == 0) return;
  if (S == 1) {
    // Channels are the contiguous dim: fixed chunks of rows, partials [chunk][C], combined in order.
    const int64_t chunks = kiln::cpu::num_chunks(N, kChunkRowsS1);
    std::vector<C> p1(static_cast<size_t>(chunks * Cn), C(0)), p2(static_cast<size_t>(chunks * Cn), C(0));
    kiln::cpu::parallel_chunks(N, kChunkRowsS1, [&](int64_t ci, int64_t n0, int64_t n1) {
      C* q1 = p1.data() + ci * Cn;
      C* q2 = p2.data() + ci * Cn;
      for (int64_t n = n0; n < n1; ++n) {
        const C* ar = a + n * Cn;
        const C* br = b + n * Cn;
        for (int64_t c = 0; c < Cn; ++c) {
          const C d = gate<A>(ar[c], br[c] * g.s(c) + g.h(c), g.slope) - ka[c];
          q1[c] += d;
          q2[c] += d * (br[c] - kb[c]);
        }
      }
    });
    for (int64_t ci = 0; ci < chunks; ++ci)
      for (int64_t c = 0; c < Cn; ++c) s1[c] += double(p1[size_t(ci * Cn + c)]), s2[c] += double(p2[size_t(ci * Cn + c)]);
    return;
  }
  std::vector<double> r1(static_cast<size_t>(N * Cn)), r2(static_cast<size_t>(N * Cn));
  kiln::cpu::parallel_for(0, N * Cn, std::max<int64_t>(1, kGrain / S), [&](int64_t r0, int64_t re) {
    for (int64_t r = r0; r < re; ++r) {
      const int64_t c = r % Cn;
      C v1, v2;
      lanes_shifted<A>(a + r * S, ka[c], b + r * S, kb[c], S, g.s(c), g.h(c), g.slope, v1, v2);
      r1[size_t(r)] = double(v1);
      r2[size_t(r)] = double(v2);
    }
  });
  for (int64_t n = 0; n < N; ++n)
    for (int64_t c = 0; c < Cn; ++c) s1[c] += r1[size_t(n * Cn + c)], s2[c] += r2[size_t(n * Cn + c)];
}

// Over [N, C, S], with the activation of Note [Batch norm + activation on the CPU]:
//   Out (the forward):   out = act(p[c] * u + r[c])                     (v unused, may be null)
//   otherwise (backward): out = p[c] * dz + q[c] * v + r[c], dz = u gated by z = v * scale + shift.
template <Act A, bool Out, class C>
void channel_affine(const C* u, const C* v, C* out, int64_t N, int64_t Cn, int64_t S, const double* p,
                    const double* q, const double* r, const Gate<C>& g) {
  if (N == 0 || S == 0 || Cn == 0) return;
  std::vector<C> pc(static_cast<size_t>(Cn)), qc(static_cast<size_t>(Cn)), rc(static_cast<size_t>(Cn));
  for (int64_t c = 0; c < Cn; ++c) pc[size_t(c)] = C(p[c]), qc[size_t(c)] = q ? C(q[c]) : C(0), rc[size_t(c)] = C(r[c]);
  const C slope = g.slope;
  auto one = [slope](C uu, C vv, C pp, C qq, C rr, C gs, C gh) {
    if constexpr (Out) return act_out<A>(pp * uu + rr, slope);
    else return pp * gate<A>(uu, vv * gs + gh, slope) + qq * vv + rr;
  };
  if (S == 1) {
    kiln::cpu::parallel_for(0, N, std::max<int64_t>(1, kGrain / Cn), [&](int64_t n0, int64_t n1) {
      for (int64_t n = n0; n < n1; ++n) {
        const C* ur = u + n * Cn;
        const C* vr = Out ? nullptr : v + n * Cn;
        C* o = out + n * Cn;
        for (int64_t c = 0; c < Cn; ++c)
          o[c] = one(ur[c], Out ? C(0) : vr[c], pc[size_t(c)], qc[size_t(c)], rc[size_t(c)], g.s(c), g.h(c));
      }
    });
    return;
  }
  kiln::cpu::parallel_for(0, N * Cn, std::max<int64_t>(1, kGrain / S), [&](int64_t r0, int64_t re) {
    for (int64_t row = r0; row < re; ++row) {
      const int64_t c = row % Cn;
      const C pp = pc[size_t(c)], qq = qc[size_t(c)], rr = rc[size_t(c)], gs = g.s(c), gh = g.h(c);
      const C* ur = u + row * S;
      const C* vr = Out ? nullptr : v + row * S;
      C* o = out + row * S;
      for (int64_t i = 0; i < S; ++i) o[i] = one(ur[i], Out ? C(0) : vr[i], pp, qq, rr, gs, gh);
    }
  });
}

}  // namespace

void batch_norm_stats(DType dtype, const void* x, int64_t N, int64_t C, int64_t S, double* mean, double* var) {
  dispatch_float_dtype(dtype, [&](auto tag) {
    using T = decltype(tag);
    const T* X = static_cast<const T*>(x);
    std::vector<T> k(size_t(C), T(0));
    if (N > 0 && S > 0)
      for (int64_t c = 0; c < C; ++c) k[size_t(c)] = X[c * S];
    std::vector<double> s1(static_cast<size_t>(C)), s2(static_cast<size_t>(C));
    channel_sums<Act::none, T>(X, X, N, C, S, k.data(), k.data(), Gate<T>(nullptr, nullptr, C, 0.0), s1.data(),
                               s2.data());
    const double M = double(N) * double(S);
    for (int64_t c = 0; c < C; ++c) {
      if (M == 0) {
        mean[c] = 0, var[c] = 0;
        continue;
      }
      const double m1 = s1[size_t(c)] / M;
      mean[c] = double(k[size_t(c)]) + m1;
      var[c] = std::max(0.0, s2[size_t(c)] / M - m1 * m1);
    }
  });
}

void batch_norm_apply(DType dtype, const void* x, void* y, int64_t N, int64_t C, int64_t S, const double* scale,
                      const double* shift, kiln::BnActivation act, double slope) {
  dispatch_float_dtype(dtype, [&](auto tag) {
    using T = decltype(tag);
    with_act(act, [&](auto a) {
      channel_affine<decltype(a)::value, true, T>(static_cast<const T*>(x), nullptr, static_cast<T*>(y), N, C, S,
                                                  scale, nullptr, shift, Gate<T>(nullptr, nullptr, C, slope));
    });
  });
}

void batch_norm_backward_reduce(DType dtype, const void* dy, const void* x, int64_t N, int64_t C, int64_t S,
                                const double* mean, double* sum_dy, double* sum_dy_xmu, kiln::BnActivation act,
                                double slope, const double* scale, const double* shift) {
  dispatch_float_dtype(dtype, [&](auto tag) {
    using T = decltype(tag);
    std::vector<T> zero(size_t(C), T(0)), m(static_cast<size_t>(C));
    for (int64_t c = 0; c < C; ++c) m[size_t(c)] = T(mean[c]);
    const Gate<T> g(scale, shift, C, slope);
    with_act(scale ? act : kiln::BnActivation::none, [&](auto a) {
      channel_sums<decltype(a)::value, T>(static_cast<const T*>(dy), static_cast<const T*>(x), N, C, S, zero.data(),
                                          m.data(), g, sum_dy, sum_dy_xmu);
    });
  });
}

void batch_norm_backward_apply(DType dtype, const void* dy, const void* x, void* dx, int64_t N, int64_t C,
                               int64_t S, const double* a, const double* b, const double* d, kiln::BnActivation act,
                               double slope, const double* scale, const double* shift) {
  dispatch_float_dtype(dtype, [&](auto tag) {
    using T = decltype(tag);
    const Gate<T> g(scale, shift, C, slope);
    with_act(scale ? act : kiln::BnActivation::none, [&](auto ac) {
      channel_affine<decltype(ac)::value, false, T>(static_cast<const T*>(dy), static_cast<const T*>(x),
                                                    static_cast<T*>(dx), N, C, S, a, b, d, g);
    });
  });
}

void layer_norm_forward(DType dtype, const void* x, const void* w, const void* b, void* y, void* mean, void* rstd,
                        int64_t M, int64_t N, double eps) {
  dispatch_float_dtype(dtype, [&](auto tag) {
    using T = decltype(tag);
    const T* X = static_cast<const T*>(x);
    const T* Wt = static_cast<const T*>(w);
    const T* B = static_cast<const T*>(b);
    T* Y = static_cast<T*>(y);
    T* Mean = static_cast<T*>(mean);
    T* Rstd = static_cast<T*>(rstd);
    kiln::cpu::parallel_for(0, M, std::max<int64_t>(1, kGrain / std::max<int64_t>(N, 1)), [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r) {
        const T* xr = X + r * N;
        T* yr = Y + r * N;
        // One read for the statistics: sums shifted by the row's first value (Note [Deterministic
        // norm statistics]); the row is then still in cache for the output pass.
        const T k = N > 0 ? xr[0] : T(0);
        T s1, s2;
        lanes_shifted<Act::none, T>(xr, k, xr, k, N, T(0), T(0), T(0), s1, s2);
        const T m1 = N > 0 ? s1 / T(N) : T(0);
        const T mu = k + m1;
        const T var = N > 0 ? std::max(T(0), s2 / T(N) - m1 * m1) : T(0);
        const T rs = T(1) / std::sqrt(var + T(eps));
        Mean[r] = mu;
        Rstd[r] = rs;
        if (Wt && B)
          for (int64_t i = 0; i < N; ++i) yr[i] = (xr[i] - mu) * rs * Wt[i] + B[i];
        else if (Wt)
          for (int64_t i = 0; i < N; ++i) yr[i] = (xr[i] - mu) * rs * Wt[i];
        else if (B)
          for (int64_t i = 0; i < N; ++i) yr[i] = (xr[i] - mu) * rs + B[i];
        else
          for (int64_t i = 0; i < N; ++i) yr[i] = (xr[i] - mu) * rs;
      }
    });
  });
}

void layer_norm_backward(DType dtype, const void* dy, const void* x, const void* mean, const void* rstd,
                         const void* w, void* dx, void* dw, void* db, int64_t M, int64_t N) {
  dispatch_float_dtype(dtype, [&](auto tag) {
    using T = decltype(tag);
    const T* G = static_cast<const T*>(dy);
    const T* X = static_cast<const T*>(x);
    const T* Mean = static_cast<const T*>(mean);
    const T* Rstd = static_cast<const T*>(rstd);
    const T* Wt = static_cast<const T*>(w);
    T* DX = static_cast<T*>(dx);
    const bool cols = dw != nullptr || db != nullptr;
    // Note [Deterministic norm statistics]: column sums per fixed chunk of rows.
    const int64_t chunk_rows = std::max<int64_t>(1, kGrain / std::max<int64_t>(N, 1));
    const int64_t chunks = kiln::cpu::num_chunks(M, chunk_rows);
    std::vector<T> pw(cols ? size_t(chunks * N) : 0, T(0)), pb(cols ? size_t(chunks * N) : 0, T(0));
    kiln::cpu::parallel_chunks(M, chunk_rows, [&](int64_t ci, int64_t r0, int64_t r1) {
      std::vector<T> g(static_cast<size_t>(N));
      T* qw = cols ? pw.data() + ci * N : nullptr;
      T* qb = cols ? pb.data() + ci * N : nullptr;
      for (int64_t r = r0; r < r1; ++r) {
        const T* gr = G + r * N;
        const T* xr = X + r * N;
        T* o = DX + r * N;
        const T mu = Mean[r], rs = Rstd[r];
        if (cols)
          for (int64_t i = 0; i < N; ++i) {
            qw[i] += gr[i] * (xr[i] - mu) * rs;
            qb[i] += gr[i];
          }
        if (Wt)
          for (int64_t i = 0; i < N; ++i) g[size_t(i)] = gr[i] * Wt[i];
        else
          std::copy(gr, gr + N, g.begin());
        T sg, sgx;  // sum(g), sum(g * (x - mu))
        lanes_shifted<Act::none, T>(g.data(), T(0), xr, mu, N, T(0), T(0), T(0), sg, sgx);
        const T a = sg / T(N), b = sgx * rs * rs / T(N);
        for (int64_t i = 0; i < N; ++i) o[i] = rs * (g[size_t(i)] - a - (xr[i] - mu) * b);
      }
    });
    if (cols) {
      T* DW = static_cast<T*>(dw);
      T* DB = static_cast<T*>(db);
      std::vector<T> sw(size_t(N), T(0)), sb(size_t(N), T(0));
      for (int64_t ci = 0; ci < chunks; ++ci)
        for (int64_t i = 0; i < N; ++i) sw[size_t(i)] += pw[size_t(ci * N + i)], sb[size_t(i)] += pb[size_t(ci * N + i)];
      if (DW) std::copy(sw.begin(), sw.end(), DW);
      if (DB) std::copy(sb.begin(), sb.end(), DB);
    }
  });
}

void group_norm_forward(DType dtype, const void* x, const void* w, const void* b, void* y, void* mean, void* rstd,
                        int64_t N, int64_t C, int64_t S, int64_t G, double eps) {
  dispatch_float_dtype(dtype, [&](auto tag) {
    using T = decltype(tag);
    const T* X = static_cast<const T*>(x);
    const T* Wt = static_cast<const T*>(w);
    const T* B = static_cast<const T*>(b);
    T* Y = static_cast<T*>(y);
    T* Mean = static_cast<T*>(mean);
    T* Rstd = static_cast<T*>(rstd);
    const int64_t Dg = C / G, L = Dg * S;
    kiln::cpu::parallel_for(0, N * G, std::max<int64_t>(1, kGrain / std::max<int64_t>(L, 1)), [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r) {
        const T* xr = X + r * L;
        T* yr = Y + r * L;
        const T k = L > 0 ? xr[0] : T(0);
        T s1, s2;
        lanes_shifted<Act::none, T>(xr, k, xr, k, L, T(0), T(0), T(0), s1, s2);
        const T m1 = L > 0 ? s1 / T(L) : T(0);
        const T mu = k + m1;
        const T rs = T(1) / std::sqrt((L > 0 ? std::max(T(0), s2 / T(L) - m1 * m1) : T(0)) + T(eps));
        Mean[r] = mu;
        Rstd[r] = rs;
        const int64_t c0 = (r % G) * Dg;
        for (int64_t j = 0; j < Dg; ++j) {
          const T scale = rs * (Wt ? Wt[c0 + j] : T(1));
          const T shift = (B ? B[c0 + j] : T(0)) - mu * scale;
          const T* xc = xr + j * S;
          T* yc = yr + j * S;
          for (int64_t i = 0; i < S; ++i) yc[i] = xc[i] * scale + shift;
        }
      }
    });
  });
}

void group_norm_backward(DType dtype, const void* dy, const void* x, const void* mean, const void* rstd,
                         const void* w, void* dx, void* dw, void* db, int64_t N, int64_t C, int64_t S, int64_t G) {
  dispatch_float_dtype(dtype, [&](auto tag) {
    using T = decltype(tag);
    const T* Gy = static_cast<const T*>(dy);
    const T* X = static_cast<const T*>(x);
    const T* Mean = static_cast<const T*>(mean);
    const T* Rstd = static_cast<const T*>(rstd);
    const T* Wt = static_cast<const T*>(w);
    T* DX = static_cast<T*>(dx);
    const int64_t Dg = C / G;
    // Per (n, c): s1 = sum(dy), s2 = sum(dy * (x - mean[n, g])) (Note [Deterministic norm statistics]).
    std::vector<T> s1(static_cast<size_t>(N * C)), s2(static_cast<size_t>(N * C));
    kiln::cpu::parallel_for(0, N * G, std::max<int64_t>(1, kGrain / std::max<int64_t>(Dg * S, 1)), [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r) {
        const T mu = Mean[r], rs = Rstd[r];
        const int64_t c0 = (r % G) * Dg, n = r / G;
        T sw1 = 0, sw2 = 0;  // sums over the group's channels weighted by w
        for (int64_t j = 0; j < Dg; ++j) {
          const int64_t row = n * C + c0 + j;
          T a, bb;
          lanes_shifted<Act::none, T>(Gy + row * S, T(0), X + row * S, mu, S, T(0), T(0), T(0), a, bb);
          s1[size_t(row)] = a;
          s2[size_t(row)] = bb;
          const T wc = Wt ? Wt[c0 + j] : T(1);
          sw1 += wc * a;
          sw2 += wc * bb;
        }
        const T M = T(Dg * S);
        const T c2 = -rs * rs * rs * sw2 / M;
        const T c3 = -c2 * mu - rs * sw1 / M;
        for (int64_t j = 0; j < Dg; ++j) {
          const int64_t row = n * C + c0 + j;
          const T c1 = rs * (Wt ? Wt[c0 + j] : T(1));
          const T* gr = Gy + row * S;
          const T* xr = X + row * S;
          T* o = DX + row * S;
          for (int64_t i = 0; i < S; ++i) o[i] = c1 * gr[i] + c2 * xr[i] + c3;
        }
      }
    });
    T* DW = static_cast<T*>(dw);
    T* DB = static_cast<T*>(db);
    for (int64_t c = 0; c < C; ++c) DW[c] = T(0), DB[c] = T(0);
    for (int64_t n = 0; n < N; ++n)
      for (int64_t c = 0; c < C; ++c) {
        DW[c] += s2[size_t(n * C + c)] * Rstd[n * G + c / Dg];
        DB[c] += s1[size_t(n * C + c)];
      }
  });
}

}  // namespace KILN_ISA_NAMESPACE
