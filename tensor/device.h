#pragma once
#include <cstdint>
#include <ostream>
#include <string>

#include "kiln/kernels/error.h"

namespace kiln {

enum class DeviceType : uint8_t { CPU, CUDA };

struct Device {
  DeviceType type = DeviceType::CPU;
  int index = 0;
  constexpr Device() = default;
  constexpr Device(DeviceType t, int i = 0) : type(t), index(i) {}
  // Parses "cpu", "cuda", "cuda:1".
  static Device parse(const std::string& s);
  bool is_cpu() const { return type == DeviceType::CPU; }
  bool is_cuda() const { return type == DeviceType::CUDA; }
  bool operator==(const Device& o) const { return type == o.type && (type == DeviceType::CPU || index == o.index); }
  bool operator!=(const Device& o) const { return !(*this == o); }
  std::string str() const;
};

inline constexpr Device kCPU{DeviceType::CPU, 0};
inline constexpr Device kCUDA{DeviceType::CUDA, 0};

inline std::ostream& operator<<(std::ostream& os, const Device& d) { return os << d.str(); }

// Thrown by an op's device switch for a device that has no implementation of that op yet.
[[noreturn]] void unsupported_device(const char* op, Device d);

}  // namespace kiln
