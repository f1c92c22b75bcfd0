#pragma once
// Device helpers of the fused layer kernels (bn_act, lstm_cell, cross_entropy, embedding
// backward): deterministic block reductions and workspace carving. Include from .cu files only.
//
// Note [Deterministic block reduction]
// A block reduces with a fixed tree: each warp folds its 32 values with __shfl_down_sync (offsets
// 16, 8, 4, 2, 1), warp results go through shared memory and warp 0 folds them the same way.
// The tree depends only on blockDim.x, which the launchers derive from the problem sizes alone,
// so the same inputs give bit-identical results on every run and every GPU. No float atomics.
// blockDim.x must be a multiple of 32 (at most 1024) and every thread of the block must call.
#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

#include "kiln/kernels/error.h"

namespace kiln::cuda::layer {

struct SumOp {
  template <class V>
  __device__ __forceinline__ V operator()(V a, V b) const {
    return a + b;
  }
};
struct MaxOp {
  // NaN-propagating: the result is NaN when either operand is.
  template <class V>
  __device__ __forceinline__ V operator()(V a, V b) const {
    return (a != a || a > b) ? a : b;
  }
};

template <class V, class Op>
__device__ __forceinline__ V warp_reduce(V v, Op op) {
  for (int off = 16; off > 0; off >>= 1) v = op(v, __shfl_down_sync(0xffffffffu, v, off));
  return v;
}

// Reduces v over the block (Note [Deterministic block reduction]) and returns the result to every
// thread. `scratch` holds at least 32 values of V in shared memory; it may be reused after return.
template <class V, class Op>
__device__ __forceinline__ V block_reduce(V v, Op op, V identity, V* scratch) {
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nwarps = blockDim.x >> 5;
  v = warp_reduce(v, op);
  __syncthreads();  // scratch may still be read by a previous call
  if (lane == 0) scratch[warp] = v;
  __syncthreads();
  if (warp == 0) {
    V w = lane < nwarps ? scratch[lane] : identity;
    w = warp_reduce(w, op);
    if (lane == 0) scratch[0] = w;
  }
  __syncthreads();
  return scratch[0];
}

template <class V>
__device__ __forceinline__ V block_sum(V v, V* scratch) {
  return block_reduce(v, SumOp{}, V(0), scratch);
}

// Smallest power of two >= n, clamped to [lo, hi] (all powers of two).
inline int pow2_threads(int64_t n, int lo, int hi) {
  int t = lo;
  while (t < hi && t < n) t *= 2;
  return t;
}

inline int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

// Splits a caller-provided workspace (256-byte aligned, as cudaMalloc returns) into 256-byte
// aligned pieces, in order. A Carver over a null base only counts: workspace-size queries run the
// same sequence of take() calls as the kernels' launchers.
class Carver {
 public:
  explicit Carver(void* base) : base_(static_cast<unsigned char*>(base)) {}
  template <class V>
  V* take(size_t count) {
    used_ = (used_ + kAlign - 1) / kAlign * kAlign;
    V* p = base_ ? reinterpret_cast<V*>(base_ + used_) : nullptr;
    used_ += count * sizeof(V);
    return p;
  }
  size_t used() const { return (used_ + kAlign - 1) / kAlign * kAlign; }

 private:
  static constexpr size_t kAlign = 256;
  unsigned char* base_;
  size_t used_ = 0;
};

// Checks a caller's workspace against the size a query returned.
inline void check_workspace(const char* op, const void* ws, size_t have, size_t need) {
  KILN_CHECK(have >= need, op, ": workspace of ", have, " bytes is too small, ", need, " needed");
  KILN_CHECK(need == 0 || ws != nullptr, op, ": workspace is null but ", need, " bytes are needed");
  KILN_CHECK(reinterpret_cast<uintptr_t>(ws) % 256 == 0, op, ": workspace must be 256-byte aligned");
}

}  // namespace kiln::cuda::layer
