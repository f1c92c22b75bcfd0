#pragma once
// General matrix multiply on the CPU, row-major:
//   C[M,N] = alpha * op(A)[M,K] * op(B)[K,N] + beta * C[M,N]
// op(A) is A ([M,K], row stride lda) or, with trans_a, the transpose of A ([K,M], row stride lda);
// likewise for B ([K,N] or [N,K] with trans_b). ldc is C's row stride. Strides are in elements and
// must be at least the stored row width (1 for an empty width). With beta == 0, C is not read (NaN
// garbage in C is ignored). Multithreaded with the kiln thread pool (serial inside a parallel
// region); small products skip packing and threading. Each element of C is accumulated over k in
// the same order whatever the thread count, so results are deterministic.
//
// Compiled once per instruction set (Note [ISA dispatch] in kernels/cpu/isa.h); Note [GEMM
// blocking] in kernels/cpu/vec/gemm.cpp describes the algorithm.
#include <cstdint>

#include "kiln/kernels/cpu/isa.h"

namespace kiln::cpu {
// A matrix given by offset tables: element (r, s) is base[row[r] + col[s]]. Lets a convolution hand
// its input to the GEMM as an implicit im2col matrix over the whole batch, and name its output
// positions across images (Note [Convolution as an implicit GEMM] in kernels/cpu/conv2d.cpp).
template <class T>
struct TableMatrix {
  const T* base;
  const int64_t* row;
  const int64_t* col;
};
}  // namespace kiln::cpu

KILN_DECLARE_ISA_FN(void, gemm_f32, bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha,
                    const float* A, int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc)
KILN_DECLARE_ISA_FN(void, gemm_f64, bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, double alpha,
                    const double* A, int64_t lda, const double* B, int64_t ldb, double beta, double* C,
                    int64_t ldc)
KILN_DECLARE_ISA_FN(void, gemm_rows_f32, bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K,
                    float alpha, const float* A, int64_t lda, const float* const* b_rows, float beta, float* C,
                    int64_t ldc)
KILN_DECLARE_ISA_FN(void, gemm_rows_f64, bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K,
                    double alpha, const double* A, int64_t lda, const double* const* b_rows, double beta, double* C,
                    int64_t ldc)

KILN_DECLARE_ISA_FN(void, gemm_tables_f32, int64_t M, int64_t N, int64_t K, kiln::cpu::TableMatrix<float> A,
                    kiln::cpu::TableMatrix<float> B, float* C, int64_t ldc, const int64_t* c_col, const float* bias,
                    bool accumulate)
KILN_DECLARE_ISA_FN(void, gemm_tables_f64, int64_t M, int64_t N, int64_t K, kiln::cpu::TableMatrix<double> A,
                    kiln::cpu::TableMatrix<double> B, double* C, int64_t ldc, const int64_t* c_col,
                    const double* bias, bool accumulate)

namespace kiln::cpu {

inline void gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
                 int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  KILN_ISA_CALL(gemm_f32, trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}
inline void gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, double alpha, const double* A,
                 int64_t lda, const double* B, int64_t ldb, double beta, double* C, int64_t ldc) {
  KILN_ISA_CALL(gemm_f64, trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

// The same product with B's stored matrix given as a table of row pointers instead of a base and
// a stride: without trans_b, row k of op(B) [K, N] is b_rows[k][0, N); with trans_b,
// op(B)[k, j] = b_rows[j][k] (b_rows has N entries). Lets convolutions pass shifted rows of
// their input without an im2col copy.
inline void gemm_rows(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
                      int64_t lda, const float* const* b_rows, float beta, float* C, int64_t ldc) {
  KILN_ISA_CALL(gemm_rows_f32, trans_a, trans_b, M, N, K, alpha, A, lda, b_rows, beta, C, ldc);
}
inline void gemm_rows(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, double alpha, const double* A,
                      int64_t lda, const double* const* b_rows, double beta, double* C, int64_t ldc) {
  KILN_ISA_CALL(gemm_rows_f64, trans_a, trans_b, M, N, K, alpha, A, lda, b_rows, beta, C, ldc);
}

// C[M, N] (+)= A [M, K] * B [K, N] (+ bias[i] on row i when bias is given), with A and B given by
// offset tables (A(i, k) = A.base[A.row[i] + A.col[k]], B(k, j) = B.base[B.row[k] + B.col[j]])
// and C(i, j) at C[i * ldc + c_col[j]] (c_col may be null: c_col[j] = j; it must be increasing).
// accumulate adds to C instead of overwriting it. Threaded and deterministic like gemm.
inline void gemm_tables(int64_t M, int64_t N, int64_t K, TableMatrix<float> A, TableMatrix<float> B, float* C,
                        int64_t ldc, const int64_t* c_col, const float* bias, bool accumulate) {
  KILN_ISA_CALL(gemm_tables_f32, M, N, K, A, B, C, ldc, c_col, bias, accumulate);
}
inline void gemm_tables(int64_t M, int64_t N, int64_t K, TableMatrix<double> A, TableMatrix<double> B, double* C,
                        int64_t ldc, const int64_t* c_col, const double* bias, bool accumulate) {
  KILN_ISA_CALL(gemm_tables_f64, M, N, K, A, B, C, ldc, c_col, bias, accumulate);
}

}  // namespace kiln::cpu

namespace kiln::cpu {

// Plain-loop product for any element type (integer dtypes, references):
//   C[i, j] = alpha * sum_k A[i*sam + k*sak] * B[k*sbk + j*sbn] + beta * C[i*ldc + j]
// with arbitrary strides (0 allowed for broadcast inputs), accumulating in Acc. C is not read when
// beta == 0.
template <class T, class Acc>
void gemm_strided(int64_t M, int64_t N, int64_t K, Acc alpha, const T* A, int64_t sam, int64_t sak, const T* B,
                  int64_t sbk, int64_t sbn, Acc beta, T* C, int64_t ldc) {
  for (int64_t i = 0; i < M; ++i) {
    for (int64_t j = 0; j < N; ++j) {
      Acc s = Acc(0);
      for (int64_t k = 0; k < K; ++k) s += Acc(A[i * sam + k * sak]) * Acc(B[k * sbk + j * sbn]);
      T& c = C[i * ldc + j];
      c = beta == Acc(0) ? T(alpha * s) : T(alpha * s + beta * Acc(c));
    }
  }
}

}  // namespace kiln::cpu
