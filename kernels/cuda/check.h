#pragma once
// KILN_CUDA_CHECK (DESIGN.md section 2): every CUDA runtime call, and every launch (via
// KILN_CUDA_CHECK_LAUNCH), becomes a kiln::Error naming the call, file and line. A sticky error
// (a device-side fault that poisons the context) is reported as such: nothing after it can run.
// Include only from .cu files or files compiled with the CUDA runtime headers available.
#include <cuda_runtime.h>

#include "kiln/kernels/error.h"

namespace kiln::cuda::detail {

[[noreturn]] inline void throw_cuda_error(cudaError_t err, const char* call, const char* file, int line) {
  // A sticky error leaves the context unusable: cudaGetLastError() cannot clear it and every later
  // call fails the same way, so say so rather than let callers retry.
  cudaError_t again = cudaPeekAtLastError();
  const bool sticky = again != cudaSuccess && again == err && err != cudaErrorMemoryAllocation;
  ::kiln::detail::throw_error(file, line, "", "CUDA error ", cudaGetErrorName(err), " (",
                              cudaGetErrorString(err), ") from ", call,
                              sticky ? "; the CUDA context is poisoned (sticky error), restart the process" : "");
}

}  // namespace kiln::cuda::detail

#define KILN_CUDA_CHECK(call)                                                          \
  do {                                                                                 \
    cudaError_t kiln_cuda_err_ = (call);                                               \
    if (kiln_cuda_err_ != cudaSuccess) [[unlikely]]                                    \
      ::kiln::cuda::detail::throw_cuda_error(kiln_cuda_err_, #call, __FILE__, __LINE__); \
  } while (0)

// After a <<<...>>> launch: reports launch-configuration errors at once.
#define KILN_CUDA_CHECK_LAUNCH(name) KILN_CUDA_CHECK(cudaGetLastError())
