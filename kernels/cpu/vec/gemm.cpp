// Compiled once per instruction set (Note [ISA dispatch] in kernels/cpu/isa.h).
//
// Note [GEMM blocking]
// The classic packed GEMM (Goto / BLIS): C is computed in MR x NR register tiles (AVX-512: 8 x 48
// f32, i.e. 24 accumulators + 3 B vectors; 8 rows because CNN channel counts are multiples of 8,
// and it measured faster than 14 x 32 on conv-shaped products) by a micro-kernel
// that streams a packed sliver of op(A) (MR rows, k-major) and a packed sliver of op(B) (NR columns,
// k-major) and keeps the whole tile in vector registers, one broadcast of A against NR/W vectors of
// B per row and k. Around it:
//   jc: panels of NC columns of B   (packed B panel: KC x NC, about 0.5 MB, stays in L2)
//   pc: blocks of KC along K        (KC chosen so that a B sliver, KC x NR, stays in L1)
//   ic: blocks of MC rows of A      (packed per thread, MC x KC, stays in L2)
//   jr: NR slivers of the B panel, ir: MR slivers of the A block -> micro-kernel.
// Packing pads the last sliver with zeros, so the micro-kernel always runs full tiles. A partial
// tile at the bottom/right edge, or one whose columns are not one contiguous run of C (table
// outputs), is stored from the registers by masked pieces (TilePieces in gemm_kernel.h) where the
// ISA has masks, else computed into a small buffer and copied out. The K blocks are
// of balanced length (K = 257 gives 129 + 128, not 256 + 1), beta applies on the first block only.
//
// When a thread's rows of op(A) take at most kPackedAllA bytes (a convolution's weight, a
// mid-size product), all of A is packed once, and C is then done one NC panel at a time with all
// its K blocks in a row (the panel stays in cache while it accumulates). Otherwise, with at most
// MC rows (a weight gradient: few rows, long depth), A is packed once per K block and swept over
// all of N; else the classic loop order above. The driver is written once over three policies
// (how to pack A, how to pack B, where C(i, j) lives): strided/row-pointer matrices for gemm and
// gemm_rows, offset tables for gemm_tables (convolutions; packers in gemm_kernel.h). Micro-kernels,
// traits and packing live in gemm_kernel.h.
//
// Threads: C is split into one sliver-aligned stripe per thread, along N when it has at least as
// many NR slivers as M has MR slivers (or, for table operands, a few slivers per thread: packing
// the im2col side is the costly part, and an N split packs each of its slivers once), else along
// M; each thread packs its own panels, so a product costs one parallel region. Each C element is accumulated over k in the same order
// whatever the split, so the result does not depend on the thread count. Small products (M*N*K
// below kSmallGemm, or M or N <= 2) use plain loops with no packing, and products below
// kThreadedGemm run on one thread.
#include "kiln/kernels/cpu/gemm.h"

#include <algorithm>
#include <cstdint>
#include <type_traits>
#include <vector>

#include "kiln/kernels/cpu/parallel.h"
#include "kiln/kernels/cpu/vec/gemm_kernel.h"

namespace KILN_ISA_NAMESPACE {
namespace {

constexpr int64_t kSmallGemm = 24 * 24 * 24;
constexpr int64_t kThreadedGemm = 128 * 128 * 128;
// Table (convolution) products thread from a smaller size: their cost is mostly packing the
// im2col side, which an N split divides with no duplicated work, so a small convolution (simple_cnn's
// 1 -> 8 channel layer: 8 x 12544 x 9) still gains from the second thread.
constexpr int64_t kThreadedTables = 64 * 64 * 64;
// Largest A (in bytes, per thread) that is packed whole, once per product.
constexpr int64_t kPackedAllA = 4 << 20;

template <class T> T* a_scratch(size_t n) {
  static thread_local std::vector<T> buf;
  return scratch(buf, n);
}
template <class T> T* b_scratch(size_t n) {
  static thread_local std::vector<T> buf;
  return scratch(buf, n);
}

// ---- operands and output ---------------------------------------------------------------------------
// The blocked driver below is written once over three small policies: how to pack a block of op(A),
// how to pack a panel of op(B), and where element (i, j) of C lives. Plain GEMMs use strided (or
// row-pointer) matrices; convolutions use offset tables (gemm_tables).
template <class T>
struct PlainA {
  bool trans;
  const T* A;
  int64_t lda;
  void pack(int64_t i0, int64_t m, int64_t k0, int64_t kc, T* dst) const { pack_a(trans, A, lda, i0, m, k0, kc, dst); }
};
template <class T, class Rows>
struct PlainB {
  bool trans;
  Rows B;
  void pack(int64_t k0, int64_t kc, int64_t j0, int64_t n, T* dst) const {
    constexpr int NR = Arch<T>::NV * Arch<T>::W;
    pack_b<T>(trans, B, k0, kc, j0, n, 0, (n + NR - 1) / NR, dst);
  }
};
template <class T>
struct TableA {
  cpu::TableMatrix<T> t;
  void pack(int64_t i0, int64_t m, int64_t k0, int64_t kc, T* dst) const {
    constexpr int MR = Arch<T>::MR;
    for (int64_t s = 0; s < m; s += MR)
      pack_sliver<T, MR>(t.base, t.row + i0 + s, int(std::min<int64_t>(MR, m - s)), t.col + k0, kc, dst + s * kc);
  }
};
template <class T>
struct TableB {
  cpu::TableMatrix<T> t;
  void pack(int64_t k0, int64_t kc, int64_t j0, int64_t n, T* dst) const {
    constexpr int NR = Arch<T>::NV * Arch<T>::W;
    for (int64_t s = 0; s < n; s += NR)
      pack_sliver<T, NR>(t.base, t.col + j0 + s, int(std::min<int64_t>(NR, n - s)), t.row + k0, kc, dst + s * kc);
  }
};
// C(i, j) = C[i * ldc + col[j]] (col[j] = j when col is null), plus bias[i] once when bias is given.
template <class T>
struct Out {
  T* C;
  int64_t ldc;
  const int64_t* col = nullptr;
  const T* bias = nullptr;
  int64_t offset(int64_t j) const { return col ? col[j] : j; }
  // The tile of nr columns from j is stored contiguously (columns are increasing, so a span of
  // nr - 1 means no gap).
  bool contiguous(int64_t j, int64_t nr) const { return !col || col[j + nr - 1] - col[j] == nr - 1; }
};

// ---- blocked product over one packed B panel ------------------------------------------------------
// Rows [m0, m1) and panel columns [n0, n1) (n0 a multiple of NR) of the C block at column jc, for the
// K block [pc, pc+kc) whose packed B panel is bp. `packed_a`, when given, already holds rows
// [m0, m1) (at most MC of them) packed for this K block. `last` adds the bias (last K block).
template <class T, class APack>
void compute_block(const APack& ap_src, int64_t pc, int64_t kc, int64_t m0, int64_t m1, int64_t n0, int64_t n1,
                   const T* bp, int64_t jc, T alpha, T beta, const Out<T>& out, bool last,
                   const T* packed_a = nullptr) {
  using Ar = Arch<T>;
  constexpr int MR = Ar::MR, NR = Ar::NV * Ar::W;
  constexpr int64_t MC = Ar::MC;
  const T* ap = packed_a;
  const T* bias = last ? out.bias : nullptr;
  alignas(64) T tmp[MR * NR];
  for (int64_t ic = m0; ic < m1; ic += MC) {
    const int64_t mc = std::min(MC, m1 - ic);
    if (!packed_a) {
      T* buf = a_scratch<T>(size_t(MC) * size_t(kc));
      ap_src.pack(ic, mc, pc, kc, buf);
      ap = buf;
    }
    for (int64_t jr = n0; jr < n1; jr += NR) {
      const int64_t nr = std::min<int64_t>(NR, n1 - jr);
      const T* b = bp + jr * kc;
      const bool direct = nr == NR && out.contiguous(jc + jr, NR);
      TilePieces<T> pieces;
      if constexpr (TilePieces<T>::kEnabled)
        if (!direct || mc % MR != 0) pieces.build(nr, [&](int64_t j) { return out.offset(jc + jr + j); });
      for (int64_t ir = 0; ir < mc; ir += MR) {
        const int64_t mr = std::min<int64_t>(MR, mc - ir);
        const int64_t row = ic + ir;
        if (mr == MR && direct) {
          micro_kernel<T>(kc, ap + ir * kc, b, out.C + row * out.ldc + out.offset(jc + jr), out.ldc, alpha, beta,
                          bias ? bias + row : nullptr);
        } else if constexpr (TilePieces<T>::kEnabled) {
          // An edge tile, or columns in several runs: stored from the registers piece by piece.
          micro_kernel<T>(kc, ap + ir * kc, b, out.C + row * out.ldc, out.ldc, alpha, beta, bias ? bias + row : nullptr,
                          &pieces, int(mr));
        } else {
          micro_kernel<T>(kc, ap + ir * kc, b, tmp, NR, T(1), T(0));
          for (int64_t j = 0; j < nr; ++j) {
            T* c = out.C + row * out.ldc + out.offset(jc + jr + j);
            for (int64_t i = 0; i < mr; ++i) {
              T v = alpha * tmp[i * NR + j];
              if (beta != T(0)) v += beta * c[i * out.ldc];
              if (bias) v += bias[row + i];
              c[i * out.ldc] = v;
            }
          }
        }
      }
    }
  }
}

// ---- small products: no packing -------------------------------------------------------------------

// Dot product with 16 partial sums, so the compiler can keep them in one or a few vector registers
// (a single running sum would serialise on the add latency and not vectorise).
template <class T>
T dot_contiguous(const T* KILN_RESTRICT a, const T* KILN_RESTRICT b, int64_t n) {
  T acc[16] = {};
  int64_t k = 0;
  for (; k + 16 <= n; k += 16)
#pragma GCC unroll 16
    for (int u = 0; u < 16; ++u) acc[u] += a[k + u] * b[k + u];
  T s = T(0);
  for (int u = 0; u < 16; ++u) s += acc[u];
  for (; k < n; ++k) s += a[k] * b[k];
  return s;
}

template <class T, class Rows>
void gemm_small(bool ta, bool tb, int64_t M, int64_t N, int64_t K, T alpha, const T* A, int64_t lda, const Rows& B,
                T beta, T* C, int64_t ldc) {
  for (int64_t i = 0; i < M; ++i) {
    T* c = C + i * ldc;
    if (!tb) {
      // Row of C as a sum of rows of B: a contiguous, vectorisable inner loop.
      if (beta == T(0))
        for (int64_t j = 0; j < N; ++j) c[j] = T(0);
      else if (beta != T(1))
        for (int64_t j = 0; j < N; ++j) c[j] *= beta;
      for (int64_t k = 0; k < K; ++k) {
        const T a = alpha * (ta ? A[k * lda + i] : A[i * lda + k]);
        const T* b = B(k);
        for (int64_t j = 0; j < N; ++j) c[j] += a * b[j];
      }
    } else {
      for (int64_t j = 0; j < N; ++j) {
        const T* b = B(j);
        T s = T(0);
        if (!ta) {
          s = dot_contiguous(A + i * lda, b, K);
        } else {
          for (int64_t k = 0; k < K; ++k) s += A[k * lda + i] * b[k];
        }
        c[j] = beta == T(0) ? alpha * s : alpha * s + beta * c[j];
      }
    }
  }
}

// The product restricted to rows [m0, m1) and columns [n0, n1) of C, on the calling thread.
template <class T, class APack, class BPack>
void gemm_serial(const APack& a, const BPack& b, int64_t K, T alpha, T beta, const Out<T>& out, int64_t m0,
                 int64_t m1, int64_t n0, int64_t n1) {
  using Ar = Arch<T>;
  constexpr int NR = Ar::NV * Ar::W;
  const int64_t nk = (K + Ar::KC - 1) / Ar::KC;
  const int64_t kc_max = (K + nk - 1) / nk;  // balanced K blocks
  const int64_t nc_max = std::min<int64_t>(Ar::NC, (n1 - n0 + NR - 1) / NR * NR);
  T* bp = b_scratch<T>(size_t(kc_max) * size_t(nc_max));
  if ((m1 - m0) * K * int64_t(sizeof(T)) <= kPackedAllA) {
    // A of moderate size (a convolution's weight, a thread's rows of a mid-size product): pack all
    // of it once instead of once per panel of N, then go through C one panel of NC columns at a
    // time, all K blocks of a panel in a row, so the panel of C stays in cache while it is
    // accumulated. Packed layout: K block after K block, each holding the slivers of all rows.
    const int64_t mp = (m1 - m0 + Ar::MR - 1) / Ar::MR * Ar::MR;
    T* ap = a_scratch<T>(size_t(mp) * size_t(K));
    for (int64_t pc = 0; pc < K; pc += kc_max) a.pack(m0, m1 - m0, pc, std::min(kc_max, K - pc), ap + mp * pc);
    for (int64_t jc = n0; jc < n1; jc += Ar::NC) {
      const int64_t nc = std::min<int64_t>(Ar::NC, n1 - jc);
      for (int64_t pc = 0; pc < K; pc += kc_max) {
        const int64_t kc = std::min(kc_max, K - pc);
        b.pack(pc, kc, jc, nc, bp);
        for (int64_t ic = m0; ic < m1; ic += Ar::MC)
          compute_block(a, pc, kc, ic, std::min<int64_t>(m1, ic + Ar::MC), 0, nc, bp, jc, alpha,
                        pc == 0 ? beta : T(1), out, pc + kc == K, ap + mp * pc + (ic - m0) * kc);
      }
    }
    return;
  }
  if (m1 - m0 <= Ar::MC) {
    // Few rows but a long depth (a weight gradient): pack A once per K block and sweep all of N
    // with it, instead of re-packing it for every N panel.
    T* ap = a_scratch<T>(size_t(Ar::MC) * size_t(kc_max));
    for (int64_t pc = 0; pc < K; pc += kc_max) {
      const int64_t kc = std::min(kc_max, K - pc);
      a.pack(m0, m1 - m0, pc, kc, ap);
      for (int64_t jc = n0; jc < n1; jc += Ar::NC) {
        const int64_t nc = std::min<int64_t>(Ar::NC, n1 - jc);
        b.pack(pc, kc, jc, nc, bp);
        compute_block(a, pc, kc, m0, m1, 0, nc, bp, jc, alpha, pc == 0 ? beta : T(1), out, pc + kc == K, ap);
      }
    }
    return;
  }
  for (int64_t jc = n0; jc < n1; jc += Ar::NC) {
    const int64_t nc = std::min<int64_t>(Ar::NC, n1 - jc);
    for (int64_t pc = 0; pc < K; pc += kc_max) {
      const int64_t kc = std::min(kc_max, K - pc);
      b.pack(pc, kc, jc, nc, bp);
      compute_block(a, pc, kc, m0, m1, 0, nc, bp, jc, alpha, pc == 0 ? beta : T(1), out, pc + kc == K);
    }
  }
}

// C = alpha * op(A) op(B) + beta * C (+ bias) with packed operands, threaded over stripes of C.
// prefer_n: split along N whenever it has a few slivers per thread (table operands: packing the
// im2col side is the costly part, and an N split packs each of its slivers once).
template <class T, class APack, class BPack>
void gemm_packed(const APack& a, const BPack& b, int64_t M, int64_t N, int64_t K, T alpha, T beta,
                 const Out<T>& out, bool prefer_n = false) {
  using Ar = Arch<T>;
  constexpr int MR = Ar::MR, NR = Ar::NV * Ar::W;
  const int64_t nt = cpu::in_parallel_region() ? 1 : cpu::num_threads();
  if (nt <= 1 || M * N * K < (prefer_n ? kThreadedTables : kThreadedGemm)) {
    gemm_serial<T>(a, b, K, alpha, beta, out, 0, M, 0, N);
    return;
  }
  // One parallel region per product: each thread owns a sliver-aligned stripe of C and packs what
  // it needs itself (the other operand's packing is repeated per thread, a small cost next to
  // the synchronisation a shared packed panel would need on every K block).
  const int64_t m_slivers = (M + MR - 1) / MR, n_slivers = (N + NR - 1) / NR;
  if (n_slivers >= m_slivers || (prefer_n && n_slivers >= 4 * nt)) {
    cpu::parallel_for(0, n_slivers, (n_slivers + nt - 1) / nt, [&](int64_t s0, int64_t s1) {
      gemm_serial<T>(a, b, K, alpha, beta, out, 0, M, s0 * NR, std::min(N, s1 * NR));
    });
  } else {
    cpu::parallel_for(0, m_slivers, (m_slivers + nt - 1) / nt, [&](int64_t s0, int64_t s1) {
      gemm_serial<T>(a, b, K, alpha, beta, out, s0 * MR, std::min(M, s1 * MR), 0, N);
    });
  }
}

template <class T, class Rows>
void gemm_impl(bool ta, bool tb, int64_t M, int64_t N, int64_t K, T alpha, const T* A, int64_t lda, const Rows& B,
               T beta, T* C, int64_t ldc) {
  if (M <= 0 || N <= 0) return;
  if (K <= 0 || alpha == T(0)) {
    for (int64_t i = 0; i < M; ++i) {
      T* c = C + i * ldc;
      if (beta == T(0))
        for (int64_t j = 0; j < N; ++j) c[j] = T(0);
      else if (beta != T(1))
        for (int64_t j = 0; j < N; ++j) c[j] *= beta;
    }
    return;
  }
  // Tiny products, and vector-like ones that would waste most of a register tile on padding.
  if (M * N * K <= kSmallGemm || M <= 2 || N <= 2) {
    gemm_small(ta, tb, M, N, K, alpha, A, lda, B, beta, C, ldc);
    return;
  }
  gemm_packed<T>(PlainA<T>{ta, A, lda}, PlainB<T, Rows>{tb, B}, M, N, K, alpha, beta, Out<T>{C, ldc});
}

template <class T>
void gemm_tables_impl(int64_t M, int64_t N, int64_t K, cpu::TableMatrix<T> A, cpu::TableMatrix<T> B, T* C,
                      int64_t ldc, const int64_t* c_col, const T* bias, bool accumulate) {
  if (M <= 0 || N <= 0) return;
  const Out<T> out{C, ldc, c_col, bias};
  if (K <= 0) {
    for (int64_t i = 0; i < M; ++i)
      for (int64_t j = 0; j < N; ++j) {
        T& c = C[i * ldc + out.offset(j)];
        c = (accumulate ? c : T(0)) + (bias ? bias[i] : T(0));
      }
    return;
  }
  gemm_packed<T>(TableA<T>{A}, TableB<T>{B}, M, N, K, T(1), accumulate ? T(1) : T(0), out, true);
}

}  // namespace

void gemm_f32(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
              int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  gemm_impl<float>(trans_a, trans_b, M, N, K, alpha, A, lda, StridedRows<float>{B, ldb}, beta, C, ldc);
}
void gemm_f64(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, double alpha, const double* A,
              int64_t lda, const double* B, int64_t ldb, double beta, double* C, int64_t ldc) {
  gemm_impl<double>(trans_a, trans_b, M, N, K, alpha, A, lda, StridedRows<double>{B, ldb}, beta, C, ldc);
}
void gemm_rows_f32(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
                   int64_t lda, const float* const* b_rows, float beta, float* C, int64_t ldc) {
  gemm_impl<float>(trans_a, trans_b, M, N, K, alpha, A, lda, PointerRows<float>{b_rows}, beta, C, ldc);
}
void gemm_rows_f64(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, double alpha, const double* A,
                   int64_t lda, const double* const* b_rows, double beta, double* C, int64_t ldc) {
  gemm_impl<double>(trans_a, trans_b, M, N, K, alpha, A, lda, PointerRows<double>{b_rows}, beta, C, ldc);
}
void gemm_tables_f32(int64_t M, int64_t N, int64_t K, cpu::TableMatrix<float> A, cpu::TableMatrix<float> B,
                     float* C, int64_t ldc, const int64_t* c_col, const float* bias, bool accumulate) {
  gemm_tables_impl<float>(M, N, K, A, B, C, ldc, c_col, bias, accumulate);
}
void gemm_tables_f64(int64_t M, int64_t N, int64_t K, cpu::TableMatrix<double> A, cpu::TableMatrix<double> B,
                     double* C, int64_t ldc, const int64_t* c_col, const double* bias, bool accumulate) {
  gemm_tables_impl<double>(M, N, K, A, B, C, ldc, c_col, bias, accumulate);
}

}  // namespace KILN_ISA_NAMESPACE
