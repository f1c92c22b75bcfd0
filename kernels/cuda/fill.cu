// fill on CUDA: the value is converted once on the host (same conversion as cpu::fill) and its bit
// pattern written by a kernel per element size; 16-byte stores when the pointer is aligned.
#include "kiln/kernels/fill_value.h"
#include "kiln/kernels/cuda/elementwise.h"
#include "kiln/kernels/cuda/elementwise_loops.cuh"

namespace kiln::cuda {
namespace {

using ew::Pack;

template <class U, int V>
__global__ void __launch_bounds__(ew::kThreads) fill_kernel(U* out, int64_t n, U value) {
  const int64_t nvec = n / V;
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  const int64_t tid = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  Pack<U, V> pv;
#pragma unroll
  for (int k = 0; k < V; ++k) pv.v[k] = value;
  for (int64_t i = tid; i < nvec; i += stride) reinterpret_cast<Pack<U, V>*>(out)[i] = pv;
  for (int64_t i = nvec * V + tid; i < n; i += stride) out[i] = value;
}

template <class U>
__global__ void __launch_bounds__(ew::kThreads)
    fill_strided_kernel(U* out, const Loop loop, int64_t n, bool small, U value) {
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) {
    int64_t off[1];
    ew::strided_offsets<1>(loop, i, small, off);
    out[off[0]] = value;
  }
}

template <class U>
void run_fill(void* out_v, int64_t n, U value, Stream s) {
  U* out = static_cast<U*>(out_v);
  constexpr int V = ew::vec_width<U>();
  if (ew::aligned_to(out, V * int64_t(sizeof(U))))
    fill_kernel<U, V><<<unsigned(ew::grid_for((n + V - 1) / V)), ew::kThreads, 0, s>>>(out, n, value);
  else
    fill_kernel<U, 1><<<unsigned(ew::grid_for(n)), ew::kThreads, 0, s>>>(out, n, value);
  KILN_CUDA_CHECK_LAUNCH("fill");
}

// Calls f(bits) with the value converted to dtype d (as cpu::fill) as raw bits of its size.
template <class F>
void with_value_bits(DType d, double fvalue, int64_t ivalue, F&& f) {
  dispatch_dtype(d, [&](auto tag) {
    using T = decltype(tag);
    const T v = fill_value<T>(fvalue, ivalue);
    using U = std::conditional_t<sizeof(T) == 1, uint8_t,
                                 std::conditional_t<sizeof(T) == 2, uint16_t,
                                                    std::conditional_t<sizeof(T) == 4, uint32_t, uint64_t>>>;
    U bits;
    std::memcpy(&bits, &v, sizeof(T));
    f(bits);
  });
}

}  // namespace

void fill(DType d, void* out, int64_t n, double fvalue, int64_t ivalue, Stream s) {
  if (n <= 0) return;
  with_value_bits(d, fvalue, ivalue, [&](auto bits) { run_fill(out, n, bits, s); });
}

void fill_strided(const Loop& loop, DType d, void* out, double fvalue, int64_t ivalue, Stream s) {
  const int64_t n = loop.numel();
  if (n <= 0) return;
  with_value_bits(d, fvalue, ivalue, [&](auto bits) {
    using U = decltype(bits);
    fill_strided_kernel<U><<<unsigned(ew::grid_for(n)), ew::kThreads, 0, s>>>(static_cast<U*>(out), loop, n,
                                                                             ew::small_index(n), bits);
    KILN_CUDA_CHECK_LAUNCH("fill_strided");
  });
}

}  // namespace kiln::cuda
