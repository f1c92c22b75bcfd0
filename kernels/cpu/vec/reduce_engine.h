#pragma once
// The fold engine behind the reduction kernels (Note [Deterministic reductions] in
// kernels/cpu/reduce.h). Included only by kernels/cpu/vec/*.cpp, so each instruction-set copy gets
// its own instantiation inside KILN_ISA_NAMESPACE.
//
// An Op describes one fold:
//   using Acc;                                   accumulator type
//   static constexpr bool kCenter;               whether step/finish read a per-output centre value
//   Acc init() const;                            identity
//   Acc step(Acc a, C x, Acc centre) const;      absorb one element (C = compute_t<T>)
//   Acc combine(Acc a, Acc b) const;             merge two partials (a comes first)
//   Y finish(Acc a, Acc centre) const;           final value written to the output
#include <algorithm>
#include <cstdint>
#include <memory>
#include <type_traits>

#include "kiln/kernels/cpu/parallel.h"
#include "kiln/kernels/cpu/reduce.h"
#include "kiln/kernels/dtype.h"

namespace KILN_ISA_NAMESPACE {

// Element -> compute type. f16 uses a branch-free conversion (same results as half_bits_to_float
// in kernels/dtype.h for every bit pattern) so that loops over f16 data vectorise.
template <class T>
inline compute_t<T> load(T v) {
  return compute_t<T>(v);
}
template <>
inline float load<Half>(Half v) {
  const uint32_t h = v.bits;
  uint32_t o = uint32_t(h & 0x7fffu) << 13;
  const uint32_t exp = o & 0x0f800000u;
  o += 0x38000000u;                                  // rebias exponent 15 -> 127
  o = exp == 0x0f800000u ? o + 0x38000000u : o;      // inf / NaN: exponent all ones
  float f = bits_float(exp == 0 ? o + 0x00800000u : o);
  f = exp == 0 ? f - bits_float(0x38800000u) : f;    // zero / subnormal: exact renormalisation
  return bits_float(float_bits(f) | (uint32_t(h & 0x8000u) << 16));
}

// One step of a NaN-propagating max (kMax) or min: x replaces a when it is more extreme or NaN, so
// once a NaN is in, nothing replaces it. Written as a plain max/min (one maxss/minss, no
// data-dependent branch) followed by a NaN test that is almost never taken.
template <bool kMax, class C>
inline C extreme_step(C a, C x) {
  C m = kMax ? (a < x ? x : a) : (x < a ? x : a);
  if constexpr (std::is_floating_point_v<C>) return x != x ? x : m;
  return m;
}

// Elements of work below which a parallel loop stays on one thread.
constexpr int64_t kReduceGrain = 32768;
// Columns handled together by one task of the column arg-reduce and scan.
constexpr int64_t kColBlock = 256;
// Column reduces with at most this many columns use flat wide lanes instead (see reduce_columns).
constexpr int64_t kNarrowInner = 8;

// Grain that gives each thread one contiguous range of the n tasks (at least min_grain each), like
// a static schedule: a thread then re-reads the part of the input it read last time, which is
// still in its own cache when the same tensor is reduced again. Only who computes which partial
// depends on the thread count, never the result.
inline int64_t static_grain(int64_t n, int64_t min_grain) {
  int64_t nt = cpu::in_parallel_region() ? 1 : cpu::num_threads();
  return std::max<int64_t>(std::max<int64_t>(1, min_grain), (n + nt - 1) / nt);
}

// cpu::parallel_for, minus the std::function (a heap allocation for a lambda of this size) when
// the range runs serially anyway, which is what small reductions hit.
template <class F>
void run_tasks(int64_t n, int64_t grain, const F& f) {
  if (n <= 0) return;
  if (n <= grain || cpu::in_parallel_region() || cpu::num_threads() <= 1) {
    f(int64_t(0), n);
    return;
  }
  cpu::parallel_for(0, n, grain, f);
}

// Independent accumulators of a chunk fold: four vector registers' worth for AVX-512 and AVX2
// (eight for SSE), so that the loop is bound by the loads, not by the latency of the adds (or max + NaN select);
// more lanes only lengthen the final tree, which short rows pay for. A per-ISA constant, so results
// still depend on the shape only (the ISA copies may differ in the last bits, Note [Deterministic
// reductions]).
#if defined(__AVX512F__)
constexpr int kFoldBytes = 256;
#else
constexpr int kFoldBytes = 128;
#endif
template <class Acc>
constexpr int kFoldLanes = int(std::clamp<size_t>(kFoldBytes / sizeof(Acc), 2, 128));

// Folds n <= kReduceChunk contiguous elements with kFoldLanes independent accumulators (the
// compiler keeps them in vector registers), then merges the lanes by a fixed halving tree.
template <class Op, class T>
typename Op::Acc fold_chunk(const Op& op, const T* KILN_RESTRICT x, int64_t n, typename Op::Acc c) {
  using Acc = typename Op::Acc;
  constexpr int L = kFoldLanes<Acc>;
  Acc acc[L];
  for (int j = 0; j < L; ++j) acc[j] = op.init();
  int64_t i = 0;
  for (; i + L <= n; i += L)
    for (int j = 0; j < L; ++j) acc[j] = op.step(acc[j], load(x[i + j]), c);
  for (int j = 0; i + j < n; ++j) acc[j] = op.step(acc[j], load(x[i + j]), c);
  for (int w = L / 2; w >= 1; w /= 2)
    for (int j = 0; j < w; ++j) acc[j] = op.combine(acc[j], acc[j + w]);
  return acc[0];
}

// A whole row of R elements: chunks of kReduceChunk folded left to right. Rows shorter than the
// lanes are folded directly (a function of R only, so still deterministic).
template <class Op, class T>
typename Op::Acc fold_row(const Op& op, const T* x, int64_t R, typename Op::Acc c) {
  typename Op::Acc a = op.init();
  if (R < kReduceLanes) {
    // Two interleaved accumulators halve the dependency chain.
    typename Op::Acc b = op.init();
    int64_t i = 0;
    for (; i + 2 <= R; i += 2) {
      a = op.step(a, load(x[i]), c);
      b = op.step(b, load(x[i + 1]), c);
    }
    if (i < R) a = op.step(a, load(x[i]), c);
    return op.combine(a, b);
  }
  for (int64_t b = 0; b < R; b += kReduceChunk) a = op.combine(a, fold_chunk(op, x + b, std::min(kReduceChunk, R - b), c));
  return a;
}

template <class Op, class T, class Y>
void reduce_rows(const Op& op, const T* x, int64_t outer, int64_t R, Y* y, const typename Op::Acc* center) {
  using Acc = typename Op::Acc;
  auto centre_of = [&](int64_t o) { return Op::kCenter ? center[o] : Acc{}; };
  const int64_t nck = R == 0 ? 1 : (R + kReduceChunk - 1) / kReduceChunk;
  if (R == 1) {
    // Nothing to fold (a reduction over size-1 dims): exactly fold_row's steps for one element,
    // as one loop over the rows that the compiler vectorises.
    run_tasks(outer, static_grain(outer, kReduceGrain), [&](int64_t b, int64_t e) {
      for (int64_t o = b; o < e; ++o)
        y[o] = op.finish(op.combine(op.step(op.init(), load(x[o]), centre_of(o)), op.init()), centre_of(o));
    });
    return;
  }
  if (nck == 1) {
    int64_t grain = std::max<int64_t>(1, kReduceGrain / std::max<int64_t>(R, 1));
    run_tasks(outer, static_grain(outer, grain), [&](int64_t b, int64_t e) {
      for (int64_t o = b; o < e; ++o) y[o] = op.finish(fold_row(op, x + o * R, R, centre_of(o)), centre_of(o));
    });
    return;
  }
  // Long rows: chunk partials computed in parallel, then combined per row in chunk order, which is
  // exactly what fold_row does.
  // Not std::vector: Acc may be bool, whose packed bits threads must not share.
  std::unique_ptr<Acc[]> part(new Acc[size_t(outer * nck)]);
  run_tasks(outer * nck, static_grain(outer * nck, kReduceGrain / kReduceChunk), [&](int64_t b, int64_t e) {
    for (int64_t t = b; t < e; ++t) {
      int64_t o = t / nck, k = t % nck;
      int64_t s = k * kReduceChunk;
      part[size_t(t)] = fold_chunk(op, x + o * R + s, std::min(kReduceChunk, R - s), centre_of(o));
    }
  });
  for (int64_t o = 0; o < outer; ++o) {
    Acc a = op.init();
    for (int64_t k = 0; k < nck; ++k) a = op.combine(a, part[size_t(o * nck + k)]);
    y[o] = op.finish(a, centre_of(o));
  }
}

// Columns handled together by one task of reduce_columns: whole rows of up to 1024 values, so that
// a task streams through contiguous memory (narrower blocks jump to the next row, i.e. the next
// page, every few cache lines, and the prefetchers lose track); the accumulators stay in L1.
constexpr int64_t kSumColBlock = 1024;
// Lanes of the narrow-column path of reduce_columns.
constexpr int64_t kNarrowLanes = 64;

// Rows of R processed per task of a column reduce: all of R when there are enough column blocks
// for the threads, else R cut into chunks (at least 64 rows) so that there are about 16 tasks.
// A function of the shape only.
inline int64_t column_chunk_rows(int64_t outer, int64_t R, int64_t inner) {
  const int64_t blocks = outer * ((inner + kSumColBlock - 1) / kSumColBlock);
  if (blocks >= 16 || R <= 64) return std::max<int64_t>(R, 1);
  const int64_t want = (16 + blocks - 1) / blocks;
  return std::max<int64_t>(64, (R + want - 1) / want);
}

template <class Op, class T, class Y>
void reduce_columns(const Op& op, const T* x, int64_t outer, int64_t R, int64_t inner, Y* y,
                    const typename Op::Acc* center) {
  using Acc = typename Op::Acc;
  const int64_t rc = column_chunk_rows(outer, R, inner);
  const int64_t nrc = std::max<int64_t>(1, (R + rc - 1) / rc);
  const int64_t ncb = (inner + kSumColBlock - 1) / kSumColBlock;
  std::unique_ptr<Acc[]> part(nrc > 1 ? new Acc[size_t(outer * nrc * inner)] : nullptr);
  const int64_t ntasks = outer * ncb * nrc;
  const int64_t work = std::min(rc, std::max<int64_t>(R, 1)) * std::min(inner, kSumColBlock);
  run_tasks(ntasks, static_grain(ntasks, kReduceGrain / work), [&](int64_t tb, int64_t te) {
    Acc acc[kSumColBlock];
    Acc cen[kSumColBlock];
    Acc wide[kNarrowLanes];
    Acc wcen[kNarrowLanes];
    for (int64_t t = tb; t < te; ++t) {
      int64_t k = t % nrc, cb = (t / nrc) % ncb, o = t / (nrc * ncb);
      int64_t i0 = cb * kSumColBlock, bw = std::min(kSumColBlock, inner - i0);
      int64_t r0 = k * rc, r1 = std::min(R, r0 + rc);
      for (int64_t i = 0; i < bw; ++i) {
        acc[i] = op.init();
        cen[i] = Op::kCenter ? center[o * inner + i0 + i] : Acc{};
      }
      if (inner <= kNarrowInner) {
        // Few columns: walk the block flat with wide lanes, lane j belonging to column j % inner,
        // then merge each column's lanes in lane order.
        const int64_t lw = inner * (kNarrowLanes / inner);
        for (int64_t j = 0; j < lw; ++j) {
          wide[j] = op.init();
          wcen[j] = cen[j % inner];
        }
        const T* KILN_RESTRICT base = x + (o * R + r0) * inner;
        const int64_t n = (r1 - r0) * inner;
        int64_t f = 0;
        for (; f + lw <= n; f += lw)
          for (int64_t j = 0; j < lw; ++j) wide[j] = op.step(wide[j], load(base[f + j]), wcen[j]);
        for (int64_t j = 0; f + j < n; ++j) wide[j] = op.step(wide[j], load(base[f + j]), wcen[j]);
        for (int64_t j = 0; j < lw; ++j) acc[j % inner] = op.combine(acc[j % inner], wide[j]);
      } else {
        // Four rows per sweep over the block: each column still absorbs its rows in order (same
        // result as one row at a time), but the accumulators are loaded and stored a quarter as
        // often, which is what bounds this loop.
        const int64_t stride = inner;
        int64_t r = r0;
        for (; r + 4 <= r1; r += 4) {
          const T* KILN_RESTRICT p0 = x + (o * R + r) * inner + i0;
          const T* KILN_RESTRICT p1 = p0 + stride;
          const T* KILN_RESTRICT p2 = p1 + stride;
          const T* KILN_RESTRICT p3 = p2 + stride;
          for (int64_t i = 0; i < bw; ++i) {
            Acc a = op.step(acc[i], load(p0[i]), cen[i]);
            a = op.step(a, load(p1[i]), cen[i]);
            a = op.step(a, load(p2[i]), cen[i]);
            acc[i] = op.step(a, load(p3[i]), cen[i]);
          }
        }
        for (; r < r1; ++r) {
          const T* KILN_RESTRICT row = x + (o * R + r) * inner + i0;
          for (int64_t i = 0; i < bw; ++i) acc[i] = op.step(acc[i], load(row[i]), cen[i]);
        }
      }
      if (nrc == 1) {
        for (int64_t i = 0; i < bw; ++i) y[o * inner + i0 + i] = op.finish(acc[i], cen[i]);
      } else {
        for (int64_t i = 0; i < bw; ++i) part[size_t((o * nrc + k) * inner + i0 + i)] = acc[i];
      }
    }
  });
  if (nrc == 1) return;
  // Each output combines its chunk partials in chunk order, whichever thread does it.
  run_tasks(outer * inner, static_grain(outer * inner, kReduceGrain / nrc), [&](int64_t b, int64_t e) {
    for (int64_t oi = b; oi < e; ++oi) {
      const int64_t o = oi / inner, i = oi % inner;
      Acc a = op.init();
      for (int64_t k = 0; k < nrc; ++k) a = op.combine(a, part[size_t((o * nrc + k) * inner + i)]);
      y[oi] = op.finish(a, Op::kCenter ? center[oi] : Acc{});
    }
  });
}

// Reduces dims 0 and 2 of x[A, K, B] into y[K] (the pattern of per-channel statistics of
// [N, C, H, W]): every (a, k) row of B elements is folded like a row reduce, then the A partials
// of each k are combined in order of a.
template <class Op, class T, class Y>
void run_reduce_split(const Op& op, const T* x, int64_t A, int64_t K, int64_t B, Y* y,
                  const typename Op::Acc* center = nullptr) {
  using Acc = typename Op::Acc;
  if (K == 0) return;
  const int64_t rows = A * K;
  std::unique_ptr<Acc[]> part(new Acc[size_t(rows)]);
  run_tasks(rows, static_grain(rows, kReduceGrain / std::max<int64_t>(B, 1)), [&](int64_t b, int64_t e) {
    for (int64_t t = b; t < e; ++t) {
      Acc c = Op::kCenter ? center[t % K] : Acc{};
      part[size_t(t)] = fold_row(op, x + t * B, B, c);
    }
  });
  for (int64_t k = 0; k < K; ++k) {
    Acc a = op.init();
    for (int64_t i = 0; i < A; ++i) a = op.combine(a, part[size_t(i * K + k)]);
    y[k] = op.finish(a, Op::kCenter ? center[k] : Acc{});
  }
}

// Reduces x[outer, R, inner] into y[outer, inner].
template <class Op, class T, class Y>
void run_reduce(const Op& op, const T* x, int64_t outer, int64_t R, int64_t inner, Y* y,
                const typename Op::Acc* center = nullptr) {
  if (outer == 0 || inner == 0) return;
  if (inner == 1)
    reduce_rows(op, x, outer, R, y, center);
  else
    reduce_columns(op, x, outer, R, inner, y, center);
}

}  // namespace KILN_ISA_NAMESPACE
