// Softmax / log-softmax on CUDA (kernels/cuda/softmax.h).
//
// Note [CUDA online softmax]
// The forward reads a row twice: the first pass keeps, per thread, a running maximum m and the sum
// s of exp(x - m) (when an element exceeds m, s is rescaled by exp(m_old - x) once: one exp per
// element in the common case); the threads' (m, s) pairs are merged by a fixed tree (warp shuffles,
// then shared memory); the second pass writes exp(x - M) / S or (x - M) - log(S). -inf entries add
// nothing (a row of only -inf gives NaN, as on the CPU); a NaN makes the whole row NaN, and so does
// a +inf (exp(inf - inf)), as on the CPU. Rows of up to kWarpRow values take one warp each, longer
// rows one block; along a non-last dim (inner > 1) a block covers 32 consecutive inner positions
// (coalesced) x 8 slices of D, and the 8 partial pairs of a position are merged in slice order.
// Rows of a warp are kept in registers between the passes (one read); the second read of a
// block row mostly hits L2. The backward is one fixed-tree sum per row, then an
// elementwise pass. All choices depend on the shape only: deterministic, no atomics.
#include <cuda_runtime.h>

#include <cmath>

#include "kiln/kernels/cpu/vec_math.h"
#include "kiln/kernels/cuda/check.h"
#include "kiln/kernels/cuda/reduce_kernels.cuh"
#include "kiln/kernels/cuda/softmax.h"

namespace kiln::cuda {
namespace {

constexpr int kThreads = 256;
constexpr int kSlices = kThreads / 32;
constexpr int64_t kWarpRow = 1024;
constexpr int kWarpItems = int(kWarpRow / 32);  // values per lane of a warp row

// exp as the CPU kernels compute it (vexp in kernels/cpu/vec/softmax.cpp).
__device__ __forceinline__ float sexp(float x) { return x < -87.33f ? 0.0f : vm::exp(x); }
__device__ __forceinline__ double sexp(double x) { return exp(x); }

template <class C>
struct MaxSum {
  C m, s;
};

template <class C>
__device__ __forceinline__ C neg_inf() {
  return C(-vm::kInf);
}

template <class C>
__device__ __forceinline__ MaxSum<C> absorb(MaxSum<C> a, C x) {
  if (x > a.m) {
    a.s = a.s * sexp(a.m - x) + C(1);
    a.m = x;
  } else if (x != neg_inf<C>()) {
    a.s += sexp(x - a.m);
  }
  return a;
}

template <class C>
__device__ __forceinline__ MaxSum<C> merge(MaxSum<C> a, MaxSum<C> b) {
  const C m = a.m < b.m ? b.m : a.m;
  if (m == neg_inf<C>()) return {m, a.s + b.s};
  const C sa = a.m == neg_inf<C>() ? C(0) : a.s * sexp(a.m - m);
  const C sb = b.m == neg_inf<C>() ? C(0) : b.s * sexp(b.m - m);
  return {m, sa + sb};
}

template <class C>
__device__ __forceinline__ MaxSum<C> warp_merge(MaxSum<C> v) {
  for (int off = 16; off > 0; off >>= 1) {
    MaxSum<C> o{__shfl_down_sync(0xffffffffu, v.m, off), __shfl_down_sync(0xffffffffu, v.s, off)};
    v = merge(v, o);
  }
  return v;
}

template <class C>
__device__ __forceinline__ C warp_sum(C v) {
  for (int off = 16; off > 0; off >>= 1) v += __shfl_down_sync(0xffffffffu, v, off);
  return v;
}

// The statistics used by the output pass: M, and 1 / S (softmax) or log(S) (log_softmax).
template <class C>
__device__ __forceinline__ MaxSum<C> finish_stats(MaxSum<C> t, bool log) {
  if (t.m == C(vm::kInf)) t.s = C(NAN);  // exp(inf - inf): the CPU's row is NaN too
  t.s = log ? C(std::log(t.s)) : C(1) / t.s;
  return t;
}

template <class T, class C>
__device__ __forceinline__ T out_value(C x, const MaxSum<C>& st, bool log) {
  return T(log ? (x - st.m) - st.s : sexp(x - st.m) * st.s);
}

// S = 32: one warp per row, kThreads / 32 rows per block; S = kThreads: one block per row.
template <class T, int S>
__global__ void __launch_bounds__(kThreads)
    forward_rows_kernel(const T* __restrict__ x, T* __restrict__ y, int64_t rows, int64_t D, bool log) {
  using C = compute_t<T>;
  __shared__ MaxSum<C> part[kSlices];
  const int64_t row = S == 32 ? int64_t(blockIdx.x) * (kThreads / 32) + threadIdx.x / 32 : int64_t(blockIdx.x);
  if (S == 32 && row >= rows) return;  // whole warps leave together
  const int t = threadIdx.x % S;
  const T* xr = x + row * D;
  MaxSum<C> st{neg_inf<C>(), C(0)};
  // Warp rows (D <= kWarpRow) stay in registers between the two passes: one read of x. Same
  // element order as the loop of block rows.
  C vals[S == 32 ? kWarpItems : 1];
  if constexpr (S == 32) {
#pragma unroll
    for (int k = 0; k < kWarpItems; ++k) {
      const int64_t j = t + k * 32;
      if (j < D) {
        vals[k] = C(xr[j]);
        st = absorb(st, vals[k]);
      }
    }
  } else {
    for (int64_t j = t; j < D; j += S) st = absorb(st, C(xr[j]));
  }
  st = warp_merge(st);
  if constexpr (S == 32) {
    st.m = __shfl_sync(0xffffffffu, st.m, 0);
    st.s = __shfl_sync(0xffffffffu, st.s, 0);
  } else {
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    if (lane == 0) part[warp] = st;
    __syncthreads();
    if (warp == 0) {
      MaxSum<C> w = lane < kSlices ? part[lane] : MaxSum<C>{neg_inf<C>(), C(0)};
      w = warp_merge(w);
      if (lane == 0) part[0] = w;
    }
    __syncthreads();
    st = part[0];
  }
  st = finish_stats(st, log);
  T* yr = y + row * D;
  if constexpr (S == 32) {
#pragma unroll
    for (int k = 0; k < kWarpItems; ++k) {
      const int64_t j = t + k * 32;
      if (j < D) yr[j] = out_value<T>(vals[k], st, log);
    }
  } else {
    for (int64_t j = t; j < D; j += S) yr[j] = out_value<T>(C(xr[j]), st, log);
  }
}

// Block: 32 positions along inner (lane) x kSlices slices of D.
template <class T>
__global__ void __launch_bounds__(kThreads)
    forward_strided_kernel(const T* __restrict__ x, T* __restrict__ y, int64_t outer, int64_t D, int64_t inner,
                           bool log) {
  using C = compute_t<T>;
  __shared__ MaxSum<C> part[kSlices][32];
  const int lane = threadIdx.x & 31, slice = threadIdx.x >> 5;
  const int64_t j = int64_t(blockIdx.x) * 32 + lane;
  const bool live = j < outer * inner;
  const int64_t base = live ? (j / inner) * D * inner + j % inner : 0;
  MaxSum<C> st{neg_inf<C>(), C(0)};
  if (live)
    for (int64_t d = slice; d < D; d += kSlices) st = absorb(st, C(x[base + d * inner]));
  part[slice][lane] = st;
  __syncthreads();
  if (!live) return;
  st = part[0][lane];
  for (int k = 1; k < kSlices; ++k) st = merge(st, part[k][lane]);
  st = finish_stats(st, log);
  for (int64_t d = slice; d < D; d += kSlices) {
    const int64_t k = base + d * inner;
    y[k] = out_value<T>(C(x[k]), st, log);
  }
}

template <class C>
__device__ __forceinline__ C grad_term(C g, C yv, bool log) {
  return log ? g : g * yv;
}
template <class T, class C>
__device__ __forceinline__ T grad_value(C g, C yv, C sum, bool log) {
  return T(log ? g - sexp(yv) * sum : yv * (g - sum));
}

template <class T, int S>
__global__ void __launch_bounds__(kThreads)
    backward_rows_kernel(const T* __restrict__ dy, const T* __restrict__ y, T* __restrict__ dx, int64_t rows,
                         int64_t D, bool log) {
  using C = compute_t<T>;
  __shared__ C part[kSlices];
  const int64_t row = S == 32 ? int64_t(blockIdx.x) * (kThreads / 32) + threadIdx.x / 32 : int64_t(blockIdx.x);
  if (S == 32 && row >= rows) return;
  const int t = threadIdx.x % S;
  const T* g = dy + row * D;
  const T* yr = y + row * D;
  C acc = 0;
  for (int64_t j = t; j < D; j += S) acc += grad_term(C(g[j]), C(yr[j]), log);
  acc = warp_sum(acc);
  if constexpr (S == 32) {
    acc = __shfl_sync(0xffffffffu, acc, 0);
  } else {
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    if (lane == 0) part[warp] = acc;
    __syncthreads();
    if (warp == 0) {
      C w = lane < kSlices ? part[lane] : C(0);
      w = warp_sum(w);
      if (lane == 0) part[0] = w;
    }
    __syncthreads();
    acc = part[0];
  }
  T* o = dx + row * D;
  for (int64_t j = t; j < D; j += S) o[j] = grad_value<T>(C(g[j]), C(yr[j]), acc, log);
}

template <class T>
__global__ void __launch_bounds__(kThreads)
    backward_strided_kernel(const T* __restrict__ dy, const T* __restrict__ y, T* __restrict__ dx, int64_t outer,
                            int64_t D, int64_t inner, bool log) {
  using C = compute_t<T>;
  __shared__ C part[kSlices][32];
  const int lane = threadIdx.x & 31, slice = threadIdx.x >> 5;
  const int64_t j = int64_t(blockIdx.x) * 32 + lane;
  const bool live = j < outer * inner;
  const int64_t base = live ? (j / inner) * D * inner + j % inner : 0;
  C acc = 0;
  if (live)
    for (int64_t d = slice; d < D; d += kSlices) acc += grad_term(C(dy[base + d * inner]), C(y[base + d * inner]), log);
  part[slice][lane] = acc;
  __syncthreads();
  if (!live) return;
  acc = part[0][lane];
  for (int k = 1; k < kSlices; ++k) acc += part[k][lane];
  for (int64_t d = slice; d < D; d += kSlices) {
    const int64_t k = base + d * inner;
    dx[k] = grad_value<T>(C(dy[k]), C(y[k]), acc, log);
  }
}

using red::ceil_div;
using red::grid_x;

template <class F>
void dispatch_softmax_dtype(DType dtype, F&& f) {
  switch (dtype) {
    case DType::f32: return f(float{});
    case DType::f64: return f(double{});
    case DType::f16: return f(Half{});
    case DType::bf16: return f(BFloat16{});
    default: KILN_CHECK(false, "softmax (CUDA): dtype ", dtype_name(dtype), " is not floating");
  }
}

}  // namespace

void softmax_forward(DType dtype, const void* xv, void* yv, int64_t outer, int64_t D, int64_t inner, bool log,
                     Stream s) {
  if (outer == 0 || D == 0 || inner == 0) return;
  dispatch_softmax_dtype(dtype, [&](auto tag) {
    using T = decltype(tag);
    const T* x = static_cast<const T*>(xv);
    T* y = static_cast<T*>(yv);
    if (inner > 1) {
      forward_strided_kernel<T><<<grid_x(ceil_div(outer * inner, 32), "softmax"), kThreads, 0, s>>>(x, y, outer, D, inner, log);
    } else if (D <= kWarpRow) {
      forward_rows_kernel<T, 32><<<grid_x(ceil_div(outer, kThreads / 32), "softmax"), kThreads, 0, s>>>(x, y, outer, D, log);
    } else {
      forward_rows_kernel<T, kThreads><<<grid_x(outer, "softmax"), kThreads, 0, s>>>(x, y, outer, D, log);
    }
    KILN_CUDA_CHECK_LAUNCH("softmax_forward");
  });
}

void softmax_backward(DType dtype, const void* dyv, const void* yv, void* dxv, int64_t outer, int64_t D, int64_t inner,
                      bool log, Stream s) {
  if (outer == 0 || D == 0 || inner == 0) return;
  dispatch_softmax_dtype(dtype, [&](auto tag) {
    using T = decltype(tag);
    const T* dy = static_cast<const T*>(dyv);
    const T* y = static_cast<const T*>(yv);
    T* dx = static_cast<T*>(dxv);
    if (inner > 1) {
      backward_strided_kernel<T>
          <<<grid_x(ceil_div(outer * inner, 32), "softmax"), kThreads, 0, s>>>(dy, y, dx, outer, D, inner, log);
    } else if (D <= kWarpRow) {
      backward_rows_kernel<T, 32><<<grid_x(ceil_div(outer, kThreads / 32), "softmax"), kThreads, 0, s>>>(dy, y, dx, outer, D, log);
    } else {
      backward_rows_kernel<T, kThreads><<<grid_x(outer, "softmax"), kThreads, 0, s>>>(dy, y, dx, outer, D, log);
    }
    KILN_CUDA_CHECK_LAUNCH("softmax_backward");
  });
}

}  // namespace kiln::cuda
