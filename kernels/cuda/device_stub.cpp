// kiln::cuda::device_usable for builds without CUDA (kernels/CMakeLists.txt adds this file only then).
#include "kiln/kernels/cuda/device.h"

namespace kiln::cuda {

bool device_usable(std::string* why) {
  if (why) *why = "kiln was built without CUDA (nvcc not found at configure time)";
  return false;
}

}  // namespace kiln::cuda
