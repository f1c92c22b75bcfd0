#pragma once
// Launch machinery shared by unary.cu, binary.cu and where.cu (CUDA only; include from .cu files).
//
// Note [CUDA elementwise loops]
// Every op gets exactly two kernels per dtype, to keep compile time and binary size down:
// - contiguous: the Loop is one dimension (the tensor layer coalesces contiguous tensors to
//   ndim == 1) with stride 1 for the output and each input, or 0 for a broadcast input / host
//   scalar. Threads handle V = 16 / sizeof(T) elements each with one 16-byte load per input and
//   one store (V * sizeof(O) bytes) for the output, in a grid-stride loop; the n % V last elements
//   are done one by one. Used only when every stride-1 pointer is aligned to its pack size; a
//   misaligned view (e.g. starting at element 1) goes to the strided kernel instead.
// - strided: one thread per element (grid-stride), the N-d index peeled into per-operand offsets
//   from the innermost dimension outwards. The outermost index needs no division, so a 1-d
//   strided or misaligned loop costs one multiply per operand. Offsets are int64; the divisions
//   are done in 32 bits when numel < 2^32 (far cheaper than 64-bit division on the GPU).
// The grid is capped (kMaxBlocks) and the loops are grid-stride, so any n works. Nothing
// synchronises: launches are queued on the caller's stream and checked with KILN_CUDA_CHECK_LAUNCH.
// Pointers carry no __restrict__: in-place ops pass out == in.
#include <cuda_runtime.h>

#include <cstdint>
#include <type_traits>

#include "kiln/kernels/cuda/check.h"
#include "kiln/kernels/cuda/stream.h"
#include "kiln/kernels/dtype.h"
#include "kiln/kernels/error.h"
#include "kiln/kernels/loop.h"

namespace kiln::cuda::ew {

constexpr int kThreads = 256;
constexpr int64_t kMaxBlocks = 65536;

template <class T, int V>
struct alignas(sizeof(T) * V) Pack {
  T v[V];
};

// Elements per thread of the contiguous kernel for element type T (16-byte loads).
template <class T>
constexpr int vec_width() {
  return 16 / int(sizeof(T)) > 0 ? 16 / int(sizeof(T)) : 1;
}

inline int64_t grid_for(int64_t work) {
  int64_t b = (work + kThreads - 1) / kThreads;
  return b < 1 ? 1 : (b > kMaxBlocks ? kMaxBlocks : b);
}

inline bool aligned_to(const void* p, int64_t bytes) { return reinterpret_cast<uintptr_t>(p) % uintptr_t(bytes) == 0; }

// True when the loop is one contiguous run: ndim <= 1, the output stride is 1 and every input
// stride (operands 1..nops-1) is 1 or 0.
inline bool is_contiguous_loop(const Loop& loop, int nops) {
  if (loop.ndim == 0) return true;
  if (loop.ndim != 1 || loop.strides[0][0] != 1) return false;
  for (int k = 1; k < nops; ++k)
    if (loop.strides[k][0] != 1 && loop.strides[k][0] != 0) return false;
  return true;
}

// Element offsets of the N operands at linear index i (row-major over loop.sizes).
template <int N>
__device__ __forceinline__ void strided_offsets(const Loop& L, int64_t i, bool small, int64_t (&off)[N]) {
#pragma unroll
  for (int k = 0; k < N; ++k) off[k] = 0;
#pragma unroll
  for (int d = kMaxDims - 1; d >= 1; --d) {
    if (d < L.ndim) {
      int64_t q, r;
      if (small) {
        const uint32_t s = uint32_t(L.sizes[d]), u = uint32_t(i);
        const uint32_t q32 = u / s;
        q = q32;
        r = u - q32 * s;
      } else {
        q = i / L.sizes[d];
        r = i - q * L.sizes[d];
      }
#pragma unroll
      for (int k = 0; k < N; ++k) off[k] += r * L.strides[k][d];
      i = q;
    }
  }
#pragma unroll
  for (int k = 0; k < N; ++k) off[k] += i * L.strides[k][0];
}

inline bool small_index(int64_t n) { return n <= int64_t(UINT32_MAX); }


}  // namespace kiln::cuda::ew
