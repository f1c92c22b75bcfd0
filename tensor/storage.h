#pragma once
// Storage: one allocation on one device, shared by every tensor view of it, with the version
// counter autograd uses to detect in-place changes of saved tensors.
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>

#include "kiln/tensor/device.h"

namespace kiln {

class Storage {
 public:
  using Deleter = std::function<void(void*)>;
  // Allocates nbytes on device (CPU memory is 64-byte aligned and uninitialised).
  Storage(size_t nbytes, Device device);
  // Wraps memory owned elsewhere; deleter (may be empty) runs when the storage dies.
  Storage(void* data, size_t nbytes, Device device, Deleter deleter);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;

  void* data() const { return data_; }
  size_t nbytes() const { return nbytes_; }
  Device device() const { return device_; }
  uint64_t version() const { return version_; }
  void bump_version() { ++version_; }

 private:
  void* data_ = nullptr;
  size_t nbytes_ = 0;
  Device device_;
  Deleter deleter_;
  uint64_t version_ = 0;
};

// Device allocation hooks: the CUDA backend installs its allocator here (the tensor layer itself
// knows only the CPU). Without one, allocating on CUDA throws a clear error.
struct DeviceAllocator {
  void* (*allocate)(size_t nbytes, int device_index) = nullptr;
  void (*deallocate)(void* p, int device_index) = nullptr;
};
void set_device_allocator(DeviceType type, DeviceAllocator alloc);

}  // namespace kiln
