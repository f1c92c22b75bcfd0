// Matrix products on CUDA: cuBLAS for floating dtypes, a plain kernel for integers.
//
// Note [Row-major products on cuBLAS]
// cuBLAS is column-major; kiln is row-major. A row-major [R, C] matrix with row stride ld is, read
// column-major, its transpose [C, R] with leading dimension ld. So the row-major product
// C = op(A) op(B) is computed as the column-major product C^T = op(B)^T op(A)^T: B goes first,
// A second, the sizes become (m, n, k) = (N, M, K), and the transpose flags carry over unchanged
// (B without trans_b is, column-major, the [N, K] matrix op(B)^T itself: CUBLAS_OP_N). The
// leading-dimension rules of cuBLAS then match the row-stride rules of blas.h: ldb >= N (or K with
// trans_b), lda >= K (or M with trans_a), ldc >= N.
#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <map>
#include <type_traits>

#include "kiln/kernels/cuda/allocator.h"
#include "kiln/kernels/cuda/blas.h"
#include "kiln/kernels/cuda/check.h"
#include "kiln/kernels/cuda/handle_pool.h"
#include "kiln/kernels/determinism.h"
#include "kiln/kernels/layer_dtype.h"

namespace kiln::cuda {
namespace {

#define KILN_CUBLAS_CHECK(call)                                                                          \
  do {                                                                                                   \
    cublasStatus_t kiln_st_ = (call);                                                                    \
    KILN_CHECK(kiln_st_ == CUBLAS_STATUS_SUCCESS, "cuBLAS error ", cublasGetStatusName(kiln_st_), " (", \
               cublasGetStatusString(kiln_st_), ") from ", #call);                                       \
  } while (0)

// ---- handles and workspaces ------------------------------------------------------------------------

// Note [cuBLAS workspace]
// Without a workspace set by the caller, cuBLAS takes memory from its own pool with cudaMalloc
// (behind the caching allocator's back), and a handle shared by two streams shares that memory
// between kernels that may run at the same time. So each handle keeps one fixed buffer per stream
// it has been used on, taken once from the caching allocator and never freed: work on one stream
// is ordered, work on two streams uses two buffers. cublasSetStream resets the workspace, so both
// are set again at every call (each is a cheap host-side assignment). The size is what NVIDIA
// recommends: 32 MiB on Hopper and later, 4 MiB before.
struct BlasState {
  cublasHandle_t handle = nullptr;
  int device = 0;
  int64_t workspace_bytes = 0;
  std::map<Stream, void*> workspace;
};

int64_t workspace_bytes_for(int device) {
  int major = 0;
  KILN_CUDA_CHECK(cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, device));
  return major >= 9 ? (int64_t(32) << 20) : (int64_t(4) << 20);
}

BlasState* create_state(int device) {
  auto* st = new BlasState;
  st->device = device;
  st->workspace_bytes = workspace_bytes_for(device);
  KILN_CUBLAS_CHECK(cublasCreate(&st->handle));
  KILN_CUBLAS_CHECK(cublasSetPointerMode(st->handle, CUBLAS_POINTER_MODE_HOST));
  return st;
}

HandlePool<BlasState*>& pool() {
  static auto* p = new HandlePool<BlasState*>(&create_state);  // never destroyed: Note [Vendor handles]
  return *p;
}

// The thread's handle for the current device, bound to `stream` with its workspace and the math
// mode for `dtype`.
cublasHandle_t bound_handle(DType dtype, Stream stream) {
  int device = 0;
  KILN_CUDA_CHECK(cudaGetDevice(&device));
  thread_local ThreadHandles<BlasState*> mine(&pool());
  BlasState* st = mine.get(device);
  KILN_CUBLAS_CHECK(cublasSetStream(st->handle, stream));
  const int64_t ws_bytes = st->workspace_bytes;
  void*& ws = st->workspace[stream];
  if (!ws) ws = device_allocate(size_t(ws_bytes), device, stream);
  KILN_CUBLAS_CHECK(cublasSetWorkspace(st->handle, ws, size_t(ws_bytes)));
  // f32: TF32 tensor cores only when allowed. All dtypes: no reduced-precision split-K reductions
  // (f16/bf16 products accumulate in f32 to the end, as blas.h promises).
  const int tf32 = dtype == DType::f32 && allow_tf32() ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_DEFAULT_MATH;
  const int mode = tf32 | CUBLAS_MATH_DISALLOW_REDUCED_PRECISION_REDUCTION;
  KILN_CUBLAS_CHECK(cublasSetMathMode(st->handle, cublasMath_t(mode)));
  return st->handle;
}

// ---- K == 0: C = beta * C ----------------------------------------------------------------------------

constexpr int kThreads = 256;

unsigned blocks_for(int64_t n) { return unsigned(std::min<int64_t>((n + kThreads - 1) / kThreads, int64_t(1) << 20)); }

template <class T>
__global__ void __launch_bounds__(kThreads)
    scale_kernel(T* __restrict__ C, int64_t M, int64_t N, int64_t ldc, int64_t stride_c, int64_t total, float beta_f,
                 double beta_d) {
  using Cm = compute_t<T>;
  const int64_t step = int64_t(gridDim.x) * blockDim.x;
  for (int64_t t = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; t < total; t += step) {
    const int64_t j = t % N, r = t / N, i = r % M, b = r / M;
    T& c = C[b * stride_c + i * ldc + j];
    if constexpr (std::is_same_v<T, double>)
      c = beta_d == 0 ? 0.0 : beta_d * c;
    else
      c = beta_f == 0 ? T(0.0f) : T(beta_f * Cm(c));
  }
}

// ---- integer products ---------------------------------------------------------------------------------

template <class T>
__global__ void __launch_bounds__(kThreads)
    gemm_int_kernel(int64_t M, int64_t N, int64_t K, int64_t alpha, const T* __restrict__ A, int64_t sam, int64_t sak,
                    int64_t stride_a, const T* __restrict__ B, int64_t sbk, int64_t sbn, int64_t stride_b, int64_t beta,
                    T* __restrict__ C, int64_t ldc, int64_t stride_c, int64_t total) {
  const int64_t step = int64_t(gridDim.x) * blockDim.x;
  // Consecutive threads take consecutive j: the C writes and (row-major) B reads coalesce.
  for (int64_t t = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; t < total; t += step) {
    const int64_t j = t % N, r = t / N, i = r % M, b = r / M;
    const T* a = A + b * stride_a + i * sam;
    const T* bb = B + b * stride_b + j * sbn;
    int64_t s = 0;
    for (int64_t k = 0; k < K; ++k) s += int64_t(a[k * sak]) * int64_t(bb[k * sbk]);
    T& c = C[b * stride_c + i * ldc + j];
    // Same expression as cpu::gemm_strided (unsigned wrap-around for u8 via the int64 -> T cast).
    c = beta == 0 ? T(alpha * s) : T(alpha * s + beta * int64_t(c));
  }
}

void check_sizes(const char* op, int64_t M, int64_t N, int64_t K, int64_t batch) {
  KILN_CHECK(M >= 0 && N >= 0 && K >= 0 && batch >= 0, op, ": sizes must be non-negative, got M=", M, " N=", N,
             " K=", K, " batch=", batch);
}

}  // namespace

void gemm_batched(DType dtype, bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, double alpha,
                  const void* A, int64_t lda, int64_t stride_a, const void* B, int64_t ldb, int64_t stride_b,
                  double beta, void* C, int64_t ldc, int64_t stride_c, int64_t batch, Stream stream) {
  const char* op = "cuda::gemm";
  check_sizes(op, M, N, K, batch);
  KILN_CHECK(ldc >= std::max<int64_t>(N, 1), op, ": ldc ", ldc, " is smaller than N = ", N);
  if (M == 0 || N == 0 || batch == 0) return;
  if (K == 0) {
    // cuBLAS is not asked: with k = 0 its leading-dimension checks depend on the empty width.
    const int64_t total = batch * M * N;
    dispatch_layer_dtype(dtype, op, [&](auto tag) {
      using T = decltype(tag);
      scale_kernel<T><<<blocks_for(total), kThreads, 0, stream>>>(static_cast<T*>(C), M, N, ldc, stride_c, total,
                                                                 float(beta), beta);
      KILN_CUDA_CHECK_LAUNCH("gemm scale_kernel");
    });
    return;
  }
  KILN_CHECK(lda >= std::max<int64_t>(trans_a ? M : K, 1), op, ": lda ", lda, " is too small for a ",
             trans_a ? "transposed " : "", "[", M, ", ", K, "] operand");
  KILN_CHECK(ldb >= std::max<int64_t>(trans_b ? K : N, 1), op, ": ldb ", ldb, " is too small for a ",
             trans_b ? "transposed " : "", "[", K, ", ", N, "] operand");

  cudaDataType_t type = CUDA_R_32F;
  cublasComputeType_t compute = CUBLAS_COMPUTE_32F;
  switch (dtype) {
    case DType::f32:
      type = CUDA_R_32F;
      compute = allow_tf32() ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F;
      break;
    case DType::f64: type = CUDA_R_64F, compute = CUBLAS_COMPUTE_64F; break;
    case DType::f16: type = CUDA_R_16F; break;
    case DType::bf16: type = CUDA_R_16BF; break;
    default: KILN_FAIL(op, ": dtype ", dtype_name(dtype), " is not a floating dtype (integers use gemm_int_batched)");
  }
  // alpha and beta have the compute type's precision.
  const float alpha_f = float(alpha), beta_f = float(beta);
  const void* pa = compute == CUBLAS_COMPUTE_64F ? static_cast<const void*>(&alpha) : &alpha_f;
  const void* pb = compute == CUBLAS_COMPUTE_64F ? static_cast<const void*>(&beta) : &beta_f;
  const cublasOperation_t op_a = trans_a ? CUBLAS_OP_T : CUBLAS_OP_N;
  const cublasOperation_t op_b = trans_b ? CUBLAS_OP_T : CUBLAS_OP_N;
  cublasHandle_t h = bound_handle(dtype, stream);
  // Note [Row-major products on cuBLAS]: B first, sizes (N, M, K). The 64-bit interface takes
  // int64 sizes, leading dimensions and strides, so no size needs to fit in an int.
  if (batch == 1) {
    KILN_CUBLAS_CHECK(cublasGemmEx_64(h, op_b, op_a, N, M, K, pa, B, type, ldb, A, type, lda, pb, C, type, ldc,
                                      compute, CUBLAS_GEMM_DEFAULT));
  } else {
    KILN_CUBLAS_CHECK(cublasGemmStridedBatchedEx_64(h, op_b, op_a, N, M, K, pa, B, type, ldb, stride_b, A, type, lda,
                                                    stride_a, pb, C, type, ldc, stride_c, batch, compute,
                                                    CUBLAS_GEMM_DEFAULT));
  }
}

void gemm_int_batched(DType dtype, int64_t M, int64_t N, int64_t K, int64_t alpha, const void* A, int64_t sam,
                      int64_t sak, int64_t stride_a, const void* B, int64_t sbk, int64_t sbn, int64_t stride_b,
                      int64_t beta, void* C, int64_t ldc, int64_t stride_c, int64_t batch, Stream stream) {
  const char* op = "cuda::gemm_int";
  check_sizes(op, M, N, K, batch);
  if (M == 0 || N == 0 || batch == 0) return;
  const int64_t total = batch * M * N;
  auto launch = [&](auto tag) {
    using T = decltype(tag);
    gemm_int_kernel<T><<<blocks_for(total), kThreads, 0, stream>>>(
        M, N, K, alpha, static_cast<const T*>(A), sam, sak, stride_a, static_cast<const T*>(B), sbk, sbn, stride_b,
        beta, static_cast<T*>(C), ldc, stride_c, total);
    KILN_CUDA_CHECK_LAUNCH("gemm_int_kernel");
  };
  switch (dtype) {
    case DType::i64: return launch(int64_t{});
    case DType::i32: return launch(int32_t{});
    case DType::u8: return launch(uint8_t{});
    default: KILN_FAIL(op, ": dtype ", dtype_name(dtype), " is not an integer dtype (i64, i32, u8)");
  }
}

cublasContext* cublas_handle(DType dtype, Stream stream) { return bound_handle(dtype, stream); }

int64_t cublas_workspace_bytes() {
  int device = 0;
  KILN_CUDA_CHECK(cudaGetDevice(&device));
  return workspace_bytes_for(device);
}

}  // namespace kiln::cuda
