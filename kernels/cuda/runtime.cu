// The CUDA runtime as kiln uses it (kernels/cuda/runtime.h): device selection and properties, the
// per-thread current stream (Note [Current stream]), events, copies and the pinned host memory cache.
#include <cuda_runtime.h>

#include <array>
#include <cstdint>
#include <map>
#include <mutex>
#include <vector>

#include "kiln/kernels/cuda/check.h"
#include "kiln/kernels/cuda/device.h"
#include "kiln/kernels/cuda/runtime.h"

namespace kiln::cuda {
namespace {

// Per-thread state is kept in fixed arrays indexed by device; more devices than this are refused
// by check_device_index.
constexpr int kMaxDevices = 64;

// The thread's current device as kiln last set it (-1: not known yet, ask the runtime). prepare()
// compares against this cached value so that the common case costs no runtime call. Code that calls
// cudaSetDevice behind kiln's back must restore the device it found (the allocator does).
thread_local int t_device = -1;
// The thread's current stream of each device; nullptr is the legacy default stream.
thread_local std::array<Stream, kMaxDevices> t_streams{};

cudaMemcpyKind to_cuda(CopyKind kind) {
  switch (kind) {
    case CopyKind::host_to_device: return cudaMemcpyHostToDevice;
    case CopyKind::device_to_host: return cudaMemcpyDeviceToHost;
    case CopyKind::device_to_device: return cudaMemcpyDeviceToDevice;
  }
  return cudaMemcpyDefault;
}

}  // namespace

void check_device_index(int index) {
  std::string why;
  if (!device_usable(&why))
    KILN_FAIL("cuda:", index, " is not available: ", why);
  const int n = device_count();
  KILN_CHECK(index >= 0 && index < n, "cuda:", index, " does not exist: ", n, n == 1 ? " device" : " devices");
  KILN_CHECK(index < kMaxDevices, "cuda:", index, ": kiln supports at most ", kMaxDevices, " devices");
}

const DeviceProperties& device_properties(int index) {
  static std::array<std::once_flag, kMaxDevices> once;
  static std::array<DeviceProperties, kMaxDevices> props;
  check_device_index(index);
  std::call_once(once[size_t(index)], [index] {
    cudaDeviceProp p{};
    KILN_CUDA_CHECK(cudaGetDeviceProperties(&p, index));
    DeviceProperties& d = props[size_t(index)];
    d.name = p.name;
    d.index = index;
    d.major = p.major;
    d.minor = p.minor;
    d.multiprocessors = p.multiProcessorCount;
    d.max_threads_per_block = p.maxThreadsPerBlock;
    d.warp_size = p.warpSize;
    d.total_memory = p.totalGlobalMem;
    d.l2_cache_bytes = size_t(p.l2CacheSize);
    d.shared_memory_per_block_optin = p.sharedMemPerBlockOptin;
    d.memory_bus_width_bits = p.memoryBusWidth;
  });
  return props[size_t(index)];
}

int current_device() {
  if (t_device < 0) {
    int d = 0;
    KILN_CUDA_CHECK(cudaGetDevice(&d));
    t_device = d;
  }
  return t_device;
}

void set_device(int index) {
  if (t_device == index) return;
  check_device_index(index);
  KILN_CUDA_CHECK(cudaSetDevice(index));
  t_device = index;
}

Stream prepare(int device_index) {
  if (t_device != device_index) set_device(device_index);  // t_device only ever holds a checked index
  return t_streams[size_t(device_index)];
}

Stream current_stream() { return t_streams[size_t(current_device())]; }

void set_current_stream(Stream s) {
  const int d = current_device();
  if (s != nullptr) {
    int owner = -1;
    KILN_CUDA_CHECK(cudaStreamGetDevice(s, &owner));
    KILN_CHECK(owner == d, "set_current_stream: the stream belongs to cuda:", owner, ", the current device is cuda:", d);
  }
  t_streams[size_t(d)] = s;
}

Stream create_stream() {
  cudaStream_t s = nullptr;
  current_device();  // the stream is created on the current device; make sure the cache knows it
  KILN_CUDA_CHECK(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));
  return s;
}

void destroy_stream(Stream s) {
  if (s != nullptr) KILN_CUDA_CHECK(cudaStreamDestroy(s));
}

StreamGuard::StreamGuard(Stream s) : previous_(current_stream()), device_(current_device()) {
  set_current_stream(s);
}

StreamGuard::~StreamGuard() {
  // Restores the stream of the device that was current at construction, even if the scope
  // switched devices in between (no runtime call, so nothing can throw here).
  t_streams[size_t(device_)] = previous_;
}

void synchronize() {
  current_device();
  KILN_CUDA_CHECK(cudaDeviceSynchronize());
}

void stream_synchronize(Stream s) { KILN_CUDA_CHECK(cudaStreamSynchronize(s)); }

void check_last_error(const char* where) {
  cudaError_t err = cudaGetLastError();
  if (err != cudaSuccess) detail::throw_cuda_error(err, where, __FILE__, __LINE__);
}

// ---- events

Event::Event(bool timing) {
  cudaEvent_t e = nullptr;
  KILN_CUDA_CHECK(cudaEventCreateWithFlags(&e, timing ? cudaEventDefault : cudaEventDisableTiming));
  ev_ = e;
}

Event::~Event() {
  if (ev_) cudaEventDestroy(ev_);  // a destructor cannot report; a failure here leaks one event
}

Event::Event(Event&& o) noexcept : ev_(o.ev_) { o.ev_ = nullptr; }

Event& Event::operator=(Event&& o) noexcept {
  std::swap(ev_, o.ev_);
  return *this;
}

void Event::record(Stream s) {
  KILN_CHECK(ev_ != nullptr, "Event::record: moved-from event");
  KILN_CUDA_CHECK(cudaEventRecord(ev_, s));
}

void Event::wait(Stream s) const {
  KILN_CHECK(ev_ != nullptr, "Event::wait: moved-from event");
  KILN_CUDA_CHECK(cudaStreamWaitEvent(s, ev_, 0));
}

void Event::synchronize() const {
  KILN_CHECK(ev_ != nullptr, "Event::synchronize: moved-from event");
  KILN_CUDA_CHECK(cudaEventSynchronize(ev_));
}

bool Event::query() const {
  KILN_CHECK(ev_ != nullptr, "Event::query: moved-from event");
  cudaError_t err = cudaEventQuery(ev_);
  if (err == cudaSuccess) return true;
  if (err == cudaErrorNotReady) {
    cudaGetLastError();  // "not ready" is an answer, not an error: do not leave it for the next check
    return false;
  }
  KILN_CUDA_CHECK(err);
  return false;
}

float Event::elapsed_ms(const Event& end) const {
  KILN_CHECK(ev_ != nullptr && end.ev_ != nullptr, "Event::elapsed_ms: moved-from event");
  float ms = 0;
  KILN_CUDA_CHECK(cudaEventElapsedTime(&ms, ev_, end.ev_));
  return ms;
}

// ---- copies

void memcpy_async(void* dst, const void* src, size_t nbytes, CopyKind kind, Stream s) {
  if (nbytes == 0) return;
  KILN_CUDA_CHECK(cudaMemcpyAsync(dst, src, nbytes, to_cuda(kind), s));
}

void memcpy_sync(void* dst, const void* src, size_t nbytes, CopyKind kind, Stream s) {
  if (nbytes == 0) return;
  KILN_CUDA_CHECK(cudaMemcpyAsync(dst, src, nbytes, to_cuda(kind), s));
  KILN_CUDA_CHECK(cudaStreamSynchronize(s));
}

void memset_async(void* dst, int byte, size_t nbytes, Stream s) {
  if (nbytes == 0) return;
  KILN_CUDA_CHECK(cudaMemsetAsync(dst, byte, nbytes, s));
}

void memcpy_peer_sync(void* dst, int dst_device, const void* src, int src_device, size_t nbytes) {
  if (nbytes == 0) return;
  // Everything queued on the source's current stream (which may still be writing src) finishes
  // first; the copy is queued on the destination's current stream (after the work that may still
  // read the old dst) and waited for, so neither side can free or reuse its memory too early.
  const Stream src_stream = prepare(src_device);
  KILN_CUDA_CHECK(cudaStreamSynchronize(src_stream));
  const Stream dst_stream = prepare(dst_device);
  KILN_CUDA_CHECK(cudaMemcpyPeerAsync(dst, dst_device, src, src_device, nbytes, dst_stream));
  KILN_CUDA_CHECK(cudaStreamSynchronize(dst_stream));
}

// ---- pinned host memory
//
// Note [Pinned memory]
// cudaHostAlloc is slow (it maps and locks pages) and cudaFreeHost synchronises the device, so freed
// pinned blocks are cached: sizes are rounded up to a power of two (at least 4 KiB) and a freed
// block waits in a free list of its size. A block may still be read or written by copies queued on
// streams (pinned_record_stream names them; the tensor layer records the stream of every
// non-blocking copy): when it is freed an event is recorded on each such stream, and the block is
// handed out again only once all its events have completed, so a later user cannot overwrite data
// that an earlier copy has not consumed yet. When cudaHostAlloc fails, the free blocks whose events
// have completed are released and the allocation retried once. Cached blocks live until the
// process ends (the driver reclaims them).
namespace {

struct PinnedBlock {
  size_t size = 0;
  bool in_use = false;
  std::vector<std::pair<Stream, int>> streams;  // (stream, its device) recorded while in use
  std::vector<cudaEvent_t> events;       // recorded at free time, one per stream
};

struct PinnedCache {
  std::mutex mu;
  std::map<uintptr_t, PinnedBlock> blocks;             // by start address (finds interior pointers)
  std::multimap<size_t, uintptr_t> free_by_size;       // freed blocks, by size
};

PinnedCache& pinned_cache() {
  static PinnedCache* c = new PinnedCache;  // never destroyed: tensors may be freed during exit
  return *c;
}

size_t pinned_round(size_t n) {
  size_t r = 4096;
  while (r < n) r <<= 1;
  return r;
}

// True when every event of the block has completed (then they are destroyed).
bool pinned_ready(PinnedBlock& b) {
  for (cudaEvent_t e : b.events) {
    cudaError_t err = cudaEventQuery(e);
    if (err == cudaErrorNotReady) {
      cudaGetLastError();
      return false;
    }
    KILN_CUDA_CHECK(err);
  }
  for (cudaEvent_t e : b.events) cudaEventDestroy(e);
  b.events.clear();
  return true;
}

// Blocks are found by any address inside them (a tensor view points into the middle).
std::map<uintptr_t, PinnedBlock>::iterator pinned_find(PinnedCache& c, const void* p) {
  const auto a = reinterpret_cast<uintptr_t>(p);
  auto it = c.blocks.upper_bound(a);
  if (it == c.blocks.begin()) return c.blocks.end();
  --it;
  return a < it->first + it->second.size ? it : c.blocks.end();
}

}  // namespace

void* pinned_allocate(size_t nbytes) {
  std::string why;
  KILN_CHECK(device_usable(&why), "pin_memory: pinned host memory needs a CUDA device: ", why);
  const size_t size = pinned_round(nbytes);
  PinnedCache& c = pinned_cache();
  std::lock_guard<std::mutex> lock(c.mu);
  auto [lo, hi] = c.free_by_size.equal_range(size);
  for (auto it = lo; it != hi; ++it) {
    PinnedBlock& b = c.blocks.at(it->second);
    if (!pinned_ready(b)) continue;
    b.in_use = true;
    void* p = reinterpret_cast<void*>(it->second);
    c.free_by_size.erase(it);
    return p;
  }
  void* p = nullptr;
  cudaError_t err = cudaHostAlloc(&p, size, cudaHostAllocDefault);
  if (err == cudaErrorMemoryAllocation) {
    cudaGetLastError();
    for (auto it = c.free_by_size.begin(); it != c.free_by_size.end();) {
      auto bit = c.blocks.find(it->second);
      if (pinned_ready(bit->second)) {
        cudaFreeHost(reinterpret_cast<void*>(it->second));
        c.blocks.erase(bit);
        it = c.free_by_size.erase(it);
      } else {
        ++it;
      }
    }
    err = cudaHostAlloc(&p, size, cudaHostAllocDefault);
    if (err == cudaErrorMemoryAllocation) {
      cudaGetLastError();
      KILN_FAIL("pin_memory: cannot allocate ", nbytes, " bytes of pinned host memory");
    }
  }
  KILN_CUDA_CHECK(err);
  PinnedBlock& b = c.blocks[reinterpret_cast<uintptr_t>(p)];
  b.size = size;
  b.in_use = true;
  return p;
}

void pinned_free(void* p) {
  if (p == nullptr) return;
  PinnedCache& c = pinned_cache();
  std::lock_guard<std::mutex> lock(c.mu);
  auto it = c.blocks.find(reinterpret_cast<uintptr_t>(p));
  KILN_CHECK(it != c.blocks.end() && it->second.in_use, "pinned_free: ", p,
             " was not allocated by pinned_allocate (or was freed twice)");
  PinnedBlock& b = it->second;
  for (auto [s, dev] : b.streams) {
    int prev = 0;
    KILN_CUDA_CHECK(cudaGetDevice(&prev));
    if (prev != dev) KILN_CUDA_CHECK(cudaSetDevice(dev));
    cudaEvent_t e = nullptr;
    cudaError_t err = cudaEventCreateWithFlags(&e, cudaEventDisableTiming);
    if (err == cudaSuccess) err = cudaEventRecord(e, s);
    if (prev != dev) cudaSetDevice(prev);
    KILN_CUDA_CHECK(err);
    b.events.push_back(e);
  }
  b.streams.clear();
  b.in_use = false;
  c.free_by_size.emplace(b.size, it->first);
}

void pinned_record_stream(void* p, Stream s) {
  PinnedCache& c = pinned_cache();
  std::lock_guard<std::mutex> lock(c.mu);
  auto it = pinned_find(c, p);
  if (it == c.blocks.end()) return;  // page-locked elsewhere (cudaHostRegister...): nothing to track
  // The stream's device is the current one: callers make it current before queueing the copy
  // (the tensor layer's prepare()). Remembering it lets pinned_free record on the right device,
  // also for the legacy default stream (nullptr), which exists once per device.
  const int dev = current_device();
  auto& v = it->second.streams;
  for (const auto& [x, d] : v)
    if (x == s && d == dev) return;
  v.emplace_back(s, dev);
}

bool is_pinned(const void* p) {
  if (p == nullptr || !device_usable()) return false;
  {
    PinnedCache& c = pinned_cache();
    std::lock_guard<std::mutex> lock(c.mu);
    if (pinned_find(c, p) != c.blocks.end()) return true;
  }
  cudaPointerAttributes attr{};
  cudaError_t err = cudaPointerGetAttributes(&attr, p);
  if (err != cudaSuccess) {
    cudaGetLastError();  // ordinary pageable memory on old drivers reports an error: not pinned
    return false;
  }
  return attr.type == cudaMemoryTypeHost;
}

}  // namespace kiln::cuda
