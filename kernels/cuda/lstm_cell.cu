// The fused LSTM cell on CUDA: one thread per (b, j) cell, grid-stride. Consecutive threads take
// consecutive j, so each of the four gate reads, and the c / h accesses, are coalesced.
#include <cuda_runtime.h>

#include <algorithm>

#include "kiln/kernels/cuda/check.h"
#include "kiln/kernels/cuda/layer_reduce.cuh"
#include "kiln/kernels/cuda/lstm_cell.h"
#include "kiln/kernels/layer_dtype.h"
#include "kiln/kernels/lstm_cell_math.h"

namespace kiln::cuda {
namespace {

constexpr int kThreads = 256;

template <class T, class I>
__global__ void __launch_bounds__(kThreads) forward_kernel(const T* __restrict__ gates, const T* __restrict__ c_prev,
                                                           T* __restrict__ h, T* __restrict__ c, I total, I H) {
  using Cm = compute_t<T>;
  const I stride = I(gridDim.x) * blockDim.x;
  for (I k = I(blockIdx.x) * blockDim.x + threadIdx.x; k < total; k += stride) {
    const I b = k / H, j = k - b * H;
    const T* g = gates + b * 4 * H;
    const lstm_cell::Gates<Cm> a = lstm_cell::activate(Cm(g[j]), Cm(g[H + j]), Cm(g[2 * H + j]), Cm(g[3 * H + j]));
    const Cm cv = lstm_cell::cell(a, Cm(c_prev[k]));
    c[k] = T(cv);
    h[k] = T(a.o * ops::m_tanh(cv));
  }
}

template <class T, class I>
__global__ void __launch_bounds__(kThreads)
    backward_kernel(const T* __restrict__ gates, const T* __restrict__ c_prev, const T* __restrict__ dh,
                    const T* __restrict__ dc, T* __restrict__ dgates, T* __restrict__ dc_prev, I total, I H) {
  using Cm = compute_t<T>;
  const I stride = I(gridDim.x) * blockDim.x;
  for (I k = I(blockIdx.x) * blockDim.x + threadIdx.x; k < total; k += stride) {
    const I b = k / H, j = k - b * H;
    const T* g = gates + b * 4 * H;
    const lstm_cell::Gates<Cm> a = lstm_cell::activate(Cm(g[j]), Cm(g[H + j]), Cm(g[2 * H + j]), Cm(g[3 * H + j]));
    const Cm cprev = Cm(c_prev[k]);
    const Cm cv = lstm_cell::cell(a, cprev);
    const lstm_cell::Backward<Cm> r = lstm_cell::backward(a, cprev, cv, dh ? Cm(dh[k]) : Cm(0), dc ? Cm(dc[k]) : Cm(0));
    T* d = dgates + b * 4 * H;
    d[j] = T(r.dgi);
    d[H + j] = T(r.dgf);
    d[2 * H + j] = T(r.dgg);
    d[3 * H + j] = T(r.dgo);
    if (dc_prev) dc_prev[k] = T(r.dc_prev);
  }
}

unsigned blocks_for(int64_t n) { return unsigned(std::min<int64_t>(layer::ceil_div(n, kThreads), int64_t(1) << 20)); }

// Index type: the largest index formed is about 4 * B * H (gate offsets) plus one grid stride.
template <class F>
void with_index_type(int64_t B, int64_t H, F&& f) {
  if (4 * B * H < (int64_t(1) << 31))
    f(uint32_t{});
  else
    f(uint64_t{});
}

void check_sizes(const char* op, int64_t B, int64_t H) {
  KILN_CHECK(B >= 0 && H >= 0, op, ": sizes must be non-negative, got B=", B, " H=", H);
}

}  // namespace

void lstm_cell_forward(DType dtype, const void* gates, const void* c_prev, void* h, void* c, int64_t B, int64_t H,
                       Stream stream) {
  const char* op = "cuda::lstm_cell_forward";
  check_sizes(op, B, H);
  if (B == 0 || H == 0) return;
  dispatch_layer_dtype(dtype, op, [&](auto tag) {
    using T = decltype(tag);
    with_index_type(B, H, [&](auto itag) {
      using I = decltype(itag);
      forward_kernel<T, I>
          <<<blocks_for(B * H), kThreads, 0, stream>>>(static_cast<const T*>(gates), static_cast<const T*>(c_prev),
                                                       static_cast<T*>(h), static_cast<T*>(c), I(B * H), I(H));
      KILN_CUDA_CHECK_LAUNCH("lstm_cell forward_kernel");
    });
  });
}

void lstm_cell_backward(DType dtype, const void* gates, const void* c_prev, const void* dh, const void* dc,
                        void* dgates, void* dc_prev, int64_t B, int64_t H, Stream stream) {
  const char* op = "cuda::lstm_cell_backward";
  check_sizes(op, B, H);
  if (B == 0 || H == 0) return;
  dispatch_layer_dtype(dtype, op, [&](auto tag) {
    using T = decltype(tag);
    with_index_type(B, H, [&](auto itag) {
      using I = decltype(itag);
      backward_kernel<T, I><<<blocks_for(B * H), kThreads, 0, stream>>>(
          static_cast<const T*>(gates), static_cast<const T*>(c_prev), static_cast<const T*>(dh),
          static_cast<const T*>(dc), static_cast<T*>(dgates), static_cast<T*>(dc_prev), I(B * H), I(H));
      KILN_CUDA_CHECK_LAUNCH("lstm_cell backward_kernel");
    });
  });
}

}  // namespace kiln::cuda
