#pragma once
// The vendor side of bench_ops_cuda: GEMMs through cuBLAS and convolutions through cuDNN, called
// directly on raw device pointers with no kiln code in between, so kiln's matmul and conv2d can be
// held to "within 5% of calling the vendor directly". Everything runs on the legacy default stream
// (the stream kiln's ops and gpu::time_rotated use). Errors throw kiln::Error naming the call.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "kiln/kernels/dtype.h"

namespace kiln::bench::gpu {

// Row-major, contiguous: C [batch, M, N] = A [batch, M, K] x B [batch, K, N].
// f32: CUBLAS_COMPUTE_32F with the default math mode (no TF32); f16 / bf16: f32 accumulation
// (CUBLAS_COMPUTE_32F, f32 alpha/beta), C in the inputs' dtype. batch == 1 calls cublasGemmEx,
// batch > 1 cublasGemmStridedBatchedEx; algorithm CUBLAS_GEMM_DEFAULT (cuBLAS's heuristic).
class DirectGemm {
 public:
  DirectGemm();
  ~DirectGemm();
  DirectGemm(const DirectGemm&) = delete;
  DirectGemm& operator=(const DirectGemm&) = delete;
  void run(DType dt, int64_t batch, int64_t m, int64_t n, int64_t k, const void* a, const void* b, void* c);

 private:
  void* handle_ = nullptr;  // cublasHandle_t
};

// True when this program was built with cuDNN (DirectConv needs it; otherwise it throws).
bool have_cudnn();

enum class ConvDirection { forward, backward_data, backward_weight };

// NCHW: x [N, C, H, W], w [O, C, KH, KW], y [N, O, OH, OW]; the same stride and padding along H
// and W, no dilation, one group.
struct ConvShape {
  int64_t n = 0, c = 0, h = 0, w = 0, o = 0, kh = 0, kw = 0, stride = 1, pad = 0;
  int64_t oh() const { return (h + 2 * pad - kh) / stride + 1; }
  int64_t ow() const { return (w + 2 * pad - kw) / stride + 1; }
  double flops() const { return 2.0 * double(n * o * oh() * ow()) * double(c * kh * kw); }
};

// One direction of one convolution, planned once: descriptors for the shape and dtype (f32:
// CUDNN_FMA_MATH, so no TF32; f16 / bf16: tensor-op math with f32 compute) and the fastest
// algorithm that cudnnFind*AlgorithmEx measures on the buffers given (their output is overwritten),
// allowing at most max_workspace bytes of workspace. run() then calls cudnnConvolution* with that
// algorithm and its own workspace:
//   forward:          y = conv(x, w)
//   backward_data:    x = gradient of the input, from dy (in y's buffer) and w
//   backward_weight:  w = gradient of the weight, from x and dy (in y's buffer)
class DirectConv {
 public:
  DirectConv(const ConvShape& s, DType dt, ConvDirection dir, void* x, void* w, void* y, size_t max_workspace);
  ~DirectConv();
  DirectConv(const DirectConv&) = delete;
  DirectConv& operator=(const DirectConv&) = delete;
  void run(void* x, void* w, void* y);
  // The chosen algorithm and its workspace, e.g. "algo 1, 12.0 MB workspace".
  std::string describe() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace kiln::bench::gpu
