// where(cond, a, b) on CUDA. A select involves no arithmetic, so the kernels are instantiated per
// element size (1, 2, 4, 8 bytes: the bit patterns are copied), not per dtype: 16-bit floats are
// selected as uint16_t, as the CPU kernel does. The two kernels of Note [CUDA elementwise loops];
// cond is bool (one byte), so the contiguous kernel loads V = 16 / sizeof(U) of them per pack.
#include "kiln/kernels/cuda/elementwise.h"
#include "kiln/kernels/cuda/elementwise_loops.cuh"

namespace kiln::cuda {
namespace {

using ew::Pack;

template <class U, int V>
__global__ void __launch_bounds__(ew::kThreads)
    where_contig_kernel(U* out, const bool* cond, const U* a, const U* b, int64_t n) {
  const int64_t nvec = n / V;
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  const int64_t tid = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  for (int64_t i = tid; i < nvec; i += stride) {
    const Pack<bool, V> c = reinterpret_cast<const Pack<bool, V>*>(cond)[i];
    const Pack<U, V> x = reinterpret_cast<const Pack<U, V>*>(a)[i];
    const Pack<U, V> y = reinterpret_cast<const Pack<U, V>*>(b)[i];
    Pack<U, V> r;
#pragma unroll
    for (int k = 0; k < V; ++k) r.v[k] = c.v[k] ? x.v[k] : y.v[k];
    reinterpret_cast<Pack<U, V>*>(out)[i] = r;
  }
  for (int64_t i = nvec * V + tid; i < n; i += stride) out[i] = cond[i] ? a[i] : b[i];
}

template <class U>
__global__ void __launch_bounds__(ew::kThreads)
    where_strided_kernel(U* out, const bool* cond, const U* a, const U* b, const Loop loop, int64_t n, bool small) {
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) {
    int64_t off[4];
    ew::strided_offsets<4>(loop, i, small, off);
    out[off[0]] = cond[off[1]] ? a[off[2]] : b[off[3]];
  }
}

template <class U>
void run_where(const Loop& loop, void* out_v, const bool* cond, const void* a_v, const void* b_v, Stream s) {
  const int64_t n = loop.numel();
  if (n == 0) return;
  U* out = static_cast<U*>(out_v);
  const U* a = static_cast<const U*>(a_v);
  const U* b = static_cast<const U*>(b_v);
  constexpr int V = ew::vec_width<U>();
  const bool all_unit = loop.ndim == 0 || (loop.ndim == 1 && loop.strides[0][0] == 1 && loop.strides[1][0] == 1 &&
                                           loop.strides[2][0] == 1 && loop.strides[3][0] == 1);
  if (all_unit && ew::aligned_to(out, V * int64_t(sizeof(U))) && ew::aligned_to(cond, V) &&
      ew::aligned_to(a, V * int64_t(sizeof(U))) && ew::aligned_to(b, V * int64_t(sizeof(U)))) {
    where_contig_kernel<U, V><<<unsigned(ew::grid_for((n + V - 1) / V)), ew::kThreads, 0, s>>>(out, cond, a, b, n);
  } else {
    where_strided_kernel<U><<<unsigned(ew::grid_for(n)), ew::kThreads, 0, s>>>(out, cond, a, b, loop, n,
                                                                              ew::small_index(n));
  }
  KILN_CUDA_CHECK_LAUNCH("where");
}

}  // namespace

void where(const Loop& loop, DType dtype, void* out, const bool* cond, const void* a, const void* b, Stream s) {
  switch (dtype_size(dtype)) {
    case 1: return run_where<uint8_t>(loop, out, cond, a, b, s);
    case 2: return run_where<uint16_t>(loop, out, cond, a, b, s);
    case 4: return run_where<uint32_t>(loop, out, cond, a, b, s);
    case 8: return run_where<uint64_t>(loop, out, cond, a, b, s);
  }
  KILN_FAIL("cuda::where: unsupported dtype ", dtype_name(dtype));
}

}  // namespace kiln::cuda
