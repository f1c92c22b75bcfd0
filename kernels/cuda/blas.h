#pragma once
// Matrix products on CUDA, callable from plain C++ (no CUDA headers). Floating dtypes go to cuBLAS
// (Note [Row-major products on cuBLAS] in blas.cu); integer dtypes to kiln's own kernel. Pointers
// are device memory on the current device (cuda::prepare made it current); all work is queued on
// `stream`, nothing synchronises.
//
// Conventions as kernels/cpu/gemm.h, row-major:
//   C[M,N] = alpha * op(A)[M,K] * op(B)[K,N] + beta * C[M,N]
// op(A) is A ([M,K], row stride lda) or, with trans_a, the transpose of A ([K,M], row stride lda);
// likewise B ([K,N] or [N,K] with trans_b). ldc is C's row stride (>= N). Strides are in elements
// and at least the stored row width (1 for an empty width). With beta == 0, C is not read. K == 0
// gives C = beta * C (zeros when beta == 0). M, N or batch == 0: nothing is launched.
//
// Dtypes and precision:
//   f32:      FP32 compute; TF32 tensor cores only when allow_tf32() (Note [TF32] in
//             kernels/determinism.h).
//   f16/bf16: stored 16-bit, multiplied on tensor cores, accumulated in f32 (no reduced-precision
//             reductions), alpha and beta in f32.
//   f64:      FP64.
// cuBLAS results are bit-identical from run to run on the same GPU model: each handle has a fixed
// workspace per stream (Note [cuBLAS workspace] in blas.cu), so cuBLAS never picks a different
// split because of memory.
#include <cstdint>

#include "kiln/kernels/cuda/stream.h"
#include "kiln/kernels/dtype.h"

struct cublasContext;  // cublasHandle_t is cublasContext*

namespace kiln::cuda {

// `batch` products: matrix i of each operand starts at A + i * stride_a, B + i * stride_b,
// C + i * stride_c (elements). stride_a or stride_b may be 0 (the same matrix for the whole batch);
// the C matrices must not overlap. Floating dtypes only.
void gemm_batched(DType dtype, bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, double alpha,
                  const void* A, int64_t lda, int64_t stride_a, const void* B, int64_t ldb, int64_t stride_b,
                  double beta, void* C, int64_t ldc, int64_t stride_c, int64_t batch, Stream stream);

inline void gemm(DType dtype, bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, double alpha,
                 const void* A, int64_t lda, const void* B, int64_t ldb, double beta, void* C, int64_t ldc,
                 Stream stream) {
  gemm_batched(dtype, trans_a, trans_b, M, N, K, alpha, A, lda, 0, B, ldb, 0, beta, C, ldc, 0, 1, stream);
}

// Integer products (i64, i32, u8) with any strides: A(i, k) = A[i*sam + k*sak], B(k, j) =
// B[k*sbk + j*sbn], C(i, j) = C[i*ldc + j], matrix b of the batch offset by b * stride_*.
// Accumulates in int64 and stores alpha * sum + beta * C converted to the dtype (wrapping), as the
// CPU's gemm_strided. One thread per output element: integer matmul is rare and this is the
// reference-shaped kernel, not a fast one. Deterministic.
void gemm_int_batched(DType dtype, int64_t M, int64_t N, int64_t K, int64_t alpha, const void* A, int64_t sam,
                      int64_t sak, int64_t stride_a, const void* B, int64_t sbk, int64_t sbn, int64_t stride_b,
                      int64_t beta, void* C, int64_t ldc, int64_t stride_c, int64_t batch, Stream stream);

// ---- for benchmarks: calling cuBLAS directly under the same conditions -------------------------
// The calling thread's cuBLAS handle for the current device, bound to `stream`, with kiln's
// workspace for that stream and the math mode kiln uses for `dtype` (TF32 per allow_tf32()).
// A direct cublasGemmEx on it is exactly what gemm_batched runs, minus kiln's checks.
cublasContext* cublas_handle(DType dtype, Stream stream);
// Bytes of the fixed cuBLAS workspace kiln gives each (handle, stream) on the current device.
int64_t cublas_workspace_bytes();

}  // namespace kiln::cuda
