#pragma once
// Portability macros shared by CPU and CUDA code.
#if defined(__CUDACC__)
#define KILN_HD __host__ __device__ __forceinline__
#define KILN_HOST_DEVICE __host__ __device__
#else
#define KILN_HD inline
#define KILN_HOST_DEVICE
#endif

#if defined(_MSC_VER)
#define KILN_RESTRICT __restrict
#else
#define KILN_RESTRICT __restrict__
#endif
