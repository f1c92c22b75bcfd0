#pragma once
// Helpers for CUDA tests (DESIGN.md section 6): KILN_REQUIRE_GPU() skips a test with one clear line
// when there is no usable device; DeviceBuffer<T> holds n elements on the device between guard
// regions filled with a known byte pattern, so a kernel that writes out of bounds is caught by
// guards_intact(). Compiled only when KILN_HAVE_CUDA (tests include it under #if KILN_HAVE_CUDA).
#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "kiln/kernels/cuda/check.h"
#include "kiln/kernels/cuda/device.h"

#define KILN_REQUIRE_GPU()                                            \
  do {                                                                \
    std::string kiln_why_;                                            \
    if (!::kiln::cuda::device_usable(&kiln_why_))                     \
      GTEST_SKIP() << "CUDA test skipped: " << kiln_why_;             \
  } while (0)

namespace kiln::test {

inline constexpr unsigned char kGuardByte = 0xA5;
inline constexpr size_t kGuardBytes = 256;

template <class T>
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  explicit DeviceBuffer(size_t n) : n_(n) {
    KILN_CUDA_CHECK(cudaMalloc(&base_, bytes_total()));
    KILN_CUDA_CHECK(cudaMemset(base_, kGuardByte, bytes_total()));
  }
  explicit DeviceBuffer(const std::vector<T>& host) : DeviceBuffer(host.size()) { upload(host); }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  DeviceBuffer(DeviceBuffer&& o) noexcept { swap(o); }
  DeviceBuffer& operator=(DeviceBuffer&& o) noexcept { swap(o); return *this; }
  ~DeviceBuffer() { if (base_) cudaFree(base_); }

  T* data() const { return reinterpret_cast<T*>(static_cast<unsigned char*>(base_) + kGuardBytes); }
  size_t size() const { return n_; }

  void upload(const std::vector<T>& host) {
    EXPECT_EQ(host.size(), n_);
    if (n_) KILN_CUDA_CHECK(cudaMemcpy(data(), host.data(), n_ * sizeof(T), cudaMemcpyHostToDevice));
  }
  std::vector<T> download() const {
    std::vector<T> host(n_);
    if (n_) KILN_CUDA_CHECK(cudaMemcpy(host.data(), data(), n_ * sizeof(T), cudaMemcpyDeviceToHost));
    return host;
  }
  // True when both guard regions still hold kGuardByte.
  bool guards_intact() const {
    std::vector<unsigned char> all(bytes_total());
    KILN_CUDA_CHECK(cudaMemcpy(all.data(), base_, all.size(), cudaMemcpyDeviceToHost));
    for (size_t i = 0; i < kGuardBytes; ++i)
      if (all[i] != kGuardByte || all[all.size() - 1 - i] != kGuardByte) return false;
    return true;
  }

 private:
  size_t bytes_total() const { return 2 * kGuardBytes + n_ * sizeof(T); }
  void swap(DeviceBuffer& o) { std::swap(base_, o.base_); std::swap(n_, o.n_); }
  void* base_ = nullptr;
  size_t n_ = 0;
};

}  // namespace kiln::test
