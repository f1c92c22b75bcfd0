// The caching CUDA allocator (Note [Caching allocator] in allocator.h). Host code only; it is a .cu
// file so that the kernels layer's CUDA glob compiles it only in CUDA builds.
//
// Bookkeeping: every segment taken from cudaMalloc is a doubly linked list of blocks in address
// order (prev / next). A block is in one of four states: handed out (`allocated`), waiting for the
// events of the other streams that used it (`pending`, Note [Stream uses]), quarantined until the
// next guard check (guard mode), or free in its pool. Free blocks of a pool sit in one std::set
// ordered by (stream, size, address), so lower_bound on (stream, size) is the best fit for that
// stream. One mutex guards all of it (allocation is cheap next to what it feeds).
//
// Note [Stream uses]
// A block belongs to the stream it was allocated for; a free on that stream is safe at once because
// later work on the same stream runs after the work already queued. record_stream adds other
// streams; when such a block is freed an event is recorded on each of them and the block returns
// to its pool only when every event has completed (polled on each allocation, waited for by
// empty_cache and the out-of-memory path).
#include <cuda_runtime.h>

#include <cinttypes>
#include <cstdio>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <unordered_set>
#include <vector>

#include "kiln/kernels/cuda/allocator.h"
#include "kiln/kernels/cuda/check.h"
#include "kiln/kernels/cuda/runtime.h"

namespace kiln::cuda {
namespace {

constexpr size_t kRound = 512;                  // every block size is a multiple of this
constexpr size_t kAlign = 256;                  // user pointers are aligned to this (guard offset)
constexpr size_t kSmallSize = size_t(1) << 20;  // requests up to 1 MiB use the small pool
constexpr size_t kSmallSegment = size_t(2) << 20;
constexpr size_t kLargeRoundAbove = size_t(20) << 20;  // requests from 20 MiB up are rounded to 2 MiB
constexpr size_t kLargeRound = size_t(2) << 20;
constexpr size_t kMaxRequest = size_t(1) << 60;  // far beyond any device; keeps the arithmetic exact

size_t round_up(size_t n, size_t m) { return (n + m - 1) / m * m; }

struct Block {
  int device = 0;
  Stream stream = nullptr;
  size_t size = 0;      // bytes of this block (a multiple of kRound)
  char* ptr = nullptr;  // start of the block (the guard region comes first in guard mode)
  bool small = false;   // pool
  bool allocated = false;
  bool pending = false;  // freed, waiting for events or a guard check
  Block* prev = nullptr;
  Block* next = nullptr;
  std::vector<Stream> uses;  // other streams (record_stream)
  int events_left = 0;
  size_t guard = 0;      // guard bytes before the user pointer (0: no guards)
  size_t requested = 0;  // bytes the user asked for
  char* user() const { return ptr + guard; }
};

struct BlockLess {
  bool operator()(const Block* a, const Block* b) const {
    if (a->stream != b->stream) return reinterpret_cast<uintptr_t>(a->stream) < reinterpret_cast<uintptr_t>(b->stream);
    if (a->size != b->size) return a->size < b->size;
    return reinterpret_cast<uintptr_t>(a->ptr) < reinterpret_cast<uintptr_t>(b->ptr);
  }
};
using Pool = std::set<Block*, BlockLess>;

struct PendingEvent {
  cudaEvent_t event;
  Block* block;
};

struct DeviceState {
  Pool small, large;
  std::deque<PendingEvent> events;
  std::vector<cudaEvent_t> spare_events;
  std::vector<Block*> quarantine;  // guarded blocks freed since the last check_guards
  AllocatorStats stats;
  int64_t segments_small = 0, segments_large = 0;
};

struct State {
  std::mutex mu;
  std::map<int, DeviceState> devices;
  std::map<uintptr_t, Block*> live;  // handed-out blocks by user pointer
  size_t guard_bytes = 0;
};

State& state() {
  static State* s = new State;  // never destroyed: tensors may still be freed while the process exits
  return *s;
}

// Makes `device` current for a scope and restores what was current, so the thread's cached device
// in runtime.cu stays right.
class DeviceScope {
 public:
  explicit DeviceScope(int device) {
    KILN_CUDA_CHECK(cudaGetDevice(&prev_));
    if (prev_ != device) KILN_CUDA_CHECK(cudaSetDevice(device));
  }
  ~DeviceScope() { cudaSetDevice(prev_); }
  DeviceScope(const DeviceScope&) = delete;
  DeviceScope& operator=(const DeviceScope&) = delete;

 private:
  int prev_ = 0;
};

std::string format_bytes(size_t n) {
  const char* units[] = {"bytes", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  double v = double(n);
  int u = 0;
  while (v >= 1024.0 && u < 6) {
    v /= 1024.0;
    ++u;
  }
  char buf[64];
  if (u == 0)
    std::snprintf(buf, sizeof buf, "%zu bytes", n);
  else
    std::snprintf(buf, sizeof buf, "%.2f %s", v, units[u]);
  return buf;
}

Pool& pool_of(DeviceState& d, const Block* b) { return b->small ? d.small : d.large; }

void add_allocated(AllocatorStats& s, size_t n) {
  s.allocated_bytes += n;
  if (s.allocated_bytes > s.peak_allocated_bytes) s.peak_allocated_bytes = s.allocated_bytes;
}

// Returns a block to its pool, merged with free neighbours of the same segment.
void release_to_pool(DeviceState& d, Block* b) {
  Pool& pool = pool_of(d, b);
  b->allocated = false;
  b->pending = false;
  b->guard = 0;
  b->requested = 0;
  b->uses.clear();
  auto free_neighbour = [](const Block* n) { return n && !n->allocated && !n->pending; };
  if (free_neighbour(b->prev)) {
    Block* p = b->prev;
    pool.erase(p);
    p->size += b->size;
    p->next = b->next;
    if (p->next) p->next->prev = p;
    delete b;
    b = p;
  }
  if (free_neighbour(b->next)) {
    Block* n = b->next;
    pool.erase(n);
    b->size += n->size;
    b->next = n->next;
    if (b->next) b->next->prev = b;
    delete n;
  }
  pool.insert(b);
}

// A freed block whose stream uses (if any) are over: into the pool, or quarantine in guard mode.
void retire(DeviceState& d, Block* b) {
  if (b->guard > 0) {
    b->pending = true;
    d.quarantine.push_back(b);
  } else {
    release_to_pool(d, b);
  }
}

// Retires blocks whose events have completed (all of them when `wait`).
void process_events(int device, DeviceState& d, bool wait) {
  if (d.events.empty()) return;
  DeviceScope scope(device);
  while (!d.events.empty()) {
    PendingEvent& pe = d.events.front();
    cudaError_t err = wait ? cudaEventSynchronize(pe.event) : cudaEventQuery(pe.event);
    if (err == cudaErrorNotReady) {
      cudaGetLastError();
      break;  // events of one device complete roughly in order; the rest is polled next time
    }
    KILN_CUDA_CHECK(err);
    d.spare_events.push_back(pe.event);
    Block* b = pe.block;
    d.events.pop_front();
    if (--b->events_left == 0) retire(d, b);
  }
}

// Returns every whole free segment of the device to CUDA.
void release_free_segments(int device, DeviceState& d) {
  DeviceScope scope(device);
  for (Pool* pool : {&d.small, &d.large}) {
    for (auto it = pool->begin(); it != pool->end();) {
      Block* b = *it;
      if (b->prev == nullptr && b->next == nullptr) {
        KILN_CUDA_CHECK(cudaFree(b->ptr));
        d.stats.reserved_bytes -= b->size;
        d.stats.num_cuda_frees += 1;
        (b->small ? d.segments_small : d.segments_large) -= 1;
        it = pool->erase(it);
        delete b;
      } else {
        ++it;
      }
    }
  }
}

// Checks the guards of one block (device synchronised already); appends to report when broken.
bool block_guards_ok(const Block* b, std::string* report) {
  const size_t head = b->guard;
  const size_t tail_off = b->guard + b->requested;
  const size_t tail = b->size - tail_off;
  std::vector<unsigned char> h(head), t(tail);
  KILN_CUDA_CHECK(cudaMemcpy(h.data(), b->ptr, head, cudaMemcpyDeviceToHost));
  if (tail) KILN_CUDA_CHECK(cudaMemcpy(t.data(), b->ptr + tail_off, tail, cudaMemcpyDeviceToHost));
  auto first_bad = [](const std::vector<unsigned char>& v, bool from_end) -> int64_t {
    for (size_t i = 0; i < v.size(); ++i) {
      const size_t k = from_end ? v.size() - 1 - i : i;
      if (v[k] != kGuardPattern) return int64_t(k);
    }
    return -1;
  };
  const int64_t bad_head = first_bad(h, true);   // the byte nearest the data
  const int64_t bad_tail = first_bad(t, false);
  if (bad_head < 0 && bad_tail < 0) return true;
  if (report) {
    char buf[256];
    std::snprintf(buf, sizeof buf, "%sblock of %zu bytes at %p on cuda:%d (stream %p%s):", report->empty() ? "" : "\n",
                  b->requested, static_cast<void*>(b->user()), b->device, static_cast<void*>(b->stream),
                  b->allocated ? "" : ", freed");
    *report += buf;
    if (bad_head >= 0) {
      std::snprintf(buf, sizeof buf, " written before its start (byte %" PRId64 " before it)", int64_t(head) - bad_head);
      *report += buf;
    }
    if (bad_tail >= 0) {
      std::snprintf(buf, sizeof buf, " written past its end (byte %" PRId64 " after it)", bad_tail + 1);
      *report += buf;
    }
  }
  return false;
}

[[noreturn]] void throw_oom(int device, size_t nbytes, const DeviceState& d) {
  size_t free_b = 0, total_b = 0;
  if (cudaMemGetInfo(&free_b, &total_b) != cudaSuccess) cudaGetLastError();
  KILN_FAIL("CUDA out of memory: tried to allocate ", format_bytes(nbytes), " (", nbytes, " bytes) on cuda:", device,
            " (free ", format_bytes(free_b), " of ", format_bytes(total_b), "; kiln has ",
            format_bytes(d.stats.allocated_bytes), " allocated, ", format_bytes(d.stats.reserved_bytes), " reserved)");
}

}  // namespace

void* device_allocate(size_t nbytes, int device, Stream s) {
  KILN_CHECK(nbytes > 0, "device_allocate: size must be positive");
  check_device_index(device);
  State& st = state();
  std::lock_guard<std::mutex> lock(st.mu);
  DeviceState& d = st.devices[device];
  KILN_CHECK(nbytes <= kMaxRequest, "CUDA out of memory: tried to allocate ", format_bytes(nbytes), " (", nbytes,
             " bytes) on cuda:", device, ", more than any device has");
  d.stats.num_allocs += 1;
  process_events(device, d, false);

  // Guard mode: the leading guard is rounded to kAlign so the user pointer stays aligned; the tail
  // guard starts right after the last requested byte and runs to the end of the block.
  const size_t g = st.guard_bytes;
  const size_t lead = g ? round_up(g, kAlign) : 0;
  const size_t size = std::max(kRound, round_up(lead + nbytes + g, kRound));
  const bool small = size <= kSmallSize;
  Pool& pool = small ? d.small : d.large;

  Block key;
  key.stream = s;
  key.size = size;
  key.ptr = nullptr;
  Block* b = nullptr;
  auto it = pool.lower_bound(&key);
  if (it != pool.end() && (*it)->stream == s) {
    b = *it;
    pool.erase(it);
  } else {
    const size_t seg = small ? kSmallSegment : size < kLargeRoundAbove ? size : round_up(size, kLargeRound);
    DeviceScope scope(device);
    void* p = nullptr;
    cudaError_t err = cudaMalloc(&p, seg);
    if (err == cudaErrorMemoryAllocation) {
      // Note [Caching allocator]: wait for everything queued, give the whole cache back, retry once.
      cudaGetLastError();
      KILN_CUDA_CHECK(cudaDeviceSynchronize());
      process_events(device, d, true);
      for (Block* q : d.quarantine) release_to_pool(d, q);
      d.quarantine.clear();
      release_free_segments(device, d);
      d.stats.num_cache_flushes += 1;
      err = cudaMalloc(&p, seg);
      if (err == cudaErrorMemoryAllocation) {
        cudaGetLastError();
        d.stats.num_ooms += 1;
        throw_oom(device, nbytes, d);
      }
    }
    KILN_CUDA_CHECK(err);
    d.stats.num_cuda_mallocs += 1;
    d.stats.reserved_bytes += seg;
    if (d.stats.reserved_bytes > d.stats.peak_reserved_bytes) d.stats.peak_reserved_bytes = d.stats.reserved_bytes;
    (small ? d.segments_small : d.segments_large) += 1;
    b = new Block;
    b->device = device;
    b->stream = s;
    b->size = seg;
    b->ptr = static_cast<char*>(p);
    b->small = small;
  }

  // Split off the rest when it is worth keeping (any remainder in the small pool; more than the
  // small-pool limit in the large pool, so large segments are not shredded into slivers).
  const size_t rest = b->size - size;
  if (rest >= (small ? kRound : kSmallSize + 1)) {
    Block* r = new Block;
    r->device = device;
    r->stream = s;
    r->size = rest;
    r->ptr = b->ptr + size;
    r->small = small;
    r->prev = b;
    r->next = b->next;
    if (r->next) r->next->prev = r;
    b->next = r;
    b->size = size;
    pool.insert(r);
  }
  b->allocated = true;
  b->guard = lead;
  b->requested = nbytes;
  add_allocated(d.stats, b->size);
  if (lead) {
    DeviceScope scope(device);
    KILN_CUDA_CHECK(cudaMemsetAsync(b->ptr, kGuardPattern, lead, s));
    KILN_CUDA_CHECK(cudaMemsetAsync(b->user() + nbytes, kGuardPattern, b->size - lead - nbytes, s));
  }
  st.live[reinterpret_cast<uintptr_t>(b->user())] = b;
  return b->user();
}

void device_free(void* p) {
  if (p == nullptr) return;
  State& st = state();
  std::lock_guard<std::mutex> lock(st.mu);
  auto it = st.live.find(reinterpret_cast<uintptr_t>(p));
  KILN_CHECK(it != st.live.end(), "device_free: ", p,
             " was not allocated by kiln's CUDA allocator (or was already freed)");
  Block* b = it->second;
  st.live.erase(it);
  DeviceState& d = st.devices[b->device];
  d.stats.num_frees += 1;
  d.stats.allocated_bytes -= b->size;
  b->allocated = false;
  if (b->uses.empty()) {
    retire(d, b);
    return;
  }
  // Note [Stream uses]
  DeviceScope scope(b->device);
  b->pending = true;
  for (Stream s : b->uses) {
    cudaEvent_t e = nullptr;
    if (!d.spare_events.empty()) {
      e = d.spare_events.back();
      d.spare_events.pop_back();
    } else {
      KILN_CUDA_CHECK(cudaEventCreateWithFlags(&e, cudaEventDisableTiming));
    }
    KILN_CUDA_CHECK(cudaEventRecord(e, s));
    d.events.push_back({e, b});
    b->events_left += 1;
  }
  b->uses.clear();
}

void record_stream(void* p, Stream s) {
  State& st = state();
  std::lock_guard<std::mutex> lock(st.mu);
  // Any address inside a handed-out block (a tensor view points into the middle).
  const auto a = reinterpret_cast<uintptr_t>(p);
  auto it = st.live.upper_bound(a);
  KILN_CHECK(it != st.live.begin(), "record_stream: ", p, " is not memory of kiln's CUDA allocator");
  --it;
  Block* b = it->second;
  KILN_CHECK(a < it->first + std::max<size_t>(b->requested, 1), "record_stream: ", p,
             " is not memory of kiln's CUDA allocator");
  if (s == b->stream) return;
  for (Stream x : b->uses)
    if (x == s) return;
  b->uses.push_back(s);
}

AllocatorStats allocator_stats(int device) {
  State& st = state();
  std::lock_guard<std::mutex> lock(st.mu);
  auto it = st.devices.find(device);
  return it == st.devices.end() ? AllocatorStats{} : it->second.stats;
}

void reset_peak_stats(int device) {
  State& st = state();
  std::lock_guard<std::mutex> lock(st.mu);
  auto it = st.devices.find(device);
  if (it == st.devices.end()) return;
  it->second.stats.peak_allocated_bytes = it->second.stats.allocated_bytes;
  it->second.stats.peak_reserved_bytes = it->second.stats.reserved_bytes;
}

void empty_cache() {
  State& st = state();
  std::lock_guard<std::mutex> lock(st.mu);
  for (auto& [device, d] : st.devices) {
    process_events(device, d, true);
    release_free_segments(device, d);
  }
}

std::string allocator_summary(int device) {
  State& st = state();
  std::lock_guard<std::mutex> lock(st.mu);
  auto it = st.devices.find(device);
  if (it == st.devices.end()) return "cuda:" + std::to_string(device) + ": no memory taken from CUDA yet\n";
  const DeviceState& d = it->second;
  std::string out;
  for (int k = 0; k < 2; ++k) {
    const Pool& pool = k == 0 ? d.small : d.large;
    size_t free_bytes = 0;
    for (const Block* b : pool) free_bytes += b->size;
    char buf[256];
    std::snprintf(buf, sizeof buf, "cuda:%d %s pool: %" PRId64 " segments, %zu free blocks, %s free\n", device,
                  k == 0 ? "small" : "large", k == 0 ? d.segments_small : d.segments_large, pool.size(),
                  format_bytes(free_bytes).c_str());
    out += buf;
  }
  out += "cuda:" + std::to_string(device) + " allocated " + format_bytes(d.stats.allocated_bytes) + ", reserved " +
         format_bytes(d.stats.reserved_bytes) + ", " + std::to_string(d.events.size()) + " blocks waiting for streams\n";
  return out;
}

void set_guard_bytes(size_t bytes) {
  State& st = state();
  std::lock_guard<std::mutex> lock(st.mu);
  st.guard_bytes = bytes;
}

size_t guard_bytes() {
  State& st = state();
  std::lock_guard<std::mutex> lock(st.mu);
  return st.guard_bytes;
}

bool check_guards(std::string* report) {
  State& st = state();
  std::lock_guard<std::mutex> lock(st.mu);
  bool ok = true;
  for (auto& [device, d] : st.devices) {
    DeviceScope scope(device);
    KILN_CUDA_CHECK(cudaDeviceSynchronize());
    process_events(device, d, true);
    for (const auto& [addr, b] : st.live)
      if (b->device == device && b->guard > 0) ok = block_guards_ok(b, report) && ok;
    for (Block* b : d.quarantine) ok = block_guards_ok(b, report) && ok;
    for (Block* b : d.quarantine) release_to_pool(d, b);
    d.quarantine.clear();
  }
  return ok;
}

}  // namespace kiln::cuda
