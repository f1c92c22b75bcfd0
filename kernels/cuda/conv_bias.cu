// The bias passes of the CUDA convolutions (kernels/cuda/conv.h): kiln kernels, not cuDNN, so the
// bias gradient is deterministic by construction and accumulates in f64 like the CPU's.
#include <cuda_runtime.h>

#include <algorithm>

#include "kiln/kernels/cuda/allocator.h"
#include "kiln/kernels/cuda/check.h"
#include "kiln/kernels/cuda/conv.h"
#include "kiln/kernels/layer_dtype.h"

namespace kiln::cuda {
namespace {

constexpr int kThreads = 256;

unsigned blocks_for(int64_t n) { return unsigned(std::min<int64_t>((n + kThreads - 1) / kThreads, int64_t(1) << 20)); }

template <class T>
__global__ void __launch_bounds__(kThreads)
    add_bias_kernel(T* __restrict__ y, const T* __restrict__ bias, int64_t C, int64_t HW, int64_t total) {
  using Cm = compute_t<T>;
  const int64_t step = int64_t(gridDim.x) * blockDim.x;
  for (int64_t t = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; t < total; t += step) {
    const int64_t c = (t / HW) % C;
    y[t] = T(Cm(y[t]) + Cm(bias[c]));
  }
}

// Stage 1 of the bias gradient: block (o, s) sums the elements e = s*chunk .. (s+1)*chunk - 1 of
// channel o (e runs over B * HW, image-major) into partial[o * S + s]. Each thread sums a fixed
// strided subset, then a fixed tree combines the block: the order never depends on timing.
template <class T>
__global__ void __launch_bounds__(kThreads)
    bias_partial_kernel(const T* __restrict__ dy, double* __restrict__ partial, int64_t O, int64_t HW,
                        int64_t count, int64_t chunk) {
  __shared__ double buf[kThreads];
  const int64_t o = blockIdx.x, s = blockIdx.y, S = gridDim.y;
  const int64_t e0 = s * chunk, e1 = e0 + chunk < count ? e0 + chunk : count;
  double acc = 0;
  for (int64_t e = e0 + threadIdx.x; e < e1; e += kThreads) {
    const int64_t n = e / HW, i = e - n * HW;
    acc += double(compute_t<T>(dy[(n * O + o) * HW + i]));
  }
  buf[threadIdx.x] = acc;
  __syncthreads();
  for (int w = kThreads / 2; w > 0; w /= 2) {
    if (int(threadIdx.x) < w) buf[threadIdx.x] += buf[threadIdx.x + w];
    __syncthreads();
  }
  if (threadIdx.x == 0) partial[o * S + s] = buf[0];
}

// Stage 2: db[o] = the S partials of channel o summed in order.
template <class T>
__global__ void __launch_bounds__(kThreads)
    bias_finish_kernel(const double* __restrict__ partial, T* __restrict__ db, int64_t O, int64_t S) {
  const int64_t step = int64_t(gridDim.x) * blockDim.x;
  for (int64_t o = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; o < O; o += step) {
    double acc = 0;
    for (int64_t s = 0; s < S; ++s) acc += partial[o * S + s];
    db[o] = T(compute_t<T>(acc));
  }
}

}  // namespace

void add_channel_bias(DType dtype, int64_t B, int64_t C, int64_t HW, const void* bias, void* y, Stream stream) {
  const char* op = "cuda::add_channel_bias";
  KILN_CHECK(B >= 0 && C >= 0 && HW >= 0, op, ": sizes must be non-negative, got B=", B, " C=", C, " HW=", HW);
  const int64_t total = B * C * HW;
  if (total == 0) return;
  dispatch_layer_dtype(dtype, op, [&](auto tag) {
    using T = decltype(tag);
    add_bias_kernel<T><<<blocks_for(total), kThreads, 0, stream>>>(static_cast<T*>(y), static_cast<const T*>(bias), C,
                                                                  HW, total);
    KILN_CUDA_CHECK_LAUNCH("add_bias_kernel");
  });
}

void conv2d_backward_bias(DType dtype, int64_t B, int64_t O, int64_t HW, const void* dy, void* db, Stream stream) {
  const char* op = "cuda::conv2d_backward_bias";
  KILN_CHECK(B >= 0 && O >= 0 && HW >= 0, op, ": sizes must be non-negative, got B=", B, " O=", O, " HW=", HW);
  if (O == 0) return;
  const int64_t count = B * HW;
  // Enough blocks per channel to fill the GPU when there are few channels, each summing at least
  // 16 elements per thread; at most 64 (gridDim.y limit is 65535).
  const int64_t S = std::clamp<int64_t>((count + kThreads * 16 - 1) / (kThreads * 16), 1, 64);
  const int64_t chunk = std::max<int64_t>((count + S - 1) / S, 1);
  KILN_CHECK(O < (int64_t(1) << 31), op, ": ", O, " channels exceed the grid limit");
  int device = 0;
  KILN_CUDA_CHECK(cudaGetDevice(&device));
  auto* partial = static_cast<double*>(device_allocate(size_t(O * S) * sizeof(double), device, stream));
  struct Release {  // back to the allocator also when a launch check throws
    void* p;
    ~Release() { device_free(p); }
  } release{partial};
  dispatch_layer_dtype(dtype, op, [&](auto tag) {
    using T = decltype(tag);
    bias_partial_kernel<T><<<dim3(unsigned(O), unsigned(S)), kThreads, 0, stream>>>(static_cast<const T*>(dy), partial,
                                                                                   O, HW, count, chunk);
    KILN_CUDA_CHECK_LAUNCH("bias_partial_kernel");
    bias_finish_kernel<T><<<blocks_for(O), kThreads, 0, stream>>>(partial, static_cast<T*>(db), O, S);
    KILN_CUDA_CHECK_LAUNCH("bias_finish_kernel");
  });
}

}  // namespace kiln::cuda
