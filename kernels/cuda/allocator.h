#pragma once
// The caching CUDA allocator (DESIGN.md section 3), plain C++ interface; defined in
// kernels/cuda/allocator.cu (host code, compiled only when KILN_HAVE_CUDA).
//
// Note [Caching allocator]
// Device memory is taken from CUDA in segments and cut into blocks. Requests are rounded up (512 B
// granularity; small requests <= 1 MB come from 2 MB segments, large ones from segments of the
// rounded size, >= 20 MB requests rounded to 2 MB). A freed block goes back to its pool
// (small / large) and is merged with free neighbours of the same segment; an allocation takes the
// smallest free block that fits (best fit) and splits off the rest when the rest is worth keeping.
// Blocks are stream-ordered: a block freed by work on stream S is reused at once for later work
// on S; a block also used on other streams (record_stream) waits for events recorded on those
// streams before it can be reused. On cudaErrorMemoryAllocation the allocator synchronises,
// returns every free segment to CUDA (empty_cache) and retries once; if that fails it throws a
// kiln::Error stating the requested size, the device's free and total memory, and the bytes
// allocated and reserved by kiln.
//
// Guard mode (tests): with set_guard_bytes(g > 0), every allocation made afterwards gets g bytes
// before and after it, filled with kGuardPattern; check_guards() verifies the guards of every live
// guarded block (and of blocks freed since the last check), so a kernel that writes outside its
// output is caught wherever the output came from.
#include <cstddef>
#include <cstdint>
#include <string>

#include "kiln/kernels/cuda/stream.h"

namespace kiln::cuda {

// Byte counts are of blocks: requests rounded up to 512 bytes (plus the guards in guard mode).
struct AllocatorStats {
  size_t allocated_bytes = 0;       // in blocks handed out now
  size_t reserved_bytes = 0;        // in segments taken from CUDA now
  size_t peak_allocated_bytes = 0;  // since start or reset_peak_stats
  size_t peak_reserved_bytes = 0;
  int64_t num_allocs = 0;           // allocate() calls
  int64_t num_frees = 0;
  int64_t num_cuda_mallocs = 0;     // segments taken from CUDA (cudaMalloc calls that succeeded)
  int64_t num_cuda_frees = 0;
  int64_t num_ooms = 0;             // allocations that failed even after freeing the cache
  int64_t num_cache_flushes = 0;    // times the cache was emptied to retry an allocation
};

// Allocates nbytes (> 0) on `device` for use on stream `s` (256-byte aligned). Throws on OOM
// (see the Note). Never returns nullptr.
void* device_allocate(size_t nbytes, int device, Stream s);
// Returns a block to the cache (stream-ordered: reusable at once on its stream).
void device_free(void* p);
// Marks block p as used by stream s too: its reuse then waits for the work queued on s.
void record_stream(void* p, Stream s);

AllocatorStats allocator_stats(int device);
void reset_peak_stats(int device);
// Returns every unused cached segment of every device to CUDA (waits for pending frees first).
void empty_cache();
// One line per pool: segments, blocks, free bytes (for debugging and error messages).
std::string allocator_summary(int device);

// Guard mode (see the Note). bytes = 0 turns it off for later allocations.
inline constexpr unsigned char kGuardPattern = 0xA5;
void set_guard_bytes(size_t bytes);
size_t guard_bytes();
// Checks the guard regions of guarded blocks (synchronising the device first). Returns true when
// all are intact; otherwise false and, when `report` is given, which block (size, stream) and
// which side was overwritten.
bool check_guards(std::string* report = nullptr);

}  // namespace kiln::cuda
