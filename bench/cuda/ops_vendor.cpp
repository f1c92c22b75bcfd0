// Direct cuBLAS / cuDNN calls for bench_ops_cuda (ops_vendor.h). They are written here, not taken
// from kiln's kernels/cuda, on purpose: the vendor side of the comparison must not share kiln's
// choices (handles, workspaces, algorithm selection), or a slow choice would hide on both sides.
#include "ops_vendor.h"

#include <cublas_v2.h>
#include <cuda_runtime.h>
#if KILN_BENCH_HAVE_CUDNN
#include <cudnn.h>
#endif

#include <cstdio>
#include <limits>
#include <vector>

#include "kiln/kernels/cuda/check.h"
#include "kiln/kernels/error.h"

namespace kiln::bench::gpu {

namespace {

void check_cublas(cublasStatus_t st, const char* call) {
  KILN_CHECK(st == CUBLAS_STATUS_SUCCESS, "cuBLAS: ", call, " failed: ", cublasGetStatusString(st));
}

cudaDataType_t cuda_type(DType dt) {
  switch (dt) {
    case DType::f32: return CUDA_R_32F;
    case DType::f16: return CUDA_R_16F;
    case DType::bf16: return CUDA_R_16BF;
    default: break;
  }
  KILN_FAIL("DirectGemm: dtype ", dtype_name(dt), " is not f32, f16 or bf16");
}

int to_int(int64_t v, const char* what) {
  KILN_CHECK(v >= 0 && v <= std::numeric_limits<int>::max(), "DirectGemm: ", what, " = ", v, " does not fit an int");
  return int(v);
}

}  // namespace

DirectGemm::DirectGemm() {
  cublasHandle_t h = nullptr;
  check_cublas(cublasCreate(&h), "cublasCreate");
  handle_ = h;
  check_cublas(cublasSetStream(h, nullptr), "cublasSetStream");
  // The default math mode: FP32 GEMMs stay FP32 (no TF32) with CUBLAS_COMPUTE_32F.
  check_cublas(cublasSetMathMode(h, CUBLAS_DEFAULT_MATH), "cublasSetMathMode");
}

DirectGemm::~DirectGemm() {
  if (handle_) cublasDestroy(static_cast<cublasHandle_t>(handle_));
}

void DirectGemm::run(DType dt, int64_t batch, int64_t m, int64_t n, int64_t k, const void* a, const void* b, void* c) {
  auto h = static_cast<cublasHandle_t>(handle_);
  const cudaDataType_t t = cuda_type(dt);
  const float alpha = 1.0f, beta = 0.0f;
  const int M = to_int(m, "M"), N = to_int(n, "N"), K = to_int(k, "K");
  // Row-major C = A B is column-major C^T = B^T A^T: cuBLAS sees B as an N x K matrix (ld N), A as
  // K x M (ld K) and writes C as N x M (ld N), with no transposes.
  if (batch == 1) {
    check_cublas(cublasGemmEx(h, CUBLAS_OP_N, CUBLAS_OP_N, N, M, K, &alpha, b, t, N, a, t, K, &beta, c, t, N,
                              CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT),
                 "cublasGemmEx");
  } else {
    check_cublas(cublasGemmStridedBatchedEx(h, CUBLAS_OP_N, CUBLAS_OP_N, N, M, K, &alpha, b, t, N, k * n, a, t, K,
                                            m * k, &beta, c, t, N, m * n, to_int(batch, "batch"),
                                            CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT),
                 "cublasGemmStridedBatchedEx");
  }
}

#if KILN_BENCH_HAVE_CUDNN

bool have_cudnn() { return true; }

namespace {

void check_cudnn(cudnnStatus_t st, const char* call) {
  KILN_CHECK(st == CUDNN_STATUS_SUCCESS, "cuDNN: ", call, " failed: ", cudnnGetErrorString(st));
}

cudnnDataType_t cudnn_type(DType dt) {
  switch (dt) {
    case DType::f32: return CUDNN_DATA_FLOAT;
    case DType::f16: return CUDNN_DATA_HALF;
    case DType::bf16: return CUDNN_DATA_BFLOAT16;
    default: break;
  }
  KILN_FAIL("DirectConv: dtype ", dtype_name(dt), " is not f32, f16 or bf16");
}

// One cuDNN handle for the process, on the legacy default stream.
cudnnHandle_t cudnn_handle() {
  struct Holder {
    cudnnHandle_t h = nullptr;
    Holder() {
      check_cudnn(cudnnCreate(&h), "cudnnCreate");
      check_cudnn(cudnnSetStream(h, nullptr), "cudnnSetStream");
    }
    ~Holder() { cudnnDestroy(h); }
  };
  static Holder holder;
  return holder.h;
}

// Device memory for the duration of a scope (the find workspace).
struct DeviceMemory {
  void* p = nullptr;
  explicit DeviceMemory(size_t bytes) {
    if (bytes) KILN_CUDA_CHECK(cudaMalloc(&p, bytes));
  }
  ~DeviceMemory() {
    if (p) cudaFree(p);
  }
  DeviceMemory(const DeviceMemory&) = delete;
  DeviceMemory& operator=(const DeviceMemory&) = delete;
};

// The fastest successful result of a find call (results come sorted by time). For f32 a result
// that uses tensor cores (TF32) is skipped: the comparison is FP32 on both sides.
template <class Perf>
const Perf& fastest(const std::vector<Perf>& perf, int returned, bool f32, const char* call) {
  for (int i = 0; i < returned; ++i) {
    const Perf& p = perf[size_t(i)];
    if (p.status != CUDNN_STATUS_SUCCESS) continue;
    if (f32 && p.mathType != CUDNN_DEFAULT_MATH && p.mathType != CUDNN_FMA_MATH) continue;
    return p;
  }
  KILN_FAIL("cuDNN: ", call, " found no usable algorithm (", returned, " results)");
}

}  // namespace

struct DirectConv::Impl {
  ConvDirection dir;
  cudnnTensorDescriptor_t x = nullptr, y = nullptr;
  cudnnFilterDescriptor_t w = nullptr;
  cudnnConvolutionDescriptor_t conv = nullptr;
  int algo = -1;
  size_t workspace_bytes = 0;
  void* workspace = nullptr;

  ~Impl() {
    if (workspace) cudaFree(workspace);
    if (conv) cudnnDestroyConvolutionDescriptor(conv);
    if (w) cudnnDestroyFilterDescriptor(w);
    if (y) cudnnDestroyTensorDescriptor(y);
    if (x) cudnnDestroyTensorDescriptor(x);
  }
};

DirectConv::DirectConv(const ConvShape& s, DType dt, ConvDirection dir, void* x, void* w, void* y,
                       size_t max_workspace)
    : impl_(std::make_unique<Impl>()) {
  Impl& m = *impl_;
  m.dir = dir;
  const cudnnHandle_t h = cudnn_handle();
  const cudnnDataType_t t = cudnn_type(dt);
  check_cudnn(cudnnCreateTensorDescriptor(&m.x), "cudnnCreateTensorDescriptor");
  check_cudnn(cudnnCreateTensorDescriptor(&m.y), "cudnnCreateTensorDescriptor");
  check_cudnn(cudnnCreateFilterDescriptor(&m.w), "cudnnCreateFilterDescriptor");
  check_cudnn(cudnnCreateConvolutionDescriptor(&m.conv), "cudnnCreateConvolutionDescriptor");
  check_cudnn(cudnnSetTensor4dDescriptor(m.x, CUDNN_TENSOR_NCHW, t, int(s.n), int(s.c), int(s.h), int(s.w)),
              "cudnnSetTensor4dDescriptor(x)");
  check_cudnn(cudnnSetTensor4dDescriptor(m.y, CUDNN_TENSOR_NCHW, t, int(s.n), int(s.o), int(s.oh()), int(s.ow())),
              "cudnnSetTensor4dDescriptor(y)");
  check_cudnn(cudnnSetFilter4dDescriptor(m.w, t, CUDNN_TENSOR_NCHW, int(s.o), int(s.c), int(s.kh), int(s.kw)),
              "cudnnSetFilter4dDescriptor");
  check_cudnn(cudnnSetConvolution2dDescriptor(m.conv, int(s.pad), int(s.pad), int(s.stride), int(s.stride), 1, 1,
                                              CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT),
              "cudnnSetConvolution2dDescriptor");
  const bool f32 = dt == DType::f32;
  check_cudnn(cudnnSetConvolutionMathType(m.conv, f32 ? CUDNN_FMA_MATH : CUDNN_TENSOR_OP_MATH),
              "cudnnSetConvolutionMathType");

  DeviceMemory find_ws(max_workspace);
  int count = 0, returned = 0;
  cudnnMathType_t math = CUDNN_DEFAULT_MATH;
  switch (dir) {
    case ConvDirection::forward: {
      check_cudnn(cudnnGetConvolutionForwardAlgorithmMaxCount(h, &count), "cudnnGetConvolutionForwardAlgorithmMaxCount");
      std::vector<cudnnConvolutionFwdAlgoPerf_t> perf(size_t(std::max(count, 1)));
      check_cudnn(cudnnFindConvolutionForwardAlgorithmEx(h, m.x, x, m.w, w, m.conv, m.y, y, int(perf.size()), &returned,
                                                         perf.data(), find_ws.p, max_workspace),
                  "cudnnFindConvolutionForwardAlgorithmEx");
      const auto& p = fastest(perf, returned, f32, "cudnnFindConvolutionForwardAlgorithmEx");
      m.algo = int(p.algo);
      m.workspace_bytes = p.memory;
      math = p.mathType;
      break;
    }
    case ConvDirection::backward_data: {
      check_cudnn(cudnnGetConvolutionBackwardDataAlgorithmMaxCount(h, &count),
                  "cudnnGetConvolutionBackwardDataAlgorithmMaxCount");
      std::vector<cudnnConvolutionBwdDataAlgoPerf_t> perf(size_t(std::max(count, 1)));
      check_cudnn(cudnnFindConvolutionBackwardDataAlgorithmEx(h, m.w, w, m.y, y, m.conv, m.x, x, int(perf.size()),
                                                              &returned, perf.data(), find_ws.p, max_workspace),
                  "cudnnFindConvolutionBackwardDataAlgorithmEx");
      const auto& p = fastest(perf, returned, f32, "cudnnFindConvolutionBackwardDataAlgorithmEx");
      m.algo = int(p.algo);
      m.workspace_bytes = p.memory;
      math = p.mathType;
      break;
    }
    case ConvDirection::backward_weight: {
      check_cudnn(cudnnGetConvolutionBackwardFilterAlgorithmMaxCount(h, &count),
                  "cudnnGetConvolutionBackwardFilterAlgorithmMaxCount");
      std::vector<cudnnConvolutionBwdFilterAlgoPerf_t> perf(size_t(std::max(count, 1)));
      check_cudnn(cudnnFindConvolutionBackwardFilterAlgorithmEx(h, m.x, x, m.y, y, m.conv, m.w, w, int(perf.size()),
                                                                &returned, perf.data(), find_ws.p, max_workspace),
                  "cudnnFindConvolutionBackwardFilterAlgorithmEx");
      const auto& p = fastest(perf, returned, f32, "cudnnFindConvolutionBackwardFilterAlgorithmEx");
      m.algo = int(p.algo);
      m.workspace_bytes = p.memory;
      math = p.mathType;
      break;
    }
  }
  // Run with the math type the measurement used (for f32 that is FMA or default, never TF32).
  if (!f32) check_cudnn(cudnnSetConvolutionMathType(m.conv, math), "cudnnSetConvolutionMathType");
  if (m.workspace_bytes) KILN_CUDA_CHECK(cudaMalloc(&m.workspace, m.workspace_bytes));
  KILN_CUDA_CHECK(cudaDeviceSynchronize());
}

DirectConv::~DirectConv() = default;

void DirectConv::run(void* x, void* w, void* y) {
  Impl& m = *impl_;
  const cudnnHandle_t h = cudnn_handle();
  const float alpha = 1.0f, beta = 0.0f;  // float scaling for f32, f16 and bf16 data alike
  switch (m.dir) {
    case ConvDirection::forward:
      check_cudnn(cudnnConvolutionForward(h, &alpha, m.x, x, m.w, w, m.conv, cudnnConvolutionFwdAlgo_t(m.algo),
                                          m.workspace, m.workspace_bytes, &beta, m.y, y),
                  "cudnnConvolutionForward");
      break;
    case ConvDirection::backward_data:
      check_cudnn(cudnnConvolutionBackwardData(h, &alpha, m.w, w, m.y, y, m.conv, cudnnConvolutionBwdDataAlgo_t(m.algo),
                                               m.workspace, m.workspace_bytes, &beta, m.x, x),
                  "cudnnConvolutionBackwardData");
      break;
    case ConvDirection::backward_weight:
      check_cudnn(cudnnConvolutionBackwardFilter(h, &alpha, m.x, x, m.y, y, m.conv,
                                                 cudnnConvolutionBwdFilterAlgo_t(m.algo), m.workspace,
                                                 m.workspace_bytes, &beta, m.w, w),
                  "cudnnConvolutionBackwardFilter");
      break;
  }
}

std::string DirectConv::describe() const {
  char buf[96];
  std::snprintf(buf, sizeof buf, "algo %d, %.1f MB workspace", impl_->algo, double(impl_->workspace_bytes) / 1e6);
  return buf;
}

#else  // no cuDNN at build time

bool have_cudnn() { return false; }

struct DirectConv::Impl {};

DirectConv::DirectConv(const ConvShape&, DType, ConvDirection, void*, void*, void*, size_t) {
  KILN_FAIL("DirectConv: bench_ops_cuda was built without cuDNN");
}
DirectConv::~DirectConv() = default;
void DirectConv::run(void*, void*, void*) {}
std::string DirectConv::describe() const { return "no cuDNN"; }

#endif

}  // namespace kiln::bench::gpu
