#pragma once
// The CUDA runtime as kiln uses it, callable from plain C++ (no CUDA headers): devices and their
// properties, the current stream of each thread, events, host <-> device copies and pinned host
// memory. Defined in kernels/cuda/runtime.cu; only built when kiln is built with CUDA
// (KILN_HAVE_CUDA), so callers in other layers guard their calls with #if KILN_HAVE_CUDA.
//
// Note [Current stream]
// Every thread has one current stream per device, the legacy default stream (nullptr) until
// set_current_stream() or a StreamGuard changes it. Tensor ops run on the current stream of their
// tensors' device: the tensor layer calls prepare(device_index), which makes that device current
// for the thread (cudaSetDevice only when it changes) and returns its current stream. All work is
// asynchronous; results reach the host only through a synchronising copy (Tensor::cpu()) or
// synchronize(). Memory freed by a tensor is reused by later work on the same stream without a
// host synchronisation (stream-ordered reuse, kernels/cuda/allocator.h).
#include <cstddef>
#include <cstdint>
#include <string>

#include "kiln/kernels/cuda/stream.h"

struct CUevent_st;

namespace kiln::cuda {

// Number of usable devices (0 when there is none, the driver is too old, or CUDA fails to start).
int device_count();
// Throws a kiln::Error naming the index and the device count when index is not a device.
void check_device_index(int index);

struct DeviceProperties {
  std::string name;
  int index = 0;
  int major = 0, minor = 0;        // compute capability
  int multiprocessors = 0;
  int max_threads_per_block = 0;
  int warp_size = 32;
  size_t total_memory = 0;         // bytes
  size_t l2_cache_bytes = 0;
  size_t shared_memory_per_block_optin = 0;
  int memory_bus_width_bits = 0;
};
// Properties of device `index` (read once, then cached).
const DeviceProperties& device_properties(int index);

int current_device();
void set_device(int index);
// Makes `device_index` the thread's current device and returns its current stream: what every
// tensor op calls before launching (Note [Current stream]).
Stream prepare(int device_index);

// The thread's current stream on the current device / sets it (the stream must belong to the
// current device).
Stream current_stream();
void set_current_stream(Stream s);
// A new non-blocking stream on the current device (destroy with destroy_stream).
Stream create_stream();
void destroy_stream(Stream s);
// Sets the current stream for a scope and restores the previous one.
class StreamGuard {
 public:
  explicit StreamGuard(Stream s);
  ~StreamGuard();
  StreamGuard(const StreamGuard&) = delete;
  StreamGuard& operator=(const StreamGuard&) = delete;

 private:
  Stream previous_;
  int device_ = 0;  // the device whose stream is restored
};

// Waits for all work on the current device / on one stream. Reports errors (sticky ones included).
void synchronize();
void stream_synchronize(Stream s);
// Throws when an earlier asynchronous launch failed (cudaGetLastError), naming `where`.
void check_last_error(const char* where);

// An event: record on a stream, make another stream wait for it, wait on the host, time.
class Event {
 public:
  explicit Event(bool timing = false);
  ~Event();
  Event(const Event&) = delete;
  Event& operator=(const Event&) = delete;
  Event(Event&& o) noexcept;
  Event& operator=(Event&& o) noexcept;
  void record(Stream s);
  void wait(Stream s) const;   // s waits (on the device) until this event has happened
  void synchronize() const;    // the host waits
  bool query() const;          // true when the recorded work has finished
  // Milliseconds between two recorded timing events (both must have been created with timing).
  float elapsed_ms(const Event& end) const;

 private:
  CUevent_st* ev_ = nullptr;
};

// Copies. The synchronous forms return when the copy is complete (and are ordered after the
// work already queued on `s`). Asynchronous forms need pinned host memory to overlap with
// compute; with pageable memory CUDA copies through a staging buffer and they still work.
enum class CopyKind { host_to_device, device_to_host, device_to_device };
void memcpy_async(void* dst, const void* src, size_t nbytes, CopyKind kind, Stream s);
void memcpy_sync(void* dst, const void* src, size_t nbytes, CopyKind kind, Stream s);
void memset_async(void* dst, int byte, size_t nbytes, Stream s);
// Copies between two devices and returns when done: waits for the source device's current stream,
// copies on the destination device's current stream (peer access when the hardware has it,
// otherwise the driver stages through the host) and waits for that stream.
void memcpy_peer_sync(void* dst, int dst_device, const void* src, int src_device, size_t nbytes);

// Pinned (page-locked) host memory, from a small cache of freed blocks (Note [Pinned memory] in
// runtime.cu): a block freed while a copy from it is still queued is reused only after that
// copy has completed.
void* pinned_allocate(size_t nbytes);
void pinned_free(void* p);
// Records that `s` (a stream of the current device) still reads or writes pinned block `p` (its
// reuse waits for the stream).
void pinned_record_stream(void* p, Stream s);
// True when p points into memory allocated by pinned_allocate (or otherwise page-locked).
bool is_pinned(const void* p);

}  // namespace kiln::cuda
