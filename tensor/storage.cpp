#include "kiln/tensor/storage.h"

#include <cstdlib>
#include <new>

#if KILN_HAVE_CUDA
#include "kiln/kernels/cuda/allocator.h"
#include "kiln/kernels/cuda/runtime.h"
#endif

namespace kiln {
namespace {
constexpr size_t kAlign = 64;

// Note [Small block cache]
// Per-op overhead on tiny tensors is dominated by allocations, and aligned_alloc is the costliest
// of them: it never takes malloc's per-thread fast path. So freed CPU blocks of up to
// kCachedClasses * 64 bytes are kept in a small per-thread cache, one free list per multiple of
// 64 bytes (at most kCachedPerClass blocks each, about 70 KB per thread in the worst case), and
// reused by the next allocation of that size on the same thread. A block freed on another thread
// than the one that allocated it simply joins that thread's cache. The lists are plain arrays of
// pointers (trivially destructible); a guard object empties them when the thread exits, after
// which blocks go straight back to free().
constexpr int kCachedClasses = 8;    // 64 .. 512 bytes
constexpr int kCachedPerClass = 32;

struct BlockCache {
  void* blocks[kCachedClasses][kCachedPerClass];
  int count[kCachedClasses];
  bool dead;
};
thread_local BlockCache t_cache{};

struct BlockCacheGuard {
  bool armed = false;
  ~BlockCacheGuard() {
    for (int c = 0; c < kCachedClasses; ++c)
      for (int i = 0; i < t_cache.count[c]; ++i) std::free(t_cache.blocks[c][i]);
    for (int c = 0; c < kCachedClasses; ++c) t_cache.count[c] = 0;
    t_cache.dead = true;
  }
};
thread_local BlockCacheGuard t_cache_guard;

void* cpu_alloc(size_t rounded) {
  const size_t cls = rounded / kAlign - 1;
  if (cls < size_t(kCachedClasses) && t_cache.count[cls] > 0) return t_cache.blocks[cls][--t_cache.count[cls]];
  return std::aligned_alloc(kAlign, rounded);
}

void cpu_free(void* p, size_t rounded) {
  const size_t cls = rounded / kAlign - 1;
  if (cls < size_t(kCachedClasses) && !t_cache.dead && t_cache.count[cls] < kCachedPerClass) {
    t_cache_guard.armed = true;  // first use constructs the guard, whose destructor drains the cache at thread exit
    t_cache.blocks[cls][t_cache.count[cls]++] = p;
    return;
  }
  std::free(p);
}

size_t round_up(size_t nbytes) { return (nbytes + kAlign - 1) / kAlign * kAlign; }

}  // namespace

Storage::Storage(size_t nbytes, Device device) : nbytes_(nbytes), device_(device) {
  if (device.is_cpu()) {
    if (nbytes == 0) return;
    const size_t rounded = round_up(nbytes);
    data_ = cpu_alloc(rounded);
    KILN_CHECK(data_ != nullptr, "Storage: cannot allocate ", nbytes, " bytes of CPU memory");
    deleter_ = [rounded](void* p) { cpu_free(p, rounded); };  // small enough for std::function's inline buffer
    return;
  }
#if KILN_HAVE_CUDA
  cuda::check_device_index(device.index);
  if (nbytes == 0) return;
  const int idx = device.index;
  data_ = cuda::device_allocate(nbytes, idx, cuda::prepare(idx));
  // A deleter runs inside ~Storage and must not throw; device_free only fails for pointers it did
  // not hand out (impossible here) or when the CUDA context is already broken, which the next
  // checked CUDA call reports anyway.
  deleter_ = [](void* p) {
    try {
      cuda::device_free(p);
    } catch (...) {
    }
  };
#else
  KILN_FAIL("Storage: cannot allocate on ", device.str(), ": kiln was built without CUDA (nvcc not found at configure time)");
#endif
}

Storage::Storage(void* data, size_t nbytes, Device device, Deleter deleter)
    : data_(data), nbytes_(nbytes), device_(device), deleter_(std::move(deleter)) {}

Storage::~Storage() {
  if (data_ && deleter_) deleter_(data_);
}

}  // namespace kiln
