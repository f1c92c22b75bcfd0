// Fused log-softmax + NLL on CUDA. One block per row: the row is read twice (max, then the sums of
// exponentials and of q (x - max)); shifting by the max before the weighted sum keeps the loss
// free of the cancellation of Q lse - sum q x. Rows are at most a few hundred kB, so the second
// read mostly hits L2. The block size follows C (32 to 512 threads) so that small class counts do
// not leave most threads idle.
#include <cuda_runtime.h>

#include <cmath>

#include "kiln/kernels/cuda/check.h"
#include "kiln/kernels/cuda/cross_entropy.h"
#include "kiln/kernels/cuda/layer_reduce.cuh"
#include "kiln/kernels/layer_dtype.h"
#include "kiln/kernels/scalar_ops.h"

namespace kiln::cuda {
namespace {

constexpr int kMaxRowThreads = 512;
constexpr int kReduceThreads = 1024;

int row_threads(int64_t C) { return layer::pow2_threads(C, 32, kMaxRowThreads); }

template <class T>
struct Workspace {
  compute_t<T>* row_loss = nullptr;  // [N]
  compute_t<T>* row_w = nullptr;     // [N] weight of each row's target (0 when ignored)
  size_t bytes = 0;
};

template <class T>
Workspace<T> carve(void* base, int64_t N) {
  layer::Carver cv(base);
  Workspace<T> w;
  w.row_loss = cv.take<compute_t<T>>(size_t(N));
  w.row_w = cv.take<compute_t<T>>(size_t(N));
  w.bytes = cv.used();
  return w;
}

template <class T>
__global__ void __launch_bounds__(kMaxRowThreads)
    forward_rows_kernel(const T* __restrict__ x, const int64_t* __restrict__ target, const compute_t<T>* w, int64_t C,
                        int64_t ignore_index, compute_t<T> eps, compute_t<T> eps_c, compute_t<T>* __restrict__ lse,
                        T* __restrict__ loss_none, compute_t<T>* __restrict__ row_loss,
                        compute_t<T>* __restrict__ row_w) {
  using Cm = compute_t<T>;
  __shared__ Cm scratch[32];
  const int64_t i = blockIdx.x;
  const T* xr = x + i * C;
  const int64_t t = target[i];
  const bool ignored = t == ignore_index;
  const bool valid = ignored || (t >= 0 && t < C);
  const bool weighted = valid && !ignored;
  Cm m = Cm(-INFINITY);
  for (int64_t c = threadIdx.x; c < C; c += blockDim.x) m = layer::MaxOp{}(m, Cm(xr[c]));
  m = layer::block_reduce(m, layer::MaxOp{}, Cm(-INFINITY), scratch);
  Cm se = 0, qx = 0, qs = 0;
  for (int64_t c = threadIdx.x; c < C; c += blockDim.x) {
    const Cm v = Cm(xr[c]) - m;
    se += ops::m_exp(v);
    if (weighted) {
      const Cm q = cross_entropy::class_coef(c, t, w ? w[c] : Cm(1), eps, eps_c);
      if (q != Cm(0)) qx += q * v;
      qs += q;
    }
  }
  se = layer::block_sum(se, scratch);
  qx = layer::block_sum(qx, scratch);
  qs = layer::block_sum(qs, scratch);
  if (threadIdx.x == 0) {
    const Cm log_se = log(se);
    const Cm l = !valid ? Cm(NAN) : ignored ? Cm(0) : cross_entropy::row_loss(log_se, qs, qx);
    if (lse) lse[i] = m + log_se;
    if (loss_none) loss_none[i] = T(l);
    row_loss[i] = l;
    row_w[i] = !valid ? Cm(NAN) : ignored ? Cm(0) : (w ? w[t] : Cm(1));
  }
}

// Sum (and the weight sum) over the N rows in one block, f64 accumulation.
template <class T>
__global__ void __launch_bounds__(kReduceThreads)
    reduce_rows_kernel(const compute_t<T>* __restrict__ row_loss, const compute_t<T>* __restrict__ row_w, int64_t N,
                       CeReduction reduction, T* __restrict__ loss, compute_t<T>* __restrict__ denom) {
  using Cm = compute_t<T>;
  __shared__ double scratch[32];
  double s = 0, ws = 0;
  for (int64_t i = threadIdx.x; i < N; i += blockDim.x) {
    s += double(row_loss[i]);
    ws += double(row_w[i]);
  }
  s = layer::block_sum(s, scratch);
  ws = layer::block_sum(ws, scratch);
  if (threadIdx.x == 0) {
    if (denom) denom[0] = Cm(ws);
    if (reduction == CeReduction::sum) loss[0] = T(Cm(s));
    if (reduction == CeReduction::mean) loss[0] = T(Cm(s / ws));
  }
}

template <class T>
__global__ void __launch_bounds__(kMaxRowThreads)
    backward_rows_kernel(const T* __restrict__ dloss, const T* __restrict__ x, const int64_t* __restrict__ target,
                         const compute_t<T>* w, const compute_t<T>* __restrict__ lse,
                         const compute_t<T>* __restrict__ denom, int64_t C, int64_t ignore_index, compute_t<T> eps,
                         compute_t<T> eps_c, CeReduction reduction, T* __restrict__ dx) {
  using Cm = compute_t<T>;
  __shared__ Cm scratch[32];
  const int64_t i = blockIdx.x;
  const T* xr = x + i * C;
  T* dr = dx + i * C;
  const int64_t t = target[i];
  // Both early exits are uniform over the block (they depend on the row only), so no thread
  // skips a barrier that others wait at.
  if (t == ignore_index) {
    for (int64_t c = threadIdx.x; c < C; c += blockDim.x) dr[c] = T(Cm(0));
    return;
  }
  if (t < 0 || t >= C) {
    for (int64_t c = threadIdx.x; c < C; c += blockDim.x) dr[c] = T(Cm(NAN));
    return;
  }
  const Cm g = reduction == CeReduction::none  ? Cm(dloss[i])
               : reduction == CeReduction::sum ? Cm(dloss[0])
                                               : Cm(dloss[0]) / denom[0];
  Cm qs;
  if (eps == Cm(0)) {
    qs = w ? w[t] : Cm(1);  // the only non-zero q is the target's
  } else {
    Cm acc = 0;
    for (int64_t c = threadIdx.x; c < C; c += blockDim.x)
      acc += cross_entropy::class_coef(c, t, w ? w[c] : Cm(1), eps, eps_c);
    qs = layer::block_sum(acc, scratch);
  }
  const Cm l = lse[i];
  for (int64_t c = threadIdx.x; c < C; c += blockDim.x) {
    const Cm q = cross_entropy::class_coef(c, t, w ? w[c] : Cm(1), eps, eps_c);
    dr[c] = T(cross_entropy::logit_grad(g, ops::m_exp(Cm(xr[c]) - l), qs, q));
  }
}

void check_args(const char* op, int64_t N, int64_t C, const CrossEntropyParams& p) {
  KILN_CHECK(N >= 0 && C >= 1, op, ": need N >= 0 rows of C >= 1 classes, got N=", N, " C=", C);
  KILN_CHECK(N <= int64_t(0x7fffffff), op, ": N = ", N, " rows exceed the grid limit 2^31 - 1");
  KILN_CHECK(p.label_smoothing >= 0 && p.label_smoothing <= 1, op, ": label_smoothing must be in [0, 1], got ",
             p.label_smoothing);
  KILN_CHECK(p.reduction == CeReduction::none || p.reduction == CeReduction::sum || p.reduction == CeReduction::mean,
             op, ": unknown reduction code ", int(p.reduction));
}

}  // namespace

size_t cross_entropy_workspace_size(DType dtype, int64_t N) {
  size_t bytes = 0;
  dispatch_layer_dtype(dtype, "cuda::cross_entropy_workspace_size",
                       [&](auto tag) { bytes = carve<decltype(tag)>(nullptr, N).bytes; });
  return bytes;
}

void cross_entropy_forward(DType dtype, const void* logits, const int64_t* target, const void* weight, int64_t N,
                           int64_t C, const CrossEntropyParams& p, void* loss, void* lse, void* denom, void* workspace,
                           size_t workspace_bytes, Stream stream) {
  const char* op = "cuda::cross_entropy_forward";
  check_args(op, N, C, p);
  dispatch_layer_dtype(dtype, op, [&](auto tag) {
    using T = decltype(tag);
    using Cm = compute_t<T>;
    const Workspace<T> ws = carve<T>(workspace, N);
    layer::check_workspace(op, workspace, workspace_bytes, ws.bytes);
    const bool none = p.reduction == CeReduction::none;
    if (N > 0) {
      forward_rows_kernel<T><<<unsigned(N), row_threads(C), 0, stream>>>(
          static_cast<const T*>(logits), target, static_cast<const Cm*>(weight), C, p.ignore_index,
          Cm(p.label_smoothing), Cm(p.label_smoothing / double(C)), static_cast<Cm*>(lse),
          none ? static_cast<T*>(loss) : nullptr, ws.row_loss, ws.row_w);
      KILN_CUDA_CHECK_LAUNCH("cross_entropy forward_rows_kernel");
    }
    if (!none || denom) {
      reduce_rows_kernel<T><<<1, kReduceThreads, 0, stream>>>(ws.row_loss, ws.row_w, N, p.reduction,
                                                              static_cast<T*>(loss), static_cast<Cm*>(denom));
      KILN_CUDA_CHECK_LAUNCH("cross_entropy reduce_rows_kernel");
    }
  });
}

void cross_entropy_backward(DType dtype, const void* dloss, const void* logits, const int64_t* target,
                            const void* weight, const void* lse, const void* denom, int64_t N, int64_t C,
                            const CrossEntropyParams& p, void* dlogits, Stream stream) {
  const char* op = "cuda::cross_entropy_backward";
  check_args(op, N, C, p);
  KILN_CHECK(N == 0 || lse != nullptr, op, ": lse (from the forward) is required");
  KILN_CHECK(p.reduction != CeReduction::mean || denom != nullptr, op, ": reduction mean needs denom");
  if (N == 0) return;
  dispatch_layer_dtype(dtype, op, [&](auto tag) {
    using T = decltype(tag);
    using Cm = compute_t<T>;
    backward_rows_kernel<T><<<unsigned(N), row_threads(C), 0, stream>>>(
        static_cast<const T*>(dloss), static_cast<const T*>(logits), target, static_cast<const Cm*>(weight),
        static_cast<const Cm*>(lse), static_cast<const Cm*>(denom), C, p.ignore_index, Cm(p.label_smoothing),
        Cm(p.label_smoothing / double(C)), p.reduction, static_cast<T*>(dlogits));
    KILN_CUDA_CHECK_LAUNCH("cross_entropy backward_rows_kernel");
  });
}

}  // namespace kiln::cuda
