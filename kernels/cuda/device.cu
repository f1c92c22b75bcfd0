// kiln::cuda::device_usable and device_count: ask the runtime for devices once and remember the
// answer, so both always agree (device_count() is 0 exactly when device_usable() is false).
#include <cuda_runtime.h>

#include <mutex>

#include "kiln/kernels/cuda/device.h"
#include "kiln/kernels/cuda/runtime.h"

namespace kiln::cuda {
namespace {

struct Probe {
  bool usable = false;
  int count = 0;
  std::string reason;
};

const Probe& probe() {
  static std::once_flag once;
  static Probe p;
  std::call_once(once, [] {
    int count = 0;
    cudaError_t err = cudaGetDeviceCount(&count);
    if (err == cudaErrorInsufficientDriver) {
      p.reason = "CUDA driver too old for this CUDA runtime";
    } else if (err == cudaErrorNoDevice || (err == cudaSuccess && count == 0)) {
      p.reason = "no CUDA device";
    } else if (err != cudaSuccess) {
      p.reason = std::string("CUDA unavailable: ") + cudaGetErrorName(err);
    } else {
      p.usable = true;
      p.count = count;
    }
    cudaGetLastError();  // clear a non-sticky error from the probe
  });
  return p;
}

}  // namespace

bool device_usable(std::string* why) {
  const Probe& p = probe();
  if (!p.usable && why) *why = p.reason;
  return p.usable;
}

int device_count() { return probe().count; }

}  // namespace kiln::cuda
