#pragma once
// Helpers shared by indexing.cu and sort.cu: scratch device memory from the caching allocator,
// reading one value back to the host, and grid-stride loops. Include from .cu files only.
#include <cuda_runtime.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>

#include "kiln/kernels/cuda/allocator.h"
#include "kiln/kernels/cuda/check.h"

// for (int64_t i = first index of this thread; i < n; i += all threads of the grid): every kernel
// of the two files is one such loop, so any n runs with blocks_for(n) blocks.
#define KILN_GRID_LOOP(i, n) \
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < (n); i += int64_t(gridDim.x) * blockDim.x)

namespace kiln::cuda::index_util {

constexpr int kThreads = 256;

// Blocks for a grid-stride loop over n elements (n > 0); capped, the loop covers the rest.
inline unsigned blocks_for(int64_t n) {
  return unsigned(std::clamp<int64_t>((n + kThreads - 1) / kThreads, 1, int64_t(1) << 16));
}

// Device memory for the kernels queued on `stream` by one op. Freed when it goes out of scope,
// which is safe once those kernels are queued: the allocator reuses a block freed on a stream only
// for work queued later on that stream (Note [Caching allocator]).
class Scratch {
 public:
  Scratch() = default;
  Scratch(size_t bytes, Stream stream) {
    if (bytes == 0) return;
    int device = 0;
    KILN_CUDA_CHECK(cudaGetDevice(&device));
    p_ = device_allocate(bytes, device, stream);
  }
  ~Scratch() {
    // A destructor must not throw (it may run while an error unwinds); a failing free here would
    // be reported again by the next CUDA call.
    try {
      if (p_) device_free(p_);
    } catch (...) {
    }
  }
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;
  template <class T>
  T* as() const {
    return static_cast<T*>(p_);
  }

 private:
  void* p_ = nullptr;
};

// Rounds a byte count up to 256 so that pieces carved one after another stay aligned.
inline size_t align256(size_t b) { return (b + 255) / 256 * 256; }

// Copies one value back to the host after the work queued on `stream` (one synchronisation).
template <class T>
T read_back(const T* device_value, Stream stream) {
  T v{};
  KILN_CUDA_CHECK(cudaMemcpyAsync(&v, device_value, sizeof(T), cudaMemcpyDeviceToHost, stream));
  KILN_CUDA_CHECK(cudaStreamSynchronize(stream));
  return v;
}

// Bits needed to represent every value in [0, max_value].
inline int bits_for(uint64_t max_value) {
  int b = 1;
  while (b < 64 && (max_value >> b) != 0) ++b;
  return b;
}

}  // namespace kiln::cuda::index_util
