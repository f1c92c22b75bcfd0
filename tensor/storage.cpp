#include "kiln/tensor/storage.h"

#include <cstdlib>
#include <new>

namespace kiln {
namespace {
DeviceAllocator g_cuda_alloc;
constexpr size_t kAlign = 64;
}  // namespace

void set_device_allocator(DeviceType type, DeviceAllocator alloc) {
  KILN_CHECK(type == DeviceType::CUDA, "set_device_allocator: only CUDA allocators can be installed");
  g_cuda_alloc = alloc;
}

Storage::Storage(size_t nbytes, Device device) : nbytes_(nbytes), device_(device) {
  if (device.is_cpu()) {
    if (nbytes == 0) return;
    size_t rounded = (nbytes + kAlign - 1) / kAlign * kAlign;
    data_ = std::aligned_alloc(kAlign, rounded);
    KILN_CHECK(data_ != nullptr, "Storage: cannot allocate ", nbytes, " bytes of CPU memory");
    deleter_ = [](void* p) { std::free(p); };
    return;
  }
  KILN_CHECK(g_cuda_alloc.allocate != nullptr, "Storage: cannot allocate on ", device.str(),
             ": this build has no CUDA backend");
  if (nbytes == 0) return;
  int idx = device.index;
  data_ = g_cuda_alloc.allocate(nbytes, idx);
  auto dealloc = g_cuda_alloc.deallocate;
  deleter_ = [dealloc, idx](void* p) { dealloc(p, idx); };
}

Storage::Storage(void* data, size_t nbytes, Device device, Deleter deleter)
    : data_(data), nbytes_(nbytes), device_(device), deleter_(std::move(deleter)) {}

Storage::~Storage() {
  if (data_ && deleter_) deleter_(data_);
}

}  // namespace kiln
