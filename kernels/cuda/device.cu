// kiln::cuda::device_usable: asks the runtime for a device once and remembers the answer.
#include <cuda_runtime.h>

#include <mutex>

#include "kiln/kernels/cuda/device.h"

namespace kiln::cuda {

bool device_usable(std::string* why) {
  static std::once_flag once;
  static bool usable = false;
  static std::string reason;
  std::call_once(once, [] {
    int count = 0;
    cudaError_t err = cudaGetDeviceCount(&count);
    if (err == cudaErrorInsufficientDriver) {
      reason = "CUDA driver too old for this CUDA runtime";
    } else if (err == cudaErrorNoDevice || (err == cudaSuccess && count == 0)) {
      reason = "no CUDA device";
    } else if (err != cudaSuccess) {
      reason = std::string("CUDA unavailable: ") + cudaGetErrorName(err);
    } else {
      usable = true;
    }
    cudaGetLastError();  // clear a non-sticky error from the probe
  });
  if (!usable && why) *why = reason;
  return usable;
}

}  // namespace kiln::cuda
