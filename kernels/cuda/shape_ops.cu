// CUDA kernels of flip, tril / triu and index-mapped pad. One thread per output element, in
// output order, so writes are coalesced; reads follow the (flipped / mapped) input. Elements are
// moved as unsigned integers of their byte size: a copy or a zero needs no arithmetic, so one
// instantiation per size serves every dtype. Grid-stride loops, int64 indices.
#include <algorithm>

#include "kiln/kernels/cuda/check.h"
#include "kiln/kernels/cuda/shape_ops.h"
#include "kiln/kernels/error.h"

namespace kiln::cuda {
namespace {

constexpr int kThreads = 256;
constexpr int64_t kMaxBlocks = 1 << 20;  // grid-stride beyond this

int blocks_for(int64_t n) { return int(std::min<int64_t>((n + kThreads - 1) / kThreads, kMaxBlocks)); }

template <class F>
void dispatch_size(int64_t elem_size, const char* op, F&& f) {
  switch (elem_size) {
    case 1: return f(uint8_t{});
    case 2: return f(uint16_t{});
    case 4: return f(uint32_t{});
    case 8: return f(uint64_t{});
    default: KILN_CHECK(false, op, ": unsupported element size ", elem_size);
  }
}

template <class U>
__global__ void __launch_bounds__(kThreads) flip_copy_kernel(Loop loop, int64_t total, U* __restrict__ out,
                                                             const U* __restrict__ in) {
  for (int64_t i = int64_t(blockIdx.x) * kThreads + threadIdx.x; i < total; i += int64_t(gridDim.x) * kThreads) {
    int64_t rem = i, o = 0, s = 0;
    for (int d = loop.ndim - 1; d >= 0; --d) {
      const int64_t c = rem % loop.sizes[d];
      rem /= loop.sizes[d];
      o += c * loop.strides[0][d];
      s += c * loop.strides[1][d];
    }
    out[o] = in[s];
  }
}

template <class U>
__global__ void __launch_bounds__(kThreads)
    triangle_zero_kernel(U* __restrict__ data, int64_t total, int64_t M, int64_t N, int64_t k, bool lower) {
  for (int64_t idx = int64_t(blockIdx.x) * kThreads + threadIdx.x; idx < total; idx += int64_t(gridDim.x) * kThreads) {
    const int64_t j = idx % N, i = (idx / N) % M;
    const bool zero = lower ? (j - i > k) : (j - i < k);
    if (zero) data[idx] = U(0);
  }
}

struct PadDims {
  int k;
  int64_t in[kMaxDims], out[kMaxDims], before[kMaxDims];
};

template <class U>
__global__ void __launch_bounds__(kThreads) pad_mapped_kernel(const U* __restrict__ in, U* __restrict__ out,
                                                              int64_t total, PadDims p, PadIndexMode mode) {
  for (int64_t i = int64_t(blockIdx.x) * kThreads + threadIdx.x; i < total; i += int64_t(gridDim.x) * kThreads) {
    int64_t rem = i, src = 0, in_stride = 1;
    for (int d = p.k - 1; d >= 0; --d) {
      const int64_t c = rem % p.out[d];
      rem /= p.out[d];
      src += pad_source_index(mode, c, p.before[d], p.in[d]) * in_stride;
      in_stride *= p.in[d];
    }
    out[i] = in[rem * in_stride + src];  // rem is now the outer index, in_stride the input plane
  }
}

}  // namespace

void flip_copy(const Loop& loop, int64_t elem_size, void* out, const void* in, Stream stream) {
  const int64_t total = loop.numel();
  if (total == 0) return;
  KILN_CHECK(loop.nops >= 2 && loop.ndim <= kMaxDims, "cuda::flip_copy: bad loop (", loop.nops, " operands, ",
             loop.ndim, " dims)");
  dispatch_size(elem_size, "cuda::flip_copy", [&](auto tag) {
    using U = decltype(tag);
    flip_copy_kernel<U><<<blocks_for(total), kThreads, 0, stream>>>(loop, total, static_cast<U*>(out),
                                                                    static_cast<const U*>(in));
    KILN_CUDA_CHECK_LAUNCH("flip_copy_kernel");
  });
}

void triangle_zero(int64_t elem_size, void* data, int64_t batch, int64_t M, int64_t N, int64_t k, bool lower,
                   Stream stream) {
  const int64_t total = batch * M * N;
  if (total == 0) return;
  dispatch_size(elem_size, "cuda::triangle_zero", [&](auto tag) {
    using U = decltype(tag);
    triangle_zero_kernel<U><<<blocks_for(total), kThreads, 0, stream>>>(static_cast<U*>(data), total, M, N, k, lower);
    KILN_CUDA_CHECK_LAUNCH("triangle_zero_kernel");
  });
}

void pad_mapped(int64_t elem_size, const void* in, void* out, int64_t outer, int k, const int64_t* in_sizes,
                const int64_t* out_sizes, const int64_t* before, PadIndexMode mode, Stream stream) {
  const char* op = "cuda::pad_mapped";
  KILN_CHECK(k >= 1 && k <= kMaxDims, op, ": ", k, " padded dims, expected 1 to ", kMaxDims);
  PadDims p{};
  p.k = k;
  int64_t total = outer;
  for (int d = 0; d < k; ++d) {
    KILN_CHECK(in_sizes[d] > 0 || out_sizes[d] == 0, op, ": dim ", d, " of size 0 cannot be padded");
    p.in[d] = in_sizes[d];
    p.out[d] = out_sizes[d];
    p.before[d] = before[d];
    total *= out_sizes[d];
  }
  if (total == 0) return;
  dispatch_size(elem_size, op, [&](auto tag) {
    using U = decltype(tag);
    pad_mapped_kernel<U><<<blocks_for(total), kThreads, 0, stream>>>(static_cast<const U*>(in), static_cast<U*>(out),
                                                                     total, p, mode);
    KILN_CUDA_CHECK_LAUNCH("pad_mapped_kernel");
  });
}

}  // namespace kiln::cuda
