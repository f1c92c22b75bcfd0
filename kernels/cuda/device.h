#pragma once
// Whether a usable CUDA device exists, callable from plain C++ (no CUDA headers). Defined in
// kernels/cuda/device.cu when kiln is built with CUDA; without CUDA it is always false.
#include <string>

namespace kiln::cuda {

// True when at least one device can run kiln's kernels. Otherwise false, and `why` (when given)
// says why in one line ("no CUDA device", "driver too old for this CUDA runtime", "built without
// CUDA", ...).
bool device_usable(std::string* why = nullptr);

}  // namespace kiln::cuda
