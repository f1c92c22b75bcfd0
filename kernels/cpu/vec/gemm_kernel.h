#pragma once
// Register tiles and packing of the CPU GEMM (Note [GEMM blocking] in gemm.cpp): vector traits and
// block sizes per instruction set, the micro-kernel, and the A/B packing routines. Included only
// by files under kernels/cpu/vec/ (gemm.cpp; conv_direct.cpp for the scratch areas and the 16 x 16
// transpose; conv_rows.cpp for a scratch area and the stride-2 reads), which are compiled once per
// ISA (Note [ISA dispatch]), so all of this lands in that copy's namespace.
#include <algorithm>
#include <cstdint>
#include <type_traits>
#include <vector>

#include "kiln/kernels/cpu/isa.h"
#include "kiln/kernels/macros.h"

#if defined(__SSE2__)
#include <immintrin.h>
#endif

namespace KILN_ISA_NAMESPACE {
namespace {

// A 64-byte aligned scratch area of at least n elements in v (a thread-local buffer of the caller's,
// reused across calls).
template <class T>
T* scratch(std::vector<T>& v, size_t n) {
  const size_t need = n + 64 / sizeof(T);
  if (v.size() < need) v.resize(need);
  uintptr_t p = (reinterpret_cast<uintptr_t>(v.data()) + 63) & ~uintptr_t(63);
  return reinterpret_cast<T*>(p);
}

// ---- vector traits and block sizes per instruction set ------------------------------------------
template <class T> struct Arch;

#if defined(__AVX512F__)
template <> struct Arch<float> {
  using R = __m512;
  static constexpr int W = 16, MR = 8, NV = 3, KC = 256, MC = 8 * 20, NC = 48 * 10;
  static constexpr bool kMasked = true;
  using Mask = __mmask16;
  static R load(const float* p) { return _mm512_loadu_ps(p); }
  static R mask_load(Mask m, const float* p) { return _mm512_maskz_loadu_ps(m, p); }
  static void mask_store(float* p, Mask m, R v) { _mm512_mask_storeu_ps(p, m, v); }
  static void store(float* p, R v) { _mm512_storeu_ps(p, v); }
  static R set1(float v) { return _mm512_set1_ps(v); }
  static R zero() { return _mm512_setzero_ps(); }
  static R mul(R a, R b) { return _mm512_mul_ps(a, b); }
  static R fma(R a, R b, R c) { return _mm512_fmadd_ps(a, b, c); }
};
template <> struct Arch<double> {
  using R = __m512d;
  static constexpr int W = 8, MR = 8, NV = 3, KC = 192, MC = 8 * 12, NC = 24 * 10;
  static constexpr bool kMasked = true;
  using Mask = __mmask8;
  static R load(const double* p) { return _mm512_loadu_pd(p); }
  static R mask_load(Mask m, const double* p) { return _mm512_maskz_loadu_pd(m, p); }
  static void mask_store(double* p, Mask m, R v) { _mm512_mask_storeu_pd(p, m, v); }
  static void store(double* p, R v) { _mm512_storeu_pd(p, v); }
  static R set1(double v) { return _mm512_set1_pd(v); }
  static R zero() { return _mm512_setzero_pd(); }
  static R mul(R a, R b) { return _mm512_mul_pd(a, b); }
  static R fma(R a, R b, R c) { return _mm512_fmadd_pd(a, b, c); }
};
#elif defined(__AVX2__) && defined(__FMA__)
template <> struct Arch<float> {
  using R = __m256;
  static constexpr int W = 8, MR = 6, NV = 2, KC = 256, MC = 6 * 24, NC = 16 * 32;
  static R load(const float* p) { return _mm256_loadu_ps(p); }
  static void store(float* p, R v) { _mm256_storeu_ps(p, v); }
  static R set1(float v) { return _mm256_set1_ps(v); }
  static R zero() { return _mm256_setzero_ps(); }
  static R mul(R a, R b) { return _mm256_mul_ps(a, b); }
  static R fma(R a, R b, R c) { return _mm256_fmadd_ps(a, b, c); }
};
template <> struct Arch<double> {
  using R = __m256d;
  static constexpr int W = 4, MR = 6, NV = 2, KC = 256, MC = 6 * 16, NC = 8 * 32;
  static R load(const double* p) { return _mm256_loadu_pd(p); }
  static void store(double* p, R v) { _mm256_storeu_pd(p, v); }
  static R set1(double v) { return _mm256_set1_pd(v); }
  static R zero() { return _mm256_setzero_pd(); }
  static R mul(R a, R b) { return _mm256_mul_pd(a, b); }
  static R fma(R a, R b, R c) { return _mm256_fmadd_pd(a, b, c); }
};
#elif defined(__SSE2__)
template <> struct Arch<float> {
  using R = __m128;
  static constexpr int W = 4, MR = 4, NV = 2, KC = 256, MC = 4 * 32, NC = 1024;
  static R load(const float* p) { return _mm_loadu_ps(p); }
  static void store(float* p, R v) { _mm_storeu_ps(p, v); }
  static R set1(float v) { return _mm_set1_ps(v); }
  static R zero() { return _mm_setzero_ps(); }
  static R mul(R a, R b) { return _mm_mul_ps(a, b); }
  static R fma(R a, R b, R c) { return _mm_add_ps(_mm_mul_ps(a, b), c); }
};
template <> struct Arch<double> {
  using R = __m128d;
  static constexpr int W = 2, MR = 4, NV = 2, KC = 256, MC = 4 * 32, NC = 512;
  static R load(const double* p) { return _mm_loadu_pd(p); }
  static void store(double* p, R v) { _mm_storeu_pd(p, v); }
  static R set1(double v) { return _mm_set1_pd(v); }
  static R zero() { return _mm_setzero_pd(); }
  static R mul(R a, R b) { return _mm_mul_pd(a, b); }
  static R fma(R a, R b, R c) { return _mm_add_pd(_mm_mul_pd(a, b), c); }
};
#else
template <class T> struct ScalarArch {
  using R = T;
  static constexpr int W = 1, MR = 4, NV = 4, KC = 256, MC = 64, NC = 512;
  static R load(const T* p) { return *p; }
  static void store(T* p, R v) { *p = v; }
  static R set1(T v) { return v; }
  static R zero() { return T(0); }
  static R mul(R a, R b) { return a * b; }
  static R fma(R a, R b, R c) { return a * b + c; }
};
template <> struct Arch<float> : ScalarArch<float> {};
template <> struct Arch<double> : ScalarArch<double> {};
#endif

// Block sizes must be whole register tiles (packing writes whole slivers).
template <class T>
constexpr bool valid_blocking() {
  using A = Arch<T>;
  return A::MC % A::MR == 0 && A::NC % (A::NV * A::W) == 0;
}
static_assert(valid_blocking<float>() && valid_blocking<double>());


// ---- micro-kernel -------------------------------------------------------------------------------
// Instruction sets with masked vector loads and stores (AVX-512) can store a register tile whose
// columns are not one contiguous run (a convolution's output tile that straddles images: 8 x 8
// images put a gap in most 48-column tiles, 2 x 2 images in every fourth column) straight from the
// registers, piece by piece, instead of through a buffer and one scalar store per element.
template <class A, class = void> struct HasMasks : std::false_type {};
template <class A> struct HasMasks<A, std::void_t<decltype(A::kMasked)>> : std::bool_constant<A::kMasked> {};

// Where the first nr columns of a tile live, relative to the start of their row: per vector of W
// columns, pieces of consecutive lanes whose columns are consecutive addresses; lane l of piece q
// goes to off[v][q] + l (masked-off lanes are never touched, so off may lie before the row).
template <class T, bool = HasMasks<Arch<T>>::value>
struct TilePieces {
  static constexpr bool kEnabled = false;
};
template <class T>
struct TilePieces<T, true> {
  static constexpr bool kEnabled = true;
  static constexpr int NV = Arch<T>::NV, W = Arch<T>::W;
  int count[NV];
  typename Arch<T>::Mask mask[NV][W];
  int64_t off[NV][W];
  // col(j): offset of tile column j (j < nr) in its row.
  template <class Col>
  void build(int64_t nr, const Col& col) {
    for (int v = 0; v < NV; ++v) {
      count[v] = 0;
      for (int l = 0; l < W && v * W + l < nr;) {
        const int64_t start = col(v * W + l);
        int e = l + 1;
        while (e < W && v * W + e < nr && col(v * W + e) == start + (e - l)) ++e;
        mask[v][count[v]] = typename Arch<T>::Mask(((uint32_t(1) << (e - l)) - 1u) << l);
        off[v][count[v]++] = start - l;
        l = e;
      }
    }
  }
};

// C[MR, NR] = alpha * a_sliver * b_sliver + beta * C (+ row_add[i] on row i when row_add is given;
// C not read when beta == 0). With `pieces` (instruction sets with masks only), only the first
// `rows` rows are stored, each at c + i * ldc through the pieces.
template <class T>
inline void micro_kernel(int64_t kc, const T* KILN_RESTRICT a, const T* KILN_RESTRICT b, T* c, int64_t ldc,
                         T alpha, T beta, const T* row_add = nullptr, const TilePieces<T>* pieces = nullptr,
                         int rows = Arch<T>::MR) {
  using A = Arch<T>;
  using R = typename A::R;
  constexpr int MR = A::MR, NV = A::NV, W = A::W, NR = NV * W;
  R acc[MR][NV];
#pragma GCC unroll 16
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 4
    for (int j = 0; j < NV; ++j) acc[i][j] = A::zero();
#if defined(__SSE2__)
  // The C tile is touched once, after the k loop: start fetching it now.
  if (!pieces)
    for (int i = 0; i < MR; ++i) {
      _mm_prefetch(reinterpret_cast<const char*>(c + i * ldc), _MM_HINT_T0);
      _mm_prefetch(reinterpret_cast<const char*>(c + i * ldc + NR - 1), _MM_HINT_T0);
    }
#endif
  for (int64_t k = 0; k < kc; ++k) {
    R bv[NV];
#pragma GCC unroll 4
    for (int j = 0; j < NV; ++j) bv[j] = A::load(b + j * W);
#pragma GCC unroll 16
    for (int i = 0; i < MR; ++i) {
      const R av = A::set1(a[i]);
#pragma GCC unroll 4
      for (int j = 0; j < NV; ++j) acc[i][j] = A::fma(av, bv[j], acc[i][j]);
    }
    a += MR;
    b += NR;
  }
  const R va = A::set1(alpha);
  if constexpr (TilePieces<T>::kEnabled) {
    if (pieces) {
      for (int i = 0; i < rows; ++i) {
        T* crow = c + i * ldc;
        const R vr = row_add ? A::set1(row_add[i]) : A::zero();
        for (int j = 0; j < NV; ++j) {
          const R v = A::fma(va, acc[i][j], vr);
          for (int q = 0; q < pieces->count[j]; ++q) {
            T* p = crow + pieces->off[j][q];
            const auto m = pieces->mask[j][q];
            A::mask_store(p, m, beta == T(0) ? v : A::fma(A::set1(beta), A::mask_load(m, p), v));
          }
        }
      }
      return;
    }
  }
  if (row_add) {
#pragma GCC unroll 16
    for (int i = 0; i < MR; ++i) {
      const R vr = A::set1(row_add[i]);
#pragma GCC unroll 4
      for (int j = 0; j < NV; ++j) {
        T* p = c + i * ldc + j * W;
        const R v = A::fma(va, acc[i][j], vr);
        A::store(p, beta == T(0) ? v : A::fma(A::set1(beta), A::load(p), v));
      }
    }
    return;
  }
  if (beta == T(0)) {
#pragma GCC unroll 16
    for (int i = 0; i < MR; ++i)
#pragma GCC unroll 4
      for (int j = 0; j < NV; ++j) A::store(c + i * ldc + j * W, A::mul(va, acc[i][j]));
  } else {
    const R vb = A::set1(beta);
#pragma GCC unroll 16
    for (int i = 0; i < MR; ++i)
#pragma GCC unroll 4
      for (int j = 0; j < NV; ++j) {
        T* p = c + i * ldc + j * W;
        A::store(p, A::fma(vb, A::load(p), A::mul(va, acc[i][j])));
      }
  }
}

// ---- packing ------------------------------------------------------------------------------------
// Rows [i0, i0+m) x cols [k0, k0+kc) of op(A) into slivers of MR rows, each k-major [kc][MR].
template <class T>
void pack_a(bool trans, const T* A, int64_t lda, int64_t i0, int64_t m, int64_t k0, int64_t kc, T* dst) {
  constexpr int MR = Arch<T>::MR;
  for (int64_t s = 0; s < m; s += MR) {
    const int rows = int(std::min<int64_t>(MR, m - s));
    T* d = dst + s * kc;
    if (!trans) {
      const T* src[MR];
      for (int i = 0; i < rows; ++i) src[i] = A + (i0 + s + i) * lda + k0;
      for (int64_t k = 0; k < kc; ++k, d += MR) {
        int i = 0;
        for (; i < rows; ++i) d[i] = src[i][k];
        for (; i < MR; ++i) d[i] = T(0);
      }
    } else {
      for (int64_t k = 0; k < kc; ++k, d += MR) {
        const T* src = A + (k0 + k) * lda + i0 + s;
        int i = 0;
        for (; i < rows; ++i) d[i] = src[i];
        for (; i < MR; ++i) d[i] = T(0);
      }
    }
  }
}

// The stored matrix of op(B), row by row: a strided matrix, or a table of row pointers (which lets
// a convolution hand its shifted input rows to the GEMM without an im2col copy).
template <class T>
struct StridedRows {
  const T* base;
  int64_t ld;
  const T* operator()(int64_t r) const { return base + r * ld; }
};
template <class T>
struct PointerRows {
  const T* const* rows;
  const T* operator()(int64_t r) const { return rows[r]; }
};

#if defined(__AVX512F__)
KILN_INTRINSIC_WARNINGS_OFF
// dst[k*ldd + j] = src[j][k0 + k] for j, k < 16: a 16 x 16 transpose in registers (unpack within
// 128-bit lanes, then shuffle the lanes), far cheaper than 256 scalar moves. Only the columns j in
// `cols` (a lane mask) are stored: an 8-row sliver keeps the first 8.
inline void transpose16x16_regs(__m512* r, float* dst, int64_t ldd, __mmask16 cols = 0xFFFF) {
  __m512 t[16];
  for (int i = 0; i < 8; ++i) {
    t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
    t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
  }
  for (int i = 0; i < 4; ++i) {
    r[4 * i] = _mm512_shuffle_ps(t[4 * i], t[4 * i + 2], 0x44);
    r[4 * i + 1] = _mm512_shuffle_ps(t[4 * i], t[4 * i + 2], 0xEE);
    r[4 * i + 2] = _mm512_shuffle_ps(t[4 * i + 1], t[4 * i + 3], 0x44);
    r[4 * i + 3] = _mm512_shuffle_ps(t[4 * i + 1], t[4 * i + 3], 0xEE);
  }
  for (int i = 0; i < 4; ++i) {
    t[i] = _mm512_shuffle_f32x4(r[i], r[i + 4], 0x88);
    t[i + 4] = _mm512_shuffle_f32x4(r[i], r[i + 4], 0xDD);
    t[i + 8] = _mm512_shuffle_f32x4(r[i + 8], r[i + 12], 0x88);
    t[i + 12] = _mm512_shuffle_f32x4(r[i + 8], r[i + 12], 0xDD);
  }
  for (int i = 0; i < 8; ++i) {
    _mm512_mask_storeu_ps(dst + i * ldd, cols, _mm512_shuffle_f32x4(t[i], t[i + 8], 0x88));
    _mm512_mask_storeu_ps(dst + (i + 8) * ldd, cols, _mm512_shuffle_f32x4(t[i], t[i + 8], 0xDD));
  }
}
inline void transpose16x16(const float* const* src, int64_t k0, float* dst, int64_t ldd) {
  __m512 r[16];
  for (int i = 0; i < 16; ++i) r[i] = _mm512_loadu_ps(src[i] + k0);
  transpose16x16_regs(r, dst, ldd);
}

// Stride-2 reads: lanes [0, n) take elements 0, 2, .., 2n - 2 of the 32 from p, by two masked loads
// (lo: elements [0, 16), hi: [16, 32), only those up to 2n - 2) and a permute with even_lanes().
struct Stride2Masks {
  __mmask16 lo, hi;
};
inline Stride2Masks stride2_masks(int n) {
  const uint32_t bits = (uint32_t(1) << (2 * n - 1)) - 1u;
  return {__mmask16(bits & 0xFFFFu), __mmask16(bits >> 16)};
}
inline __m512i even_lanes() { return _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0); }
KILN_INTRINSIC_WARNINGS_ON
#endif

// Rows [k0, k0+kc) x cols [j0, j0+n) of op(B) into slivers of NR columns, each k-major [kc][NR].
// `first`/`last` select a range of slivers.
template <class T, class Rows>
void pack_b(bool trans, const Rows& B, int64_t k0, int64_t kc, int64_t j0, int64_t n, int64_t first,
            int64_t last, T* dst) {
  constexpr int NR = Arch<T>::NV * Arch<T>::W;
  for (int64_t sl = first; sl < last; ++sl) {
    const int64_t s = sl * NR;
    const int cols = int(std::min<int64_t>(NR, n - s));
    T* d = dst + s * kc;
    if (!trans) {
      if (cols == NR) {  // whole sliver: a fixed-length copy the compiler turns into NR/W vector moves
        for (int64_t k = 0; k < kc; ++k, d += NR) {
          const T* src = B(k0 + k) + j0 + s;
#pragma GCC unroll 8
          for (int j = 0; j < NR; ++j) d[j] = src[j];
        }
        continue;
      }
      for (int64_t k = 0; k < kc; ++k, d += NR) {
        const T* src = B(k0 + k) + j0 + s;
        int j = 0;
        for (; j < cols; ++j) d[j] = src[j];
        for (; j < NR; ++j) d[j] = T(0);
      }
    } else {
#if defined(__AVX512F__)
      if constexpr (std::is_same_v<T, float> && NR % 16 == 0) {
        if (cols == NR) {
          const float* src[NR];
          for (int j = 0; j < NR; ++j) src[j] = B(j0 + s + j) + k0;
          int64_t k = 0;
          for (; k + 16 <= kc; k += 16)
            for (int jg = 0; jg < NR; jg += 16) transpose16x16(src + jg, k, d + k * NR + jg, NR);
          for (; k < kc; ++k)
            for (int j = 0; j < NR; ++j) d[k * NR + j] = src[j][k];
          continue;
        }
      }
#endif
      // A transpose: read each stored row contiguously over a block of k (the block of the
      // sliver being written stays in L1), rather than gathering one element per row and k.
      constexpr int64_t kBlock = 32;
      for (int64_t kb = 0; kb < kc; kb += kBlock) {
        const int64_t ke = std::min(kc, kb + kBlock);
        for (int j = 0; j < cols; ++j) {
          const T* src = B(j0 + s + j) + k0;
          for (int64_t k = kb; k < ke; ++k) d[k * NR + j] = src[k];
        }
        for (int j = cols; j < NR; ++j)
          for (int64_t k = kb; k < ke; ++k) d[k * NR + j] = T(0);
      }
    }
  }
}


// ---- packing from offset tables (Note [Convolution as an implicit GEMM] in kernels/cpu/conv2d.cpp)
// One sliver of R items (columns of B, or rows of A) over a depth range:
//   dst[k*R + i] = base[item[i] + depth[k]] for i < n, k < kc;  0 for n <= i < R.
// Two shapes are common: items that come in runs of consecutive addresses (output positions along
// an image row: copied per depth step, run by run), and scattered items whose depth runs are
// consecutive (the weight gradient reading input rows along positions: a transpose, done 16 x 16 in
// registers with AVX-512, each register filled by one masked load per run of consecutive depth).
template <class T, int R>
void pack_sliver(const T* base, const int64_t* item, int n, const int64_t* depth, int64_t kc, T* dst) {
  // Runs of item addresses with a constant step of 1 or 2 (stride-2 convolutions).
  int run_start[R + 1], run_step[R];
  int nruns = 0;
  for (int i = 0; i < n;) {
    int step = i + 1 < n ? int(item[i + 1] - item[i]) : 1;
    if (step != 1 && step != 2) step = 1;
    int e = i + 1;
    while (e < n && item[e] == item[e - 1] + step) ++e;
    run_start[nruns] = i;
    run_step[nruns++] = step;
    i = e;
  }
  run_start[nruns] = n;
  if (nruns * 4 <= n) {
    if (nruns == 1 && n == R && run_step[0] == 1) {  // one whole run: a fixed-length copy (R/W vector moves)
      const T* src = base + item[0];
      for (int64_t k = 0; k < kc; ++k) {
        const T* s = src + depth[k];
        T* d = dst + k * R;
#pragma GCC unroll 8
        for (int i = 0; i < R; ++i) d[i] = s[i];
      }
      return;
    }
#if defined(__AVX512F__)
    if constexpr (std::is_same_v<T, float>) {
      // Each run in pieces of 16 lanes: masked loads and stores (stride 2: two loads and a
      // permute that keeps the even elements). The pieces (offsets and masks) are the same for
      // every depth step, so they are worked out once per sliver.
      const __m512i even = even_lanes();
      constexpr int kMaxPieces = R / 4 + 2 * ((R + 15) / 16) + 2;
      int64_t src_off[kMaxPieces];
      int out_off[kMaxPieces];
      __mmask16 store_mask[kMaxPieces], lo_mask[kMaxPieces], hi_mask[kMaxPieces];
      bool stride2[kMaxPieces];
      int np = 0;
      for (int r = 0; r < nruns; ++r) {
        const int a = run_start[r], len = run_start[r + 1] - a;
        for (int i = 0; i < len; i += 16, ++np) {
          const int m = std::min(16, len - i);
          store_mask[np] = __mmask16((1u << m) - 1u);
          out_off[np] = a + i;
          stride2[np] = run_step[r] == 2;
          src_off[np] = item[a] + int64_t(run_step[r]) * i;
          const Stride2Masks m2 = stride2_masks(m);
          lo_mask[np] = m2.lo;
          hi_mask[np] = m2.hi;
        }
      }
      for (int64_t k = 0; k < kc; ++k) {
        float* d = dst + k * R;
        const float* s = base + depth[k];
        for (int q = 0; q < np; ++q) {
          const float* src = s + src_off[q];
          __m512 v;
          if (!stride2[q]) {
            v = _mm512_maskz_loadu_ps(store_mask[q], src);
          } else {
            const __m512 lo = _mm512_maskz_loadu_ps(lo_mask[q], src);
            const __m512 hi = _mm512_maskz_loadu_ps(hi_mask[q], src + 16);
            v = _mm512_permutex2var_ps(lo, even, hi);
          }
          _mm512_mask_storeu_ps(d + out_off[q], store_mask[q], v);
        }
        for (int i = n; i < R; ++i) d[i] = 0.0f;
      }
      return;
    }
#endif
    for (int64_t k = 0; k < kc; ++k) {
      T* d = dst + k * R;
      const T* s = base + depth[k];
      for (int r = 0; r < nruns; ++r) {
        const int a = run_start[r], len = run_start[r + 1] - a;
        const T* src = s + item[a];
        T* out = d + a;
        if (run_step[r] == 1)
          for (int i = 0; i < len; ++i) out[i] = src[i];
        else
          for (int i = 0; i < len; ++i) out[i] = src[2 * i];
      }
      for (int i = n; i < R; ++i) d[i] = T(0);
    }
    return;
  }
  int64_t k = 0;
#if defined(__AVX512F__)
  if constexpr (std::is_same_v<T, float> && R % 8 == 0) {
    if (n >= 8) {  // (groups of 16 columns past n are stored as zeros without a transpose)
      // With an increasing depth table (every table the convolutions build), a block whose first
      // and last depth are 15 apart is one run of consecutive addresses: a weight row, or 16
      // positions of one image. Such blocks skip the run analysis and load without masks.
      bool increasing = true;
      for (int64_t i = 1; i < kc; ++i) increasing &= depth[i] > depth[i - 1];
      for (; k + 16 <= kc; k += 16) {
        if (increasing && depth[k + 15] - depth[k] == 15) {
          for (int g = 0; g < R; g += 16) {
            const int rows = std::min(16, R - g);
            const int valid = std::max(0, std::min(rows, n - g));
            __m512 v[16];
            for (int i = 0; i < valid; ++i) v[i] = _mm512_loadu_ps(base + item[g + i] + depth[k]);
            for (int i = valid; i < 16; ++i) v[i] = _mm512_setzero_ps();
            transpose16x16_regs(v, dst + k * R + g, R, __mmask16((1u << rows) - 1u));
          }
          continue;
        }
        // Runs of consecutive depth addresses inside this block of 16: lanes [la[r], la[r+1]) read
        // from offset depth[k + la[r]] - la[r] + lane.
        // Runs of depth addresses with step 1 (lanes [a, b) read offset depth[k + a] - a + lane) or
        // step 2 (lanes read element 2 * lane of the 32 from depth[k + a] - 2a, kept by a permute).
        int la[17], step[16];
        int64_t off[16];
        int m = 0;
        for (int l = 0; l < 16;) {
          int st = l + 1 < 16 ? int(depth[k + l + 1] - depth[k + l]) : 1;
          if (st != 1 && st != 2) st = 1;
          int e = l + 1;
          while (e < 16 && depth[k + e] == depth[k + e - 1] + st) ++e;
          la[m] = l;
          step[m] = st;
          off[m++] = depth[k + l] - st * l;
          l = e;
        }
        la[m] = 16;
        __mmask16 mask[16], lo_mask[16], hi_mask[16];
        for (int r = 0; r < m; ++r) {
          mask[r] = __mmask16(((1u << (la[r + 1] - la[r])) - 1u) << la[r]);
          if (step[r] == 2) {  // elements [2a, 2b - 1) of the 32 from off
            const uint32_t bits = ((uint32_t(1) << (2 * la[r + 1] - 1 - 2 * la[r])) - 1u) << (2 * la[r]);
            lo_mask[r] = __mmask16(bits & 0xFFFFu);
            hi_mask[r] = __mmask16(bits >> 16);
          }
        }
        const __m512i even = even_lanes();
        bool all_unit = true;
        for (int r = 0; r < m; ++r) all_unit = all_unit && step[r] == 1;
        for (int g = 0; g < R; g += 16) {
          const int rows = std::min(16, R - g);  // 8 for the A slivers (MR = 8)
          const int valid = std::max(0, std::min(rows, n - g));
          if (valid == 0) {
            const __mmask16 cols = __mmask16((1u << rows) - 1u);
            for (int kk = 0; kk < 16; ++kk) _mm512_mask_storeu_ps(dst + (k + kk) * R + g, cols, _mm512_setzero_ps());
            continue;
          }
          __m512 v[16];
          for (int i = 0; i < valid; ++i) {
            const float* p = base + item[g + i];
            if (all_unit) {
              __m512 x = _mm512_maskz_loadu_ps(mask[0], p + off[0]);
              for (int r = 1; r < m; ++r) x = _mm512_mask_loadu_ps(x, mask[r], p + off[r]);
              v[i] = x;
              continue;
            }
            __m512 x = _mm512_setzero_ps();
            for (int r = 0; r < m; ++r) {
              if (step[r] == 1) {
                x = _mm512_mask_loadu_ps(x, mask[r], p + off[r]);
              } else {
                const __m512 lo = _mm512_maskz_loadu_ps(lo_mask[r], p + off[r]);
                const __m512 hi = _mm512_maskz_loadu_ps(hi_mask[r], p + off[r] + 16);
                x = _mm512_mask_mov_ps(x, mask[r], _mm512_permutex2var_ps(lo, even, hi));
              }
            }
            v[i] = x;
          }
          for (int i = valid; i < 16; ++i) v[i] = _mm512_setzero_ps();
          transpose16x16_regs(v, dst + k * R + g, R, __mmask16((1u << rows) - 1u));
        }
      }
    }
  }
#endif
  // Scattered items: per item along depth, a block of depth at a time so the written block of the
  // sliver stays in L1.
  constexpr int64_t kBlock = 32;
  for (int64_t kb = k; kb < kc; kb += kBlock) {
    const int64_t ke = std::min(kc, kb + kBlock);
    for (int i = 0; i < n; ++i) {
      const T* src = base + item[i];
      for (int64_t kk = kb; kk < ke; ++kk) dst[kk * R + i] = src[depth[kk]];
    }
    for (int i = n; i < R; ++i)
      for (int64_t kk = kb; kk < ke; ++kk) dst[kk * R + i] = T(0);
  }
}

}  // namespace
}  // namespace KILN_ISA_NAMESPACE
