// Compiled once per instruction set (Note [ISA dispatch] in kernels/cpu/isa.h).
// argmax/argmin (and max/min with indices) over the middle dimension of x[outer, R, inner].
#include <cmath>
#include <limits>
#include <memory>
#include <vector>

#include "kiln/kernels/cpu/vec/reduce_engine.h"

namespace KILN_ISA_NAMESPACE {
namespace {

template <class C, bool kMax>
bool better(C cand, C best) {
  // NaN beats everything but an earlier NaN; otherwise strictly better (ties keep the first).
  if (cand != cand) return best == best;
  return kMax ? cand > best : cand < best;
}

template <class C, bool kMax>
struct ExtremeFold {
  using Acc = C;
  static constexpr bool kCenter = false;
  Acc init() const {
    if constexpr (std::is_floating_point_v<C>)
      return kMax ? -std::numeric_limits<C>::infinity() : std::numeric_limits<C>::infinity();
    else
      return kMax ? std::numeric_limits<C>::lowest() : std::numeric_limits<C>::max();
  }
  Acc step(Acc a, C x, Acc) const { return extreme_step<kMax>(a, x); }
  Acc combine(Acc a, Acc b) const { return step(a, b, a); }
};

// One chunk of a row: the extreme by the vectorised fold, then the first position holding it.
template <class T, bool kMax>
void chunk_extreme(const T* x, int64_t n, compute_t<T>& val, int64_t& idx) {
  using C = compute_t<T>;
  C m = fold_chunk(ExtremeFold<C, kMax>{}, x, n, C{});
  bool nan = m != m;
  for (int64_t i = 0; i < n; ++i) {
    C v = load(x[i]);
    if (nan ? v != v : v == m) {
      idx = i;
      break;
    }
  }
  val = m;
}

template <class T, bool kMax>
void arg_rows(const T* x, int64_t outer, int64_t R, T* values, int64_t* indices) {
  using C = compute_t<T>;
  if (R < kReduceLanes) {
    // Short rows: one branch-free pass per row.
    cpu::parallel_for(0, outer, static_grain(outer, kReduceGrain / R), [&](int64_t b, int64_t e) {
      for (int64_t o = b; o < e; ++o) {
        const T* xr = x + o * R;
        C best = load(xr[0]);
        int64_t bi = 0;
        for (int64_t r = 1; r < R; ++r) {
          C v = load(xr[r]);
          bool take = kMax ? v > best : v < best;
          if constexpr (std::is_floating_point_v<C>) take = take | ((v != v) & (best == best));
          best = take ? v : best;
          bi = take ? r : bi;
        }
        indices[o] = bi;
        if (values) values[o] = T(best);
      }
    });
    return;
  }
  const int64_t nck = (R + kReduceChunk - 1) / kReduceChunk;
  // (not std::vector: C may be bool)
  std::unique_ptr<C[]> pv(new C[size_t(outer * nck)]);
  std::vector<int64_t> pi(size_t(outer * nck));
  int64_t grain = std::max<int64_t>(1, kReduceGrain / std::min(R, kReduceChunk));
  cpu::parallel_for(0, outer * nck, static_grain(outer * nck, grain), [&](int64_t b, int64_t e) {
    for (int64_t t = b; t < e; ++t) {
      int64_t o = t / nck, s = (t % nck) * kReduceChunk;
      int64_t idx = 0;
      chunk_extreme<T, kMax>(x + o * R + s, std::min(kReduceChunk, R - s), pv[size_t(t)], idx);
      pi[size_t(t)] = s + idx;
    }
  });
  for (int64_t o = 0; o < outer; ++o) {
    C bv = pv[size_t(o * nck)];
    int64_t bi = pi[size_t(o * nck)];
    for (int64_t k = 1; k < nck; ++k)
      if (better<C, kMax>(pv[size_t(o * nck + k)], bv)) {
        bv = pv[size_t(o * nck + k)];
        bi = pi[size_t(o * nck + k)];
      }
    indices[o] = bi;
    if (values) values[o] = T(bv);
  }
}

template <class T, bool kMax>
void arg_columns(const T* x, int64_t outer, int64_t R, int64_t inner, T* values, int64_t* indices) {
  using C = compute_t<T>;
  const int64_t ncb = (inner + kColBlock - 1) / kColBlock;
  int64_t grain = std::max<int64_t>(1, kReduceGrain / (R * std::min(inner, kColBlock)));
  cpu::parallel_for(0, outer * ncb, static_grain(outer * ncb, grain), [&](int64_t tb, int64_t te) {
    C best[kColBlock];
    int64_t bidx[kColBlock];
    for (int64_t t = tb; t < te; ++t) {
      int64_t o = t / ncb, i0 = (t % ncb) * kColBlock, bw = std::min(kColBlock, inner - i0);
      const T* base = x + o * R * inner + i0;
      for (int64_t i = 0; i < bw; ++i) {
        best[i] = load(base[i]);
        bidx[i] = 0;
      }
      for (int64_t r = 1; r < R; ++r) {
        const T* row = base + r * inner;
        for (int64_t i = 0; i < bw; ++i) {
          C v = load(row[i]);
          bool take = kMax ? v > best[i] : v < best[i];
          if constexpr (std::is_floating_point_v<C>) take = take | ((v != v) & (best[i] == best[i]));
          best[i] = take ? v : best[i];
          bidx[i] = take ? r : bidx[i];
        }
      }
      for (int64_t i = 0; i < bw; ++i) {
        indices[o * inner + i0 + i] = bidx[i];
        if (values) values[o * inner + i0 + i] = T(best[i]);
      }
    }
  });
}

template <class T, bool kMax>
void arg_reduce(const T* x, int64_t outer, int64_t R, int64_t inner, T* values, int64_t* indices) {
  if (outer == 0 || inner == 0 || R == 0) return;
  if (inner == 1)
    arg_rows<T, kMax>(x, outer, R, values, indices);
  else
    arg_columns<T, kMax>(x, outer, R, inner, values, indices);
}

}  // namespace

void reduce_arg(bool is_max, DType dtype, const void* x, int64_t outer, int64_t R, int64_t inner, void* values,
                int64_t* indices) {
  dispatch_dtype(dtype, [&](auto tag) {
    using T = decltype(tag);
    if (is_max)
      arg_reduce<T, true>(static_cast<const T*>(x), outer, R, inner, static_cast<T*>(values), indices);
    else
      arg_reduce<T, false>(static_cast<const T*>(x), outer, R, inner, static_cast<T*>(values), indices);
  });
}

}  // namespace KILN_ISA_NAMESPACE
