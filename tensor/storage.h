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
  // Allocates nbytes on device, uninitialised. CPU memory is 64-byte aligned; CUDA memory comes
  // from the caching allocator (kernels/cuda/allocator.h), 256-byte aligned, for use on the
  // device's current stream (Note [Current stream]). A CUDA device that does not exist, or a build
  // without CUDA, is a clear error.
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

}  // namespace kiln
