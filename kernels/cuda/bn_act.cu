// Batch norm + activation on CUDA: three launches per direction.
//   1. partial sums: grid (C, P), block (c, p) reduces rows [p * R, (p + 1) * R) of channel c in
//      f64 (training forward: shifted sums of x; backward: sum dz and sum dz (x - mean));
//   2. finalize: one thread per channel adds its P partials in order, forms the statistics,
//      updates the running buffers, writes dweight / dbias and the per-element coefficients;
//   3. apply: elementwise over [N, C, S] (y, or dx).
// Why not one block per channel: with few channels (C = 64) and large N * S that leaves most of
// the GPU idle; chunks keep every SM busy and stay deterministic since P depends on sizes only.
// Inside a block, threads are laid out as (rows, lanes): lanes walk the S contiguous values of a
// row (coalesced), and S < 256 packs several rows per iteration instead of idling threads.
#include <cuda_runtime.h>

#include <algorithm>

#include "kiln/kernels/cuda/bn_act.h"
#include "kiln/kernels/cuda/check.h"
#include "kiln/kernels/cuda/layer_reduce.cuh"
#include "kiln/kernels/layer_dtype.h"

namespace kiln::cuda {
namespace {

using layer::ceil_div;

constexpr int kThreads = 256;
constexpr int64_t kValuesPerBlock = 16384;  // target values reduced by one block
constexpr int64_t kMaxChunks = 512;         // partials per channel (added serially by finalize)

struct Plan {
  int64_t rows_per_chunk = 1;
  int64_t chunks = 0;  // P
  int lanes = 1;       // threads per row: the smallest power of two >= S, at most kThreads
};

Plan make_plan(int64_t N, int64_t S) {
  Plan pl;
  pl.lanes = layer::pow2_threads(S, 1, kThreads);
  if (N == 0 || S == 0) return pl;
  pl.rows_per_chunk = std::max<int64_t>(1, kValuesPerBlock / S);
  if (ceil_div(N, pl.rows_per_chunk) > kMaxChunks) pl.rows_per_chunk = ceil_div(N, kMaxChunks);
  pl.chunks = ceil_div(N, pl.rows_per_chunk);
  return pl;
}

template <class T>
struct Workspace {
  double* partial = nullptr;                      // [C, P, 2]
  bn_act::BwdCoef<compute_t<T>>* coef = nullptr;  // [C] (the forward uses the first two fields)
  size_t bytes = 0;
};

template <class T>
Workspace<T> carve(void* base, int64_t C, const Plan& pl) {
  layer::Carver cv(base);
  Workspace<T> w;
  w.partial = cv.take<double>(size_t(C * pl.chunks * 2));
  w.coef = cv.take<bn_act::BwdCoef<compute_t<T>>>(size_t(C));
  w.bytes = cv.used();
  return w;
}

// ---- training forward, step 1: shifted sums of x per (channel, chunk).
template <class T>
__global__ void __launch_bounds__(kThreads)
    stats_partial_kernel(const T* __restrict__ x, int64_t N, int64_t C, int64_t S, int64_t rows_per_chunk, int lanes,
                         double* __restrict__ partial) {
  using Cm = compute_t<T>;
  __shared__ double scratch[32];
  const int64_t c = blockIdx.x;
  const int64_t p = blockIdx.y, P = gridDim.y;
  const int64_t n0 = p * rows_per_chunk, n1 = n0 + rows_per_chunk < N ? n0 + rows_per_chunk : N;
  const double K = double(Cm(x[c * S]));
  const int lane = threadIdx.x % lanes, row = threadIdx.x / lanes, row_step = blockDim.x / lanes;
  double s1 = 0, s2 = 0;
  for (int64_t n = n0 + row; n < n1; n += row_step) {
    const T* xr = x + (n * C + c) * S;
    for (int64_t s = lane; s < S; s += lanes) {
      const double v = double(Cm(xr[s])) - K;
      s1 += v;
      s2 += v * v;
    }
  }
  s1 = layer::block_sum(s1, scratch);
  s2 = layer::block_sum(s2, scratch);
  if (threadIdx.x == 0) {
    partial[(c * P + p) * 2] = s1;
    partial[(c * P + p) * 2 + 1] = s2;
  }
}

// ---- forward step 2: statistics, running buffers, coefficients; one thread per channel.
template <class T>
__global__ void forward_finalize_kernel(const T* __restrict__ x, const compute_t<T>* w, const compute_t<T>* b,
                                        compute_t<T>* rm, compute_t<T>* rv, compute_t<T>* save_mean,
                                        compute_t<T>* save_invstd, const double* __restrict__ partial, int64_t P,
                                        int64_t C, int64_t S, double M, BnActParams p,
                                        bn_act::BwdCoef<compute_t<T>>* coef) {
  using Cm = compute_t<T>;
  const int64_t c = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (c >= C) return;
  double mean, invstd;
  if (p.training) {
    const double K = double(Cm(x[c * S]));
    double s1 = 0, s2 = 0;
    for (int64_t q = 0; q < P; ++q) {
      s1 += partial[(c * P + q) * 2];
      s2 += partial[(c * P + q) * 2 + 1];
    }
    const bn_act::Stats st = bn_act::stats_from_sums(K, s1, s2, M);
    mean = st.mean;
    invstd = 1.0 / sqrt(st.var + p.eps);
    if (rm) {
      rm[c] = Cm(bn_act::running_mean_update(double(rm[c]), st.mean, p.momentum));
      rv[c] = Cm(bn_act::running_var_update(double(rv[c]), st.var, M, p.momentum));
    }
  } else {
    mean = double(rm[c]);
    invstd = 1.0 / sqrt(double(rv[c]) + p.eps);
  }
  if (save_mean) save_mean[c] = Cm(mean);
  if (save_invstd) save_invstd[c] = Cm(invstd);
  // From the stored (rounded) statistics, which the backward reads to recompute z.
  const bn_act::FwdCoef<Cm> k =
      bn_act::forward_coef<Cm>(double(Cm(mean)), double(Cm(invstd)), w ? double(w[c]) : 1.0, b ? double(b[c]) : 0.0);
  coef[c].scale = k.scale;
  coef[c].shift = k.shift;
}

// ---- forward step 3: y = act(x * scale + shift), grid-stride over the N * C * S values.
template <class T, class I>
__global__ void __launch_bounds__(kThreads)
    forward_apply_kernel(const T* __restrict__ x, T* __restrict__ y, const bn_act::BwdCoef<compute_t<T>>* coef, I total,
                         I C, I S, BnActivation act, compute_t<T> slope) {
  using Cm = compute_t<T>;
  const I stride = I(gridDim.x) * blockDim.x;
  for (I i = I(blockIdx.x) * blockDim.x + threadIdx.x; i < total; i += stride) {
    const I c = (i / S) % C;
    const Cm scale = coef[c].scale, shift = coef[c].shift;
    y[i] = T(bn_act::act_forward(act, Cm(x[i]) * scale + shift, slope));
  }
}

// The backward coefficients that are known before the sums (scale and shift recompute z).
template <class Cm>
__device__ __forceinline__ bn_act::BwdCoef<Cm> pre_coef(const Cm* w, const Cm* b, const Cm* mean, const Cm* invstd,
                                                        int64_t c, bool training) {
  return bn_act::backward_coef<Cm>(double(mean[c]), double(invstd[c]), w ? double(w[c]) : 1.0, b ? double(b[c]) : 0.0,
                                   0.0, 0.0, 0.0, training);
}

// ---- backward step 1: sum dz and sum dz (x - mean) per (channel, chunk).
template <class T>
__global__ void __launch_bounds__(kThreads)
    backward_partial_kernel(const T* __restrict__ dy, const T* __restrict__ x, const compute_t<T>* w,
                            const compute_t<T>* b, const compute_t<T>* mean, const compute_t<T>* invstd, int64_t N,
                            int64_t C, int64_t S, int64_t rows_per_chunk, int lanes, BnActivation act,
                            compute_t<T> slope, bool training, double* __restrict__ partial) {
  using Cm = compute_t<T>;
  __shared__ double scratch[32];
  const int64_t c = blockIdx.x;
  const int64_t p = blockIdx.y, P = gridDim.y;
  const int64_t n0 = p * rows_per_chunk, n1 = n0 + rows_per_chunk < N ? n0 + rows_per_chunk : N;
  const bn_act::BwdCoef<Cm> k = pre_coef(w, b, mean, invstd, c, training);
  const Cm mu = Cm(mean[c]);
  const int lane = threadIdx.x % lanes, row = threadIdx.x / lanes, row_step = blockDim.x / lanes;
  double s1 = 0, s2 = 0;
  for (int64_t n = n0 + row; n < n1; n += row_step) {
    const T* xr = x + (n * C + c) * S;
    const T* gr = dy + (n * C + c) * S;
    for (int64_t s = lane; s < S; s += lanes) {
      const Cm xv = Cm(xr[s]);
      const Cm dz = bn_act::dz_of(act, xv, Cm(gr[s]), k, slope);
      s1 += double(dz);
      s2 += double(dz) * double(xv - mu);
    }
  }
  s1 = layer::block_sum(s1, scratch);
  s2 = layer::block_sum(s2, scratch);
  if (threadIdx.x == 0) {
    partial[(c * P + p) * 2] = s1;
    partial[(c * P + p) * 2 + 1] = s2;
  }
}

// ---- backward step 2: dweight, dbias and the dx coefficients; one thread per channel.
template <class Cm>
__global__ void backward_finalize_kernel(const Cm* w, const Cm* b, const Cm* mean, const Cm* invstd, Cm* dw, Cm* db,
                                         const double* __restrict__ partial, int64_t P, int64_t C, double M,
                                         bool training, bn_act::BwdCoef<Cm>* coef) {
  const int64_t c = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (c >= C) return;
  double s1 = 0, s2 = 0;
  for (int64_t q = 0; q < P; ++q) {
    s1 += partial[(c * P + q) * 2];
    s2 += partial[(c * P + q) * 2 + 1];
  }
  const double is = double(invstd[c]);
  if (db) db[c] = Cm(s1);
  if (dw) dw[c] = Cm(s2 * is);
  coef[c] = bn_act::backward_coef<Cm>(double(mean[c]), is, w ? double(w[c]) : 1.0, b ? double(b[c]) : 0.0, s1, s2, M,
                                      training);
}

// ---- backward step 3: dx elementwise.
template <class T, class I>
__global__ void __launch_bounds__(kThreads)
    backward_apply_kernel(const T* __restrict__ dy, const T* __restrict__ x, T* __restrict__ dx,
                          const bn_act::BwdCoef<compute_t<T>>* coef, I total, I C, I S, BnActivation act,
                          compute_t<T> slope) {
  using Cm = compute_t<T>;
  const I stride = I(gridDim.x) * blockDim.x;
  for (I i = I(blockIdx.x) * blockDim.x + threadIdx.x; i < total; i += stride) {
    const bn_act::BwdCoef<Cm> k = coef[(i / S) % C];
    const Cm xv = Cm(x[i]);
    dx[i] = T(bn_act::dx_of(xv, bn_act::dz_of(act, xv, Cm(dy[i]), k, slope), k));
  }
}

// Grid-stride launch size for n elementwise items: at most 2^20 blocks.
unsigned elementwise_blocks(int64_t n) { return unsigned(std::min<int64_t>(ceil_div(n, kThreads), int64_t(1) << 20)); }

// Calls f(I{}) with I = uint32_t when every index (plus one grid stride) fits, else uint64_t.
template <class F>
void with_index_type(int64_t total, F&& f) {
  if (total < (int64_t(1) << 31))
    f(uint32_t{});
  else
    f(uint64_t{});
}


}  // namespace

size_t bn_act_workspace_size(DType dtype, int64_t N, int64_t C, int64_t S) {
  size_t bytes = 0;
  dispatch_layer_dtype(dtype, "bn_act_workspace_size",
                       [&](auto tag) { bytes = carve<decltype(tag)>(nullptr, C, make_plan(N, S)).bytes; });
  return bytes;
}

void bn_act_forward(DType dtype, const void* x, void* y, const void* weight, const void* bias, void* running_mean,
                    void* running_var, void* save_mean, void* save_invstd, int64_t N, int64_t C, int64_t S,
                    const BnActParams& p, void* workspace, size_t workspace_bytes, Stream stream) {
  const char* op = "cuda::bn_act_forward";
  if (!check_bn_act_forward_args(op, N, C, S, p, running_mean, running_var)) return;
  KILN_CHECK(C <= int64_t(0x7fffffff), op, ": C = ", C, " exceeds the grid limit 2^31 - 1");
  const Plan pl = make_plan(N, S);
  dispatch_layer_dtype(dtype, op, [&](auto tag) {
    using T = decltype(tag);
    using Cm = compute_t<T>;
    const Workspace<T> ws = carve<T>(workspace, C, pl);
    layer::check_workspace(op, workspace, workspace_bytes, ws.bytes);
    const T* xp = static_cast<const T*>(x);
    if (p.training) {
      stats_partial_kernel<T><<<dim3(unsigned(C), unsigned(pl.chunks)), kThreads, 0, stream>>>(
          xp, N, C, S, pl.rows_per_chunk, pl.lanes, ws.partial);
      KILN_CUDA_CHECK_LAUNCH("bn_act stats_partial_kernel");
    }
    forward_finalize_kernel<T><<<unsigned(ceil_div(C, 128)), 128, 0, stream>>>(
        xp, static_cast<const Cm*>(weight), static_cast<const Cm*>(bias), static_cast<Cm*>(running_mean),
        static_cast<Cm*>(running_var), static_cast<Cm*>(save_mean), static_cast<Cm*>(save_invstd), ws.partial,
        pl.chunks, C, S, double(N) * double(S), p, ws.coef);
    KILN_CUDA_CHECK_LAUNCH("bn_act forward_finalize_kernel");
    const int64_t total = N * C * S;
    if (total == 0) return;
    with_index_type(total, [&](auto itag) {
      using I = decltype(itag);
      forward_apply_kernel<T, I><<<elementwise_blocks(total), kThreads, 0, stream>>>(
          xp, static_cast<T*>(y), ws.coef, I(total), I(C), I(S), p.act, Cm(p.slope));
      KILN_CUDA_CHECK_LAUNCH("bn_act forward_apply_kernel");
    });
  });
}

void bn_act_backward(DType dtype, const void* dy, const void* x, const void* weight, const void* bias,
                     const void* save_mean, const void* save_invstd, void* dx, void* dweight, void* dbias, int64_t N,
                     int64_t C, int64_t S, const BnActParams& p, void* workspace, size_t workspace_bytes,
                     Stream stream) {
  const char* op = "cuda::bn_act_backward";
  if (!check_bn_act_backward_args(op, N, C, S, p, save_mean, save_invstd)) return;
  KILN_CHECK(C <= int64_t(0x7fffffff), op, ": C = ", C, " exceeds the grid limit 2^31 - 1");
  const Plan pl = make_plan(N, S);
  dispatch_layer_dtype(dtype, op, [&](auto tag) {
    using T = decltype(tag);
    using Cm = compute_t<T>;
    const Workspace<T> ws = carve<T>(workspace, C, pl);
    layer::check_workspace(op, workspace, workspace_bytes, ws.bytes);
    const T* xp = static_cast<const T*>(x);
    const T* gp = static_cast<const T*>(dy);
    const Cm* w = static_cast<const Cm*>(weight);
    const Cm* b = static_cast<const Cm*>(bias);
    const Cm* mean = static_cast<const Cm*>(save_mean);
    const Cm* invstd = static_cast<const Cm*>(save_invstd);
    if (pl.chunks > 0) {
      backward_partial_kernel<T><<<dim3(unsigned(C), unsigned(pl.chunks)), kThreads, 0, stream>>>(
          gp, xp, w, b, mean, invstd, N, C, S, pl.rows_per_chunk, pl.lanes, p.act, Cm(p.slope), p.training, ws.partial);
      KILN_CUDA_CHECK_LAUNCH("bn_act backward_partial_kernel");
    }
    backward_finalize_kernel<Cm><<<unsigned(ceil_div(C, 128)), 128, 0, stream>>>(
        w, b, mean, invstd, static_cast<Cm*>(dweight), static_cast<Cm*>(dbias), ws.partial, pl.chunks, C,
        double(N) * double(S), p.training, ws.coef);
    KILN_CUDA_CHECK_LAUNCH("bn_act backward_finalize_kernel");
    const int64_t total = N * C * S;
    if (!dx || total == 0) return;
    with_index_type(total, [&](auto itag) {
      using I = decltype(itag);
      backward_apply_kernel<T, I><<<elementwise_blocks(total), kThreads, 0, stream>>>(
          gp, xp, static_cast<T*>(dx), ws.coef, I(total), I(C), I(S), p.act, Cm(p.slope));
      KILN_CUDA_CHECK_LAUNCH("bn_act backward_apply_kernel");
    });
  });
}

}  // namespace kiln::cuda
