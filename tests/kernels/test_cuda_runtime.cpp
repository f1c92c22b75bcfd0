// The CUDA runtime (kernels/cuda/runtime.h) and the caching allocator (kernels/cuda/allocator.h):
// block reuse, split and merge, exact statistics, empty_cache, the out-of-memory path, guard mode,
// stream uses, events, streams, pinned memory and device properties. Every allocator test works on
// a stream of its own, so blocks cached by other tests (keyed by their streams) cannot interfere.
// GPU tests skip without a usable device; the device-count and bad-pointer checks run everywhere.
#include <gtest/gtest.h>

#include <string>

#include "kiln/kernels/cuda/device.h"
#include "kiln/kernels/error.h"

#if KILN_HAVE_CUDA
#include <atomic>
#include <cstring>
#include <vector>

#include "kiln/kernels/cuda/allocator.h"
#include "kiln/kernels/cuda/runtime.h"
#include "support/cuda_test.h"
#endif

namespace kiln::test {
namespace {

#if KILN_HAVE_CUDA

using cuda::AllocatorStats;
using cuda::Stream;

constexpr size_t kKiB = 1024, kMiB = 1024 * 1024;

// A fresh non-blocking stream on device 0, destroyed after its cached blocks are returned to CUDA.
class OwnStream {
 public:
  OwnStream() {
    cuda::set_device(0);
    s_ = cuda::create_stream();
  }
  ~OwnStream() {
    cuda::synchronize();
    cuda::empty_cache();
    cuda::destroy_stream(s_);
  }
  Stream get() const { return s_; }

 private:
  Stream s_ = nullptr;
};

std::string error_of(void (*f)(size_t, Stream), size_t n, Stream s) {
  try {
    f(n, s);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(CudaAllocator, FreedBlockIsReusedOnItsStream) {
  KILN_REQUIRE_GPU();
  OwnStream s;
  void* a = cuda::device_allocate(1000, 0, s.get());
  EXPECT_EQ(reinterpret_cast<uintptr_t>(a) % 256, 0u);
  const AllocatorStats before = cuda::allocator_stats(0);
  cuda::device_free(a);
  void* b = cuda::device_allocate(1000, 0, s.get());
  const AllocatorStats after = cuda::allocator_stats(0);
  EXPECT_EQ(a, b);
  EXPECT_EQ(after.num_cuda_mallocs, before.num_cuda_mallocs);
  EXPECT_EQ(after.allocated_bytes, before.allocated_bytes);
  EXPECT_EQ(after.num_allocs, before.num_allocs + 1);
  EXPECT_EQ(after.num_frees, before.num_frees + 1);
  cuda::device_free(b);
}

TEST(CudaAllocator, SplitHalvesMergeBackIntoOneBlock) {
  KILN_REQUIRE_GPU();
  OwnStream s;
  const AllocatorStats before = cuda::allocator_stats(0);
  char* a = static_cast<char*>(cuda::device_allocate(512 * kKiB, 0, s.get()));
  char* b = static_cast<char*>(cuda::device_allocate(512 * kKiB, 0, s.get()));
  EXPECT_EQ(b, a + 512 * kKiB);  // split off the same 2 MiB segment
  EXPECT_EQ(cuda::allocator_stats(0).num_cuda_mallocs, before.num_cuda_mallocs + 1);
  cuda::device_free(a);
  cuda::device_free(b);
  // Both halves and the rest of the segment merged: one block serves the whole 1 MiB.
  void* c = cuda::device_allocate(kMiB, 0, s.get());
  EXPECT_EQ(c, a);
  EXPECT_EQ(cuda::allocator_stats(0).num_cuda_mallocs, before.num_cuda_mallocs + 1);
  cuda::device_free(c);
}

TEST(CudaAllocator, StatsAreExact) {
  KILN_REQUIRE_GPU();
  OwnStream s;
  cuda::empty_cache();
  cuda::reset_peak_stats(0);
  const AllocatorStats base = cuda::allocator_stats(0);
  EXPECT_EQ(base.peak_allocated_bytes, base.allocated_bytes);
  void* small = cuda::device_allocate(1000, 0, s.get());  // 1024 bytes of a new 2 MiB segment
  const size_t big_size = 3 * kMiB + 512;                 // 3 MiB + 100 rounded to 512 bytes
  void* big = cuda::device_allocate(3 * kMiB + 100, 0, s.get());
  AllocatorStats st = cuda::allocator_stats(0);
  EXPECT_EQ(st.allocated_bytes, base.allocated_bytes + 1024 + big_size);
  EXPECT_EQ(st.reserved_bytes, base.reserved_bytes + 2 * kMiB + big_size);
  EXPECT_EQ(st.num_cuda_mallocs, base.num_cuda_mallocs + 2);
  EXPECT_EQ(st.num_allocs, base.num_allocs + 2);
  cuda::device_free(big);
  st = cuda::allocator_stats(0);
  EXPECT_EQ(st.allocated_bytes, base.allocated_bytes + 1024);
  EXPECT_EQ(st.peak_allocated_bytes, base.allocated_bytes + 1024 + big_size);
  EXPECT_EQ(st.peak_reserved_bytes, base.reserved_bytes + 2 * kMiB + big_size);
  EXPECT_EQ(st.num_frees, base.num_frees + 1);
  // empty_cache returns the free large segment; the small one still holds a live block.
  cuda::empty_cache();
  st = cuda::allocator_stats(0);
  EXPECT_EQ(st.reserved_bytes, base.reserved_bytes + 2 * kMiB);
  EXPECT_EQ(st.num_cuda_frees, base.num_cuda_frees + 1);
  cuda::device_free(small);
  cuda::empty_cache();
  st = cuda::allocator_stats(0);
  EXPECT_EQ(st.reserved_bytes, base.reserved_bytes);
  EXPECT_EQ(st.allocated_bytes, base.allocated_bytes);
  EXPECT_EQ(st.num_cuda_frees, base.num_cuda_frees + 2);
  cuda::reset_peak_stats(0);
  EXPECT_EQ(cuda::allocator_stats(0).peak_allocated_bytes, base.allocated_bytes);
  EXPECT_NE(cuda::allocator_summary(0).find("large pool"), std::string::npos);
}

TEST(CudaAllocator, OutOfMemoryIsAClearErrorAndTheAllocatorStaysUsable) {
  KILN_REQUIRE_GPU();
  OwnStream s;
  const size_t n = size_t(1) << 50;  // 1 PiB
  const AllocatorStats before = cuda::allocator_stats(0);
  const std::string msg = error_of([](size_t k, Stream st) { cuda::device_allocate(k, 0, st); }, n, s.get());
  EXPECT_NE(msg.find("out of memory"), std::string::npos) << msg;
  EXPECT_NE(msg.find(std::to_string(n)), std::string::npos) << msg;
  EXPECT_NE(msg.find("1.00 PiB"), std::string::npos) << msg;
  const AllocatorStats after = cuda::allocator_stats(0);
  EXPECT_EQ(after.num_ooms, before.num_ooms + 1);
  EXPECT_EQ(after.num_cache_flushes, before.num_cache_flushes + 1);
  void* p = cuda::device_allocate(4096, 0, s.get());
  EXPECT_NE(p, nullptr);
  cuda::memset_async(p, 0, 4096, s.get());
  cuda::stream_synchronize(s.get());
  cuda::device_free(p);
}

TEST(CudaAllocator, GuardModeCatchesWritesOutsideABlock) {
  KILN_REQUIRE_GPU();
  OwnStream s;
  cuda::set_guard_bytes(256);
  EXPECT_EQ(cuda::guard_bytes(), 256u);
  char* p = static_cast<char*>(cuda::device_allocate(1000, 0, s.get()));
  EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % 256, 0u);
  cuda::memset_async(p, 7, 1000, s.get());  // inside: fine
  EXPECT_TRUE(cuda::check_guards());
  KILN_CUDA_CHECK(cudaMemsetAsync(p + 1000, 0, 1, s.get()));  // one byte past the end
  std::string report;
  EXPECT_FALSE(cuda::check_guards(&report));
  EXPECT_NE(report.find("past its end"), std::string::npos) << report;
  EXPECT_NE(report.find("1000 bytes"), std::string::npos) << report;
  cuda::device_free(p);
  // A freed block is checked once more (it may have been written after its last check), then released.
  EXPECT_FALSE(cuda::check_guards());
  EXPECT_TRUE(cuda::check_guards());
  char* q = static_cast<char*>(cuda::device_allocate(64, 0, s.get()));
  KILN_CUDA_CHECK(cudaMemsetAsync(q - 1, 0, 1, s.get()));  // one byte before the start
  report.clear();
  EXPECT_FALSE(cuda::check_guards(&report));
  EXPECT_NE(report.find("before its start"), std::string::npos) << report;
  cuda::device_free(q);
  cuda::check_guards();
  cuda::set_guard_bytes(0);
  EXPECT_TRUE(cuda::check_guards());
}

// Blocks a stream from the host until the flag is set (a host function may not call CUDA).
void CUDART_CB wait_for_release(void* flag) {
  auto* f = static_cast<std::atomic<bool>*>(flag);
  while (!f->load()) {
  }
}
// Sets the flag when the test ends however it ends, so a failing test cannot leave a stream blocked
// (declare it after the streams: it must run before their destructors synchronise).
struct Releaser {
  std::atomic<bool>& flag;
  ~Releaser() { flag = true; }
};

TEST(CudaAllocator, BlockUsedOnAnotherStreamWaitsForIt) {
  KILN_REQUIRE_GPU();
  OwnStream s1, s2;
  std::atomic<bool> release{false};
  Releaser releaser{release};
  void* p = cuda::device_allocate(4096, 0, s1.get());
  KILN_CUDA_CHECK(cudaLaunchHostFunc(s2.get(), wait_for_release, &release));
  cuda::record_stream(p, s2.get());
  cuda::memset_async(p, 1, 4096, s2.get());  // still queued behind the host function
  cuda::device_free(p);
  void* q = cuda::device_allocate(4096, 0, s1.get());
  EXPECT_NE(q, p) << "a block still used by another stream was handed out again";
  release = true;
  cuda::stream_synchronize(s2.get());
  void* r = cuda::device_allocate(4096, 0, s1.get());
  EXPECT_EQ(r, p);
  cuda::device_free(q);
  cuda::device_free(r);
}

TEST(CudaRuntime, EventsTimeAndOrderWork) {
  KILN_REQUIRE_GPU();
  OwnStream s, other;
  void* p = cuda::device_allocate(kMiB, 0, s.get());
  cuda::Event start(true), end(true);
  start.record(s.get());
  cuda::memset_async(p, 3, kMiB, s.get());
  end.record(s.get());
  end.synchronize();
  EXPECT_TRUE(end.query());
  EXPECT_GE(start.elapsed_ms(end), 0.0f);
  cuda::Event done;
  done.record(s.get());
  done.wait(other.get());
  cuda::Event moved = std::move(done);
  moved.synchronize();
  EXPECT_TRUE(moved.query());
  std::vector<unsigned char> host(kMiB);
  cuda::memcpy_sync(host.data(), p, kMiB, cuda::CopyKind::device_to_host, other.get());
  EXPECT_EQ(host[0], 3);
  EXPECT_EQ(host[kMiB - 1], 3);
  cuda::device_free(p);
}

TEST(CudaRuntime, StreamGuardSetsAndRestoresTheCurrentStream) {
  KILN_REQUIRE_GPU();
  cuda::set_device(0);
  EXPECT_EQ(cuda::current_device(), 0);
  const Stream before = cuda::current_stream();
  OwnStream s;
  {
    cuda::StreamGuard guard(s.get());
    EXPECT_EQ(cuda::current_stream(), s.get());
    EXPECT_EQ(cuda::prepare(0), s.get());
  }
  EXPECT_EQ(cuda::current_stream(), before);
  EXPECT_EQ(cuda::prepare(0), before);
  // Round trip through the device on the stream.
  std::vector<int> in(1001), out(1001, 0);
  for (size_t i = 0; i < in.size(); ++i) in[i] = int(i * 7 - 3);
  void* d = cuda::device_allocate(in.size() * sizeof(int), 0, s.get());
  cuda::memcpy_async(d, in.data(), in.size() * sizeof(int), cuda::CopyKind::host_to_device, s.get());
  cuda::memcpy_sync(out.data(), d, in.size() * sizeof(int), cuda::CopyKind::device_to_host, s.get());
  EXPECT_EQ(out, in);
  cuda::device_free(d);
  cuda::check_last_error("StreamGuard test");
}

TEST(CudaRuntime, PinnedBlocksAreReusedOnlyAfterTheirStreams) {
  KILN_REQUIRE_GPU();
  OwnStream s;
  const size_t n = 3 * kMiB + 1;  // an unusual size class (4 MiB) no other test uses
  void* p = cuda::pinned_allocate(n);
  EXPECT_TRUE(cuda::is_pinned(p));
  EXPECT_TRUE(cuda::is_pinned(static_cast<char*>(p) + 12345));
  std::vector<char> pageable(64);
  EXPECT_FALSE(cuda::is_pinned(pageable.data()));
  cuda::pinned_free(p);
  void* q = cuda::pinned_allocate(n);
  EXPECT_EQ(q, p);  // reused from the cache

  std::atomic<bool> release{false};
  Releaser releaser{release};
  void* d = cuda::device_allocate(n, 0, s.get());
  KILN_CUDA_CHECK(cudaLaunchHostFunc(s.get(), wait_for_release, &release));
  cuda::memcpy_async(d, q, n, cuda::CopyKind::host_to_device, s.get());
  cuda::pinned_record_stream(q, s.get());
  cuda::pinned_free(q);
  void* r = cuda::pinned_allocate(n);
  EXPECT_NE(r, q) << "a pinned block still read by a queued copy was handed out again";
  release = true;
  cuda::stream_synchronize(s.get());
  void* t = cuda::pinned_allocate(n);
  EXPECT_EQ(t, q);
  cuda::pinned_free(r);
  cuda::pinned_free(t);
  cuda::device_free(d);
}

TEST(CudaRuntime, DevicePropertiesAreSane) {
  KILN_REQUIRE_GPU();
  EXPECT_GE(cuda::device_count(), 1);
  const cuda::DeviceProperties& p = cuda::device_properties(0);
  EXPECT_FALSE(p.name.empty());
  EXPECT_EQ(p.index, 0);
  EXPECT_GT(p.multiprocessors, 0);
  EXPECT_GE(p.major * 10 + p.minor, 75);
  EXPECT_EQ(p.warp_size, 32);
  EXPECT_GE(p.max_threads_per_block, 1024);
  EXPECT_GT(p.total_memory, size_t(0));
  EXPECT_EQ(&cuda::device_properties(0), &p);  // cached
  try {
    cuda::check_device_index(cuda::device_count());
    ADD_FAILURE() << "a device index past the last device was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("does not exist"), std::string::npos) << e.what();
  }
}

// Needs no GPU: the pointer check happens before any CUDA call.
TEST(CudaAllocator, FreeingAForeignPointerIsAClearError) {
  int x = 0;
  try {
    cuda::device_free(&x);
    ADD_FAILURE() << "device_free accepted a pointer it never handed out";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("not allocated by kiln's CUDA allocator"), std::string::npos) << e.what();
  }
}

#endif  // KILN_HAVE_CUDA

TEST(CudaDevice, DeviceCountAgreesWithTheProbe) {
  std::string why;
  const bool usable = cuda::device_usable(&why);
#if KILN_HAVE_CUDA
  EXPECT_EQ(cuda::device_count() > 0, usable);
#endif
  if (!usable) {
    EXPECT_FALSE(why.empty());
  }
}

}  // namespace
}  // namespace kiln::test
