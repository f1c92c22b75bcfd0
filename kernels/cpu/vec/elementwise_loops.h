#pragma once
// Loop templates of the elementwise kernels (unary.cpp, binary.cpp, where.cpp). Included only by
// files compiled once per instruction set (Note [ISA dispatch]), inside their ISA namespace.
//
// Note [Elementwise loops]
// - Every op gets a contiguous path (all strides 1, or a broadcast operand with stride 0) whose
//   loop is a plain `o[k] = op(a[k], b)` that GCC vectorises, and a strided path for the rest.
//   In-place calls (output == an input) get their own loop over one pointer: with two pointers
//   GCC's run-time alias check would see the overlap and fall back to scalar code.
// - f16 / bf16 are computed in f32 by blocks of kBlock elements: convert a block into a float
//   buffer (F16C instructions where the ISA has them), run the vectorised f32 loop, convert back.
// - Small loops (<= kElementwiseGrain elements) run on the calling thread without going through
//   parallel_for, so tiny tensors pay no thread-pool or std::function cost.
// - The files that include this one are compiled with no-trapping-math (a pragma at their top):
//   the formulas of kernels/scalar_ops.h are written with selects, and only then does GCC turn
//   them into vector blends instead of branches (no vectorisation at all with AVX2) or masked
//   fix-up paths (AVX-512).
#include <array>
#include <cstring>
#include <type_traits>

#if defined(__F16C__)
#include <immintrin.h>
#endif

#include "kiln/kernels/convert.h"
#include "kiln/kernels/cpu/loop_runner.h"
#include "kiln/kernels/dtype.h"
#include "kiln/kernels/error.h"
#include "kiln/kernels/scalar_ops.h"

namespace KILN_ISA_NAMESPACE {
namespace ew {

template <class T> constexpr bool kIs16 = std::is_same_v<T, Half> || std::is_same_v<T, BFloat16>;
constexpr int64_t kBlock = 256;

// n values at p (stride s, in elements; 0 broadcasts p[0]) into dst as float.
template <class T>
inline void load_f32(const T* p, int64_t s, int64_t n, float* dst) {
  if (s == 1) {
    int64_t k = 0;
#if defined(__F16C__)
    if constexpr (std::is_same_v<T, Half>)
      for (; k + 8 <= n; k += 8)
        _mm256_storeu_ps(dst + k, _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p + k))));
#endif
    for (; k < n; ++k) dst[k] = float(p[k]);
  } else {
    for (int64_t k = 0; k < n; ++k) dst[k] = float(p[k * s]);
  }
}
template <class T>
inline void store_f32(const float* src, T* p, int64_t s, int64_t n) {
  if (s == 1) {
    int64_t k = 0;
#if defined(__F16C__)
    if constexpr (std::is_same_v<T, Half>)
      for (; k + 8 <= n; k += 8)
        _mm_storeu_si128(reinterpret_cast<__m128i*>(p + k),
                         _mm256_cvtps_ph(_mm256_loadu_ps(src + k), _MM_FROUND_TO_NEAREST_INT));
#endif
    for (; k < n; ++k) p[k] = T(src[k]);
  } else {
    for (int64_t k = 0; k < n; ++k) p[k * s] = T(src[k]);
  }
}

// Runs inner(ptrs, n, strides) over the loop; serially (no thread pool) when it is small.
template <int N, class Inner>
inline void run(const Loop& loop, const std::array<char*, N>& base, const std::array<int64_t, N>& es,
                Inner&& inner) {
  const int64_t numel = loop.numel();
  if (numel == 0) return;
  if (numel > kElementwiseGrain) {
    cpu::run_loop<N>(loop, base, es, kElementwiseGrain, inner);
    return;
  }
  std::array<int64_t, N> s;
  for (int k = 0; k < N; ++k) s[k] = loop.inner_stride(k);
  const int64_t n = loop.inner_size();
  const int64_t rows = loop.outer_size();
  for (int64_t r = 0; r < rows; ++r) {
    std::array<char*, N> p;
    for (int k = 0; k < N; ++k) p[k] = rows == 1 ? base[k] : base[k] + loop.row_offset(k, r) * es[k];
    inner(p, n, s);
  }
}

// No fix-up pass (see unary_loop).
struct NoFix {
  static constexpr bool kActive = false;
};

// out = op(in). Out is T, or bool when op returns bool. A Fix with kActive = true patches the
// results of inputs where fix.need(x) with fix.slow(x) (e.g. huge sin arguments), in a second
// look at each block of inputs kept in a buffer, so the main loop stays vectorised.
template <class T, class Op, class Fix = NoFix>
void unary_loop(const Loop& loop, void* out, const void* in, Op op, Fix fix = {}) {
  using C = compute_t<T>;
  using R = decltype(op(C{}));
  using O = std::conditional_t<std::is_same_v<R, bool>, bool, T>;
  std::array<char*, 2> base{static_cast<char*>(out), const_cast<char*>(static_cast<const char*>(in))};
  run<2>(loop, base, {int64_t(sizeof(O)), int64_t(sizeof(T))},
         [op, fix](const std::array<char*, 2>& p, int64_t n, const std::array<int64_t, 2>& s) {
           O* o = reinterpret_cast<O*>(p[0]);
           const T* x = reinterpret_cast<const T*>(p[1]);
           if constexpr (kIs16<T> || Fix::kActive) {
             C xb[kBlock];
             R rb[kBlock];
             for (int64_t b = 0; b < n; b += kBlock) {
               const int64_t m = n - b < kBlock ? n - b : kBlock;
               if constexpr (kIs16<T>) {
                 load_f32(x + b * s[1], s[1], m, xb);
               } else {
                 for (int64_t k = 0; k < m; ++k) xb[k] = x[(b + k) * s[1]];
               }
               for (int64_t k = 0; k < m; ++k) rb[k] = op(xb[k]);
               if constexpr (Fix::kActive) {
                 for (int64_t k = 0; k < m; ++k)
                   if (fix.need(xb[k])) rb[k] = fix.slow(xb[k]);
               }
               if constexpr (kIs16<T> && !std::is_same_v<R, bool>) {
                 store_f32(rb, o + b * s[0], s[0], m);
               } else {
                 for (int64_t k = 0; k < m; ++k) o[(b + k) * s[0]] = O(rb[k]);
               }
             }
           } else if (s[0] == 1 && s[1] == 1) {
             if (static_cast<const void*>(o) == static_cast<const void*>(x)) {
               T* io = reinterpret_cast<T*>(p[0]);
               for (int64_t k = 0; k < n; ++k) io[k] = T(op(io[k]));
             } else {
               for (int64_t k = 0; k < n; ++k) o[k] = O(op(x[k]));
             }
           } else {
             for (int64_t k = 0; k < n; ++k) o[k * s[0]] = O(op(x[k * s[1]]));
           }
         });
}

// out = op(a, b); sa / sb (may be null) replace operand a / b by a scalar (its Loop strides are 0).
template <class T, class Op>
void binary_loop(const Loop& loop, void* out, const void* a, const void* b, const ScalarArg* sa,
                 const ScalarArg* sb, Op op) {
  using C = compute_t<T>;
  using R = decltype(op(C{}, C{}));
  using O = std::conditional_t<std::is_same_v<R, bool>, bool, T>;
  const bool has_sa = sa != nullptr, has_sb = sb != nullptr;
  const C ca = has_sa ? scalar_as<C>(*sa) : C{}, cb = has_sb ? scalar_as<C>(*sb) : C{};
  std::array<char*, 3> base{static_cast<char*>(out), const_cast<char*>(static_cast<const char*>(a)),
                            const_cast<char*>(static_cast<const char*>(b))};
  run<3>(loop, base, {int64_t(sizeof(O)), int64_t(sizeof(T)), int64_t(sizeof(T))},
         [=](const std::array<char*, 3>& p, int64_t n, const std::array<int64_t, 3>& s) {
           O* o = reinterpret_cast<O*>(p[0]);
           const T* x = reinterpret_cast<const T*>(p[1]);
           const T* y = reinterpret_cast<const T*>(p[2]);
           if constexpr (kIs16<T>) {
             float xb[kBlock], yb[kBlock];
             R rb[kBlock];
             if (has_sa) for (int64_t k = 0; k < kBlock; ++k) xb[k] = ca;
             if (has_sb) for (int64_t k = 0; k < kBlock; ++k) yb[k] = cb;
             for (int64_t bb = 0; bb < n; bb += kBlock) {
               const int64_t m = n - bb < kBlock ? n - bb : kBlock;
               if (!has_sa) load_f32(x + bb * s[1], s[1], m, xb);
               if (!has_sb) load_f32(y + bb * s[2], s[2], m, yb);
               for (int64_t k = 0; k < m; ++k) rb[k] = op(xb[k], yb[k]);
               if constexpr (std::is_same_v<R, bool>) {
                 for (int64_t k = 0; k < m; ++k) o[(bb + k) * s[0]] = rb[k];
               } else {
                 store_f32(rb, o + bb * s[0], s[0], m);
               }
             }
           } else if (s[0] == 1 && s[1] == 1 && s[2] == 1) {
             if (static_cast<const void*>(o) == static_cast<const void*>(x)) {
               T* io = reinterpret_cast<T*>(p[0]);
               for (int64_t k = 0; k < n; ++k) io[k] = T(op(C(io[k]), C(y[k])));
             } else {
               for (int64_t k = 0; k < n; ++k) o[k] = O(op(C(x[k]), C(y[k])));
             }
           } else if (s[0] == 1 && s[1] == 1 && s[2] == 0) {
             const C yv = has_sb ? cb : C(y[0]);
             if (static_cast<const void*>(o) == static_cast<const void*>(x)) {
               T* io = reinterpret_cast<T*>(p[0]);
               for (int64_t k = 0; k < n; ++k) io[k] = T(op(C(io[k]), yv));
             } else {
               for (int64_t k = 0; k < n; ++k) o[k] = O(op(C(x[k]), yv));
             }
           } else if (s[0] == 1 && s[1] == 0 && s[2] == 1) {
             const C xv = has_sa ? ca : C(x[0]);
             for (int64_t k = 0; k < n; ++k) o[k] = O(op(xv, C(y[k])));
           } else {
             for (int64_t k = 0; k < n; ++k) {
               const C xv = has_sa ? ca : C(x[k * s[1]]);
               const C yv = has_sb ? cb : C(y[k * s[2]]);
               o[k * s[0]] = O(op(xv, yv));
             }
           }
         });
}


}  // namespace ew
}  // namespace KILN_ISA_NAMESPACE
