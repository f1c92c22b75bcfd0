#include "kiln/tensor/device.h"

#include <cstdlib>

namespace kiln {

Device Device::parse(const std::string& s) {
  if (s == "cpu") return kCPU;
  if (s == "cuda") return kCUDA;
  if (s.rfind("cuda:", 0) == 0 && s.size() > 5) {
    char* end = nullptr;
    long idx = std::strtol(s.c_str() + 5, &end, 10);
    KILN_CHECK(end && *end == '\0' && idx >= 0 && idx < 1024, "Device::parse: bad device index in '", s, "'");
    return Device(DeviceType::CUDA, int(idx));
  }
  KILN_FAIL("Device::parse: unknown device '", s, "' (expected cpu, cuda or cuda:N)");
}

std::string Device::str() const {
  return type == DeviceType::CPU ? "cpu" : "cuda:" + std::to_string(index);
}

void unsupported_device(const char* op, Device d) {
  throw NotSupportedError(detail::str_cat(op, ": not supported on device ", d.str(),
                                          d.is_cuda() ? " (this build has no CUDA implementation of it yet)" : ""));
}

}  // namespace kiln
