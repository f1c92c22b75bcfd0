#pragma once
// The stream type of every CUDA kernel entry point, declared without the CUDA headers so that
// plain C++ files (the tensor layer) can name it. Stream is cudaStream_t; nullptr is the legacy
// default stream. The tensor layer passes cuda::prepare(device_index) (kernels/cuda/runtime.h).
struct CUstream_st;

namespace kiln::cuda {
using Stream = CUstream_st*;
}  // namespace kiln::cuda
