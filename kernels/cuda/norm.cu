// Layer norm and group norm on CUDA, and the batch norm entry points (over bn_act.cu).
//
// Forward (both norms): one block per row of L contiguous values (a layer-norm row, or one
// (sample, group) of group norm). The block accumulates the shifted sums s1 = sum(x - K) and
// s2 = sum((x - K)^2), K = the row's first value, as the CPU does (Note [Deterministic norm
// statistics] in kernels/cpu/vec/norm.cpp): each thread adds its strided values in order, then the
// fixed block tree combines them; the same block then normalises the row, whose values are by then
// in L2. The block size depends on L only, so results do not depend on the launch. Few long rows
// are split over several blocks instead (Note [Few long rows]).
//
// Backward: layer norm's dx is again one block per row (two reductions, then the write); dw / db
// are column sums over the rows: blocks of 256 columns x a fixed chunk of rows write partials
// [chunk, N], and one thread per column adds its chunks in order. Group norm's backward reduces
// each (sample, channel) row of S values with one block, forms per (sample, group) coefficients in
// one thread per group (channels in order), applies dx elementwise, and sums dw / db per channel
// over the samples in order.
#include <cuda_runtime.h>

#include <algorithm>

#include "kiln/kernels/cuda/allocator.h"
#include "kiln/kernels/cuda/bn_act.h"
#include "kiln/kernels/cuda/check.h"
#include "kiln/kernels/cuda/layer_reduce.cuh"
#include "kiln/kernels/cuda/norm.h"
#include "kiln/kernels/layer_dtype.h"

namespace kiln::cuda {
namespace {

using layer::ceil_div;

constexpr int kThreads = 256;        // elementwise and column kernels
constexpr int kMaxRowThreads = 512;  // row kernels: the smallest power of two >= L, in [32, 512]
constexpr int64_t kMaxGrid = int64_t(1) << 20;
constexpr int64_t kMinChunkRows = 32;  // layer norm dw / db: rows per partial, at least
constexpr int64_t kMaxChunks = 256;    // and at most this many partials per column

__device__ __forceinline__ int64_t first_item() { return int64_t(blockIdx.x) * blockDim.x + threadIdx.x; }
__device__ __forceinline__ int64_t item_step() { return int64_t(gridDim.x) * blockDim.x; }

int row_threads(int64_t L) { return layer::pow2_threads(L, 32, kMaxRowThreads); }
unsigned row_blocks(int64_t rows) { return unsigned(std::min(rows, kMaxGrid)); }
unsigned item_blocks(int64_t n) { return unsigned(std::min(ceil_div(n, kThreads), kMaxGrid)); }

template <class Cm>
__device__ __forceinline__ Cm reciprocal_sqrt(Cm v) {
  return Cm(1) / sqrt(v);
}

// Shifted sums s1 = sum(x - K), s2 = sum((x - K)^2) over xr[i0, i1) by the whole block; every
// thread gets them.
template <class T>
__device__ __forceinline__ void block_shifted_sums(const T* __restrict__ xr, int64_t i0, int64_t i1, compute_t<T> K,
                                                   compute_t<T>* scratch, compute_t<T>& s1, compute_t<T>& s2) {
  using Cm = compute_t<T>;
  Cm a = Cm(0), q = Cm(0);
  for (int64_t i = i0 + threadIdx.x; i < i1; i += blockDim.x) {
    const Cm d = Cm(xr[i]) - K;
    a += d;
    q += d * d;
  }
  s1 = layer::block_sum(a, scratch);
  s2 = layer::block_sum(q, scratch);
}

// Mean and rstd of a row of L values from its shifted sums (as the CPU kernels).
template <class Cm>
__device__ __forceinline__ void stats_from_sums(Cm K, Cm s1, Cm s2, int64_t L, Cm eps, Cm& mu, Cm& rs) {
  const Cm m1 = L > 0 ? s1 / Cm(L) : Cm(0);
  mu = K + m1;
  Cm var = L > 0 ? s2 / Cm(L) - m1 * m1 : Cm(0);
  var = Cm(0) < var ? var : Cm(0);  // the CPU's std::max(0, var), NaN included
  rs = reciprocal_sqrt(var + eps);
}

// One output value of position j of a row (see norm_forward_kernel for kGroup).
template <class Cm, bool kGroup>
__device__ __forceinline__ Cm norm_value(Cm xv, Cm mu, Cm rs, const Cm* __restrict__ w, const Cm* __restrict__ b,
                                         int64_t j, int64_t c0, int64_t S) {
  if constexpr (kGroup) {
    const int64_t c = c0 + j / S;
    const Cm scale = rs * (w ? w[c] : Cm(1));
    const Cm shift = (b ? b[c] : Cm(0)) - mu * scale;
    return xv * scale + shift;
  } else {
    Cm v = (xv - mu) * rs;
    if (w) v = v * w[j];
    if (b) v = v + b[j];
    return v;
  }
}

// kGroup = false: layer norm rows (w, b indexed by the position in the row).
// kGroup = true: group norm rows of Dg channels x S values (w, b indexed by channel).
template <class T, bool kGroup>
__global__ void norm_forward_kernel(const T* __restrict__ x, const compute_t<T>* __restrict__ w,
                                    const compute_t<T>* __restrict__ b, T* __restrict__ y, compute_t<T>* __restrict__ mean,
                                    compute_t<T>* __restrict__ rstd, int64_t rows, int64_t L, int64_t S, int64_t G,
                                    int64_t Dg, compute_t<T> eps) {
  using Cm = compute_t<T>;
  __shared__ Cm scratch[32];
  for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {  // uniform over the block
    const T* xr = x + r * L;
    T* yr = y + r * L;
    const Cm K = L > 0 ? Cm(xr[0]) : Cm(0);
    Cm s1, s2, mu, rs;
    block_shifted_sums(xr, 0, L, K, scratch, s1, s2);
    stats_from_sums(K, s1, s2, L, eps, mu, rs);
    if (threadIdx.x == 0) {
      mean[r] = mu;
      rstd[r] = rs;
    }
    const int64_t c0 = kGroup ? (r % G) * Dg : 0;
    for (int64_t i = threadIdx.x; i < L; i += blockDim.x)
      yr[i] = T(norm_value<Cm, kGroup>(Cm(xr[i]), mu, rs, w, b, i, c0, S));
  }
}

// Split path (Note [Few long rows]), step 1: block (chunk, row) writes the shifted sums of its
// chunk of the row (K = the row's first value) to partial[row, chunk, 2].
template <class T>
__global__ void row_partial_kernel(const T* __restrict__ x, compute_t<T>* __restrict__ partial, int64_t L,
                                   int64_t chunk_len) {
  using Cm = compute_t<T>;
  __shared__ Cm scratch[32];
  const int64_t chunk = blockIdx.x, chunks = gridDim.x, r = blockIdx.y;
  const T* xr = x + r * L;
  const int64_t i0 = chunk * chunk_len, i1 = i0 + chunk_len < L ? i0 + chunk_len : L;
  Cm s1, s2;
  block_shifted_sums(xr, i0, i1, Cm(xr[0]), scratch, s1, s2);
  if (threadIdx.x == 0) {
    partial[(r * chunks + chunk) * 2] = s1;
    partial[(r * chunks + chunk) * 2 + 1] = s2;
  }
}

// Split path, step 2: one thread per row adds its chunks' sums in order.
template <class T>
__global__ void __launch_bounds__(kThreads)
    row_finalize_kernel(const T* __restrict__ x, const compute_t<T>* __restrict__ partial,
                        compute_t<T>* __restrict__ mean, compute_t<T>* __restrict__ rstd, int64_t rows, int64_t L,
                        int64_t chunks, compute_t<T> eps) {
  using Cm = compute_t<T>;
  for (int64_t r = first_item(); r < rows; r += item_step()) {
    Cm s1 = Cm(0), s2 = Cm(0);
    for (int64_t k = 0; k < chunks; ++k) {
      s1 += partial[(r * chunks + k) * 2];
      s2 += partial[(r * chunks + k) * 2 + 1];
    }
    Cm mu, rs;
    stats_from_sums(Cm(x[r * L]), s1, s2, L, eps, mu, rs);
    mean[r] = mu;
    rstd[r] = rs;
  }
}

// Split path, step 3: the outputs, elementwise over rows * L values.
template <class T, bool kGroup>
__global__ void __launch_bounds__(kThreads)
    norm_apply_kernel(const T* __restrict__ x, const compute_t<T>* __restrict__ w, const compute_t<T>* __restrict__ b,
                      T* __restrict__ y, const compute_t<T>* __restrict__ mean, const compute_t<T>* __restrict__ rstd,
                      int64_t total, int64_t L, int64_t S, int64_t G, int64_t Dg) {
  using Cm = compute_t<T>;
  for (int64_t i = first_item(); i < total; i += item_step()) {
    const int64_t r = i / L, j = i % L;
    const int64_t c0 = kGroup ? (r % G) * Dg : 0;
    y[i] = T(norm_value<Cm, kGroup>(Cm(x[i]), mean[r], rstd[r], w, b, j, c0, S));
  }
}

// Layer norm dx, one block per row: g = dy * w, dx = rs * (g - mean(g) - (x - mu) * rs^2 * mean(g (x - mu))).
template <class T>
__global__ void layer_norm_dx_kernel(const T* __restrict__ dy, const T* __restrict__ x,
                                     const compute_t<T>* __restrict__ mean, const compute_t<T>* __restrict__ rstd,
                                     const compute_t<T>* __restrict__ w, T* __restrict__ dx, int64_t M, int64_t N) {
  using Cm = compute_t<T>;
  __shared__ Cm scratch[32];
  for (int64_t r = blockIdx.x; r < M; r += gridDim.x) {
    const T* gr = dy + r * N;
    const T* xr = x + r * N;
    const Cm mu = mean[r], rs = rstd[r];
    Cm a = Cm(0), q = Cm(0);
    for (int64_t i = threadIdx.x; i < N; i += blockDim.x) {
      const Cm g = w ? Cm(gr[i]) * w[i] : Cm(gr[i]);
      a += g;
      q += g * (Cm(xr[i]) - mu);
    }
    const Cm sg = layer::block_sum(a, scratch);
    const Cm sgx = layer::block_sum(q, scratch);
    const Cm ca = sg / Cm(N), cb = sgx * rs * rs / Cm(N);
    T* o = dx + r * N;
    for (int64_t i = threadIdx.x; i < N; i += blockDim.x) {
      const Cm g = w ? Cm(gr[i]) * w[i] : Cm(gr[i]);
      o[i] = T(rs * (g - ca - (Cm(xr[i]) - mu) * cb));
    }
  }
}

// Layer norm dw / db partials: block (column block, chunk); each thread one column over the
// chunk's rows in order.
template <class T>
__global__ void __launch_bounds__(kThreads)
    layer_norm_param_partial_kernel(const T* __restrict__ dy, const T* __restrict__ x,
                                    const compute_t<T>* __restrict__ mean, const compute_t<T>* __restrict__ rstd,
                                    compute_t<T>* __restrict__ pw, compute_t<T>* __restrict__ pb, int64_t M, int64_t N,
                                    int64_t chunk_rows) {
  using Cm = compute_t<T>;
  const int64_t col = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (col >= N) return;
  const int64_t chunk = blockIdx.y;
  const int64_t r0 = chunk * chunk_rows, r1 = r0 + chunk_rows < M ? r0 + chunk_rows : M;
  Cm sw = Cm(0), sb = Cm(0);
  for (int64_t r = r0; r < r1; ++r) {
    const Cm g = Cm(dy[r * N + col]);
    sw += g * (Cm(x[r * N + col]) - mean[r]) * rstd[r];
    sb += g;
  }
  pw[chunk * N + col] = sw;
  pb[chunk * N + col] = sb;
}

template <class Cm>
__global__ void __launch_bounds__(kThreads)
    column_combine_kernel(const Cm* __restrict__ pw, const Cm* __restrict__ pb, Cm* __restrict__ dw,
                          Cm* __restrict__ db, int64_t chunks, int64_t N) {
  for (int64_t col = first_item(); col < N; col += item_step()) {
    Cm sw = Cm(0), sb = Cm(0);
    for (int64_t k = 0; k < chunks; ++k) {
      sw += pw[k * N + col];
      sb += pb[k * N + col];
    }
    dw[col] = sw;
    db[col] = sb;
  }
}

// Group norm backward 1: per (n, c) row of S values, s1 = sum(dy), s2 = sum(dy (x - mean[n, g])).
template <class T>
__global__ void group_norm_row_sums_kernel(const T* __restrict__ dy, const T* __restrict__ x,
                                           const compute_t<T>* __restrict__ mean, compute_t<T>* __restrict__ s1,
                                           compute_t<T>* __restrict__ s2, int64_t rows, int64_t C, int64_t S,
                                           int64_t Dg) {
  using Cm = compute_t<T>;
  __shared__ Cm scratch[32];
  for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
    const int64_t n = r / C, c = r % C, G = C / Dg;
    const Cm mu = mean[n * G + c / Dg];
    const T* gr = dy + r * S;
    const T* xr = x + r * S;
    Cm a = Cm(0), q = Cm(0);
    for (int64_t i = threadIdx.x; i < S; i += blockDim.x) {
      const Cm g = Cm(gr[i]);
      a += g;
      q += g * (Cm(xr[i]) - mu);
    }
    const Cm t1 = layer::block_sum(a, scratch);
    const Cm t2 = layer::block_sum(q, scratch);
    if (threadIdx.x == 0) {
      s1[r] = t1;
      s2[r] = t2;
    }
  }
}

// Group norm backward 2: per (n, g), dx = c1[c] dy + c2 x + c3 with c1 = rstd w[c] (as the CPU).
template <class Cm>
__global__ void __launch_bounds__(kThreads)
    group_norm_coef_kernel(const Cm* __restrict__ s1, const Cm* __restrict__ s2, const Cm* __restrict__ mean,
                           const Cm* __restrict__ rstd, const Cm* __restrict__ w, Cm* __restrict__ c2,
                           Cm* __restrict__ c3, int64_t NG, int64_t C, int64_t S, int64_t G) {
  const int64_t Dg = C / G;
  for (int64_t r = first_item(); r < NG; r += item_step()) {
    const int64_t n = r / G, c0 = (r % G) * Dg;
    const Cm mu = mean[r], rs = rstd[r];
    Cm sw1 = Cm(0), sw2 = Cm(0);
    for (int64_t j = 0; j < Dg; ++j) {
      const Cm wc = w ? w[c0 + j] : Cm(1);
      sw1 += wc * s1[n * C + c0 + j];
      sw2 += wc * s2[n * C + c0 + j];
    }
    const Cm M = Cm(Dg * S);
    const Cm k2 = -rs * rs * rs * sw2 / M;
    c2[r] = k2;
    c3[r] = -k2 * mu - rs * sw1 / M;
  }
}

// Group norm backward 3: dx elementwise.
template <class T>
__global__ void __launch_bounds__(kThreads)
    group_norm_dx_kernel(const T* __restrict__ dy, const T* __restrict__ x, const compute_t<T>* __restrict__ rstd,
                         const compute_t<T>* __restrict__ w, const compute_t<T>* __restrict__ c2,
                         const compute_t<T>* __restrict__ c3, T* __restrict__ dx, int64_t total, int64_t C, int64_t S,
                         int64_t G) {
  using Cm = compute_t<T>;
  const int64_t Dg = C / G;
  for (int64_t i = first_item(); i < total; i += item_step()) {
    const int64_t row = i / S, c = row % C, n = row / C;
    const int64_t ng = n * G + c / Dg;
    const Cm c1 = rstd[ng] * (w ? w[c] : Cm(1));
    dx[i] = T(c1 * Cm(dy[i]) + c2[ng] * Cm(x[i]) + c3[ng]);
  }
}

// Group norm backward 4: dw[c] = sum_n s2[n, c] rstd[n, g], db[c] = sum_n s1[n, c], n in order.
template <class Cm>
__global__ void __launch_bounds__(kThreads)
    group_norm_param_kernel(const Cm* __restrict__ s1, const Cm* __restrict__ s2, const Cm* __restrict__ rstd,
                            Cm* __restrict__ dw, Cm* __restrict__ db, int64_t N, int64_t C, int64_t G) {
  const int64_t Dg = C / G;
  for (int64_t c = first_item(); c < C; c += item_step()) {
    Cm sw = Cm(0), sb = Cm(0);
    for (int64_t n = 0; n < N; ++n) {
      sw += s2[n * C + c] * rstd[n * G + c / Dg];
      sb += s1[n * C + c];
    }
    dw[c] = sw;
    db[c] = sb;
  }
}

// Scratch from the caching allocator, released (stream-ordered) when the scope ends: after the
// kernels that use it have been queued, or when a launch throws.
class Scratch {
 public:
  Scratch(size_t bytes, int device, Stream stream) : p_(bytes ? device_allocate(bytes, device, stream) : nullptr) {}
  ~Scratch() {
    if (p_) device_free(p_);
  }
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;
  void* get() const { return p_; }

 private:
  void* p_;
};

// Note [Few long rows]
// One block per row leaves most of the GPU idle when there are few rows and each is long (group
// norm of one image with 32 groups, layer norm over a whole sample). Then every row is cut into
// chunks of kSplitChunk values, one block per (chunk, row) writes its chunk's shifted sums, one
// thread per row adds them in chunk order, and an elementwise pass writes the outputs. The choice
// and the chunking depend on the sizes only, so results stay bit-identical from run to run.
constexpr int64_t kSplitMaxRows = 256;   // split only below this many rows
constexpr int64_t kSplitMinLen = 16384;  // and for rows at least this long
constexpr int64_t kSplitChunk = 4096;    // values per chunk (a multiple of the block size)

template <class T, bool kGroup>
void launch_norm_forward(const T* x, const compute_t<T>* w, const compute_t<T>* b, T* y, compute_t<T>* mean,
                         compute_t<T>* rstd, int64_t rows, int64_t L, int64_t S, int64_t G, int64_t Dg, double eps,
                         int device, Stream stream) {
  using Cm = compute_t<T>;
  if (rows >= kSplitMaxRows || L < kSplitMinLen) {
    norm_forward_kernel<T, kGroup><<<row_blocks(rows), row_threads(L), 0, stream>>>(x, w, b, y, mean, rstd, rows, L, S,
                                                                                     G, Dg, Cm(eps));
    KILN_CUDA_CHECK_LAUNCH("norm forward kernel");
    return;
  }
  const int64_t chunks = ceil_div(L, kSplitChunk);
  KILN_CHECK(chunks <= int64_t(0x7fffffff), "cuda norm forward: rows of ", L, " values are too long");
  Scratch partial(size_t(rows * chunks * 2) * sizeof(Cm), device, stream);
  Cm* pp = static_cast<Cm*>(partial.get());
  row_partial_kernel<T><<<dim3(unsigned(chunks), unsigned(rows)), kThreads, 0, stream>>>(x, pp, L, kSplitChunk);
  KILN_CUDA_CHECK_LAUNCH("norm row_partial_kernel");
  row_finalize_kernel<T><<<item_blocks(rows), kThreads, 0, stream>>>(x, pp, mean, rstd, rows, L, chunks, Cm(eps));
  KILN_CUDA_CHECK_LAUNCH("norm row_finalize_kernel");
  norm_apply_kernel<T, kGroup><<<item_blocks(rows * L), kThreads, 0, stream>>>(x, w, b, y, mean, rstd, rows * L, L, S,
                                                                               G, Dg);
  KILN_CUDA_CHECK_LAUNCH("norm apply kernel");
}

}  // namespace

void layer_norm_forward(DType dtype, const void* x, const void* w, const void* b, void* y, void* mean, void* rstd,
                        int64_t M, int64_t N, double eps, int device, Stream stream) {
  if (M == 0 || N == 0) return;  // as the CPU: nothing is written for empty rows
  dispatch_layer_dtype(dtype, "cuda::layer_norm_forward", [&](auto tag) {
    using T = decltype(tag);
    using Cm = compute_t<T>;
    launch_norm_forward<T, false>(static_cast<const T*>(x), static_cast<const Cm*>(w), static_cast<const Cm*>(b),
                                  static_cast<T*>(y), static_cast<Cm*>(mean), static_cast<Cm*>(rstd), M, N, 1, 1, 1,
                                  eps, device, stream);
  });
}

void layer_norm_backward(DType dtype, const void* dy, const void* x, const void* mean, const void* rstd,
                         const void* w, void* dx, void* dw, void* db, int64_t M, int64_t N, int device,
                         Stream stream) {
  if (N == 0) return;
  dispatch_layer_dtype(dtype, "cuda::layer_norm_backward", [&](auto tag) {
    using T = decltype(tag);
    using Cm = compute_t<T>;
    const T* gp = static_cast<const T*>(dy);
    const T* xp = static_cast<const T*>(x);
    const Cm* mp = static_cast<const Cm*>(mean);
    const Cm* rp = static_cast<const Cm*>(rstd);
    if (M > 0) {
      layer_norm_dx_kernel<T><<<row_blocks(M), row_threads(N), 0, stream>>>(gp, xp, mp, rp, static_cast<const Cm*>(w),
                                                                           static_cast<T*>(dx), M, N);
      KILN_CUDA_CHECK_LAUNCH("layer_norm dx kernel");
    }
    // Chunks depend on M only (Note [Deterministic block reduction]: a fixed function of sizes).
    const int64_t chunk_rows = std::max(kMinChunkRows, ceil_div(M, kMaxChunks));
    const int64_t chunks = ceil_div(M, chunk_rows);
    layer::Carver count(nullptr);
    count.take<Cm>(size_t(chunks * N));
    count.take<Cm>(size_t(chunks * N));
    Scratch scratch(chunks > 0 ? count.used() : 0, device, stream);
    layer::Carver cv(scratch.get());
    Cm* pw = cv.take<Cm>(size_t(chunks * N));
    Cm* pb = cv.take<Cm>(size_t(chunks * N));
    if (chunks > 0) {
      KILN_CHECK(ceil_div(N, kThreads) <= int64_t(0x7fffffff), "cuda::layer_norm_backward: N = ", N, " is too large");
      layer_norm_param_partial_kernel<T><<<dim3(unsigned(ceil_div(N, kThreads)), unsigned(chunks)), kThreads, 0,
                                           stream>>>(gp, xp, mp, rp, pw, pb, M, N, chunk_rows);
      KILN_CUDA_CHECK_LAUNCH("layer_norm param partial kernel");
    }
    column_combine_kernel<Cm><<<item_blocks(N), kThreads, 0, stream>>>(pw, pb, static_cast<Cm*>(dw),
                                                                       static_cast<Cm*>(db), chunks, N);
    KILN_CUDA_CHECK_LAUNCH("layer_norm column combine kernel");
  });
}

void group_norm_forward(DType dtype, const void* x, const void* w, const void* b, void* y, void* mean, void* rstd,
                        int64_t N, int64_t C, int64_t S, int64_t G, double eps, int device, Stream stream) {
  const int64_t rows = N * G, L = (C / G) * S;
  if (rows == 0) return;
  dispatch_layer_dtype(dtype, "cuda::group_norm_forward", [&](auto tag) {
    using T = decltype(tag);
    using Cm = compute_t<T>;
    // Empty rows (L == 0) still get their statistics (mean 0, rstd 1 / sqrt(eps)), as the CPU.
    launch_norm_forward<T, true>(static_cast<const T*>(x), static_cast<const Cm*>(w), static_cast<const Cm*>(b),
                                 static_cast<T*>(y), static_cast<Cm*>(mean), static_cast<Cm*>(rstd), rows, L, S, G,
                                 C / G, eps, device, stream);
  });
}

void group_norm_backward(DType dtype, const void* dy, const void* x, const void* mean, const void* rstd,
                         const void* w, void* dx, void* dw, void* db, int64_t N, int64_t C, int64_t S, int64_t G,
                         int device, Stream stream) {
  if (C == 0) return;
  dispatch_layer_dtype(dtype, "cuda::group_norm_backward", [&](auto tag) {
    using T = decltype(tag);
    using Cm = compute_t<T>;
    const T* gp = static_cast<const T*>(dy);
    const T* xp = static_cast<const T*>(x);
    const Cm* mp = static_cast<const Cm*>(mean);
    const Cm* rp = static_cast<const Cm*>(rstd);
    const Cm* wp = static_cast<const Cm*>(w);
    const int64_t NC = N * C, NG = N * G;
    layer::Carver count(nullptr);
    count.take<Cm>(size_t(NC));
    count.take<Cm>(size_t(NC));
    count.take<Cm>(size_t(NG));
    count.take<Cm>(size_t(NG));
    Scratch scratch(NC > 0 ? count.used() : 0, device, stream);
    layer::Carver cv(scratch.get());
    Cm* s1 = cv.take<Cm>(size_t(NC));
    Cm* s2 = cv.take<Cm>(size_t(NC));
    Cm* c2 = cv.take<Cm>(size_t(NG));
    Cm* c3 = cv.take<Cm>(size_t(NG));
    if (NC > 0) {
      group_norm_row_sums_kernel<T><<<row_blocks(NC), row_threads(S), 0, stream>>>(gp, xp, mp, s1, s2, NC, C, S,
                                                                                   C / G);
      KILN_CUDA_CHECK_LAUNCH("group_norm row sums kernel");
      group_norm_coef_kernel<Cm><<<item_blocks(NG), kThreads, 0, stream>>>(s1, s2, mp, rp, wp, c2, c3, NG, C, S, G);
      KILN_CUDA_CHECK_LAUNCH("group_norm coefficient kernel");
      const int64_t total = NC * S;
      if (total > 0) {
        group_norm_dx_kernel<T><<<item_blocks(total), kThreads, 0, stream>>>(gp, xp, rp, wp, c2, c3,
                                                                             static_cast<T*>(dx), total, C, S, G);
        KILN_CUDA_CHECK_LAUNCH("group_norm dx kernel");
      }
    }
    group_norm_param_kernel<Cm><<<item_blocks(C), kThreads, 0, stream>>>(s1, s2, rp, static_cast<Cm*>(dw),
                                                                         static_cast<Cm*>(db), N, C, G);
    KILN_CUDA_CHECK_LAUNCH("group_norm param kernel");
  });
}

void batch_norm_forward(DType dtype, const void* x, void* y, const void* w, const void* b, void* running_mean,
                        void* running_var, void* save_mean, void* save_invstd, int64_t N, int64_t C, int64_t S,
                        bool training, double momentum, double eps, BnActivation act, double slope, int device,
                        Stream stream) {
  BnActParams p;
  p.act = act;
  p.slope = slope;
  p.training = training;
  p.momentum = momentum;
  p.eps = eps;
  if (C == 0) return;
  const size_t bytes = bn_act_workspace_size(dtype, N, C, S);
  Scratch ws(bytes, device, stream);
  bn_act_forward(dtype, x, y, w, b, running_mean, running_var, save_mean, save_invstd, N, C, S, p, ws.get(), bytes,
                 stream);
}

void batch_norm_backward(DType dtype, const void* dy, const void* x, const void* w, const void* b,
                         const void* save_mean, const void* save_invstd, void* dx, void* dw, void* db, int64_t N,
                         int64_t C, int64_t S, bool training, BnActivation act, double slope, int device,
                         Stream stream) {
  BnActParams p;
  p.act = act;
  p.slope = slope;
  p.training = training;
  if (C == 0) return;
  const size_t bytes = bn_act_workspace_size(dtype, N, C, S);
  Scratch ws(bytes, device, stream);
  bn_act_backward(dtype, dy, x, w, b, save_mean, save_invstd, dx, dw, db, N, C, S, p, ws.get(), bytes, stream);
}

}  // namespace kiln::cuda
