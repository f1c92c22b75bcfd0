#pragma once
// Portability macros shared by CPU and CUDA code.
#if defined(__CUDACC__)
#define KILN_HD __host__ __device__ __forceinline__
#define KILN_HOST_DEVICE __host__ __device__
#else
#define KILN_HD inline
#define KILN_HOST_DEVICE
#endif

// Around code that calls AVX-512 intrinsics: GCC 12 reports the intrinsics' internal "undefined"
// passthrough operands as maybe-uninitialized.
#if defined(__GNUC__) && !defined(__clang__)
#define KILN_INTRINSIC_WARNINGS_OFF                                   \
  _Pragma("GCC diagnostic push") _Pragma("GCC diagnostic ignored \"-Wmaybe-uninitialized\"") \
      _Pragma("GCC diagnostic ignored \"-Wuninitialized\"")
#define KILN_INTRINSIC_WARNINGS_ON _Pragma("GCC diagnostic pop")
#else
#define KILN_INTRINSIC_WARNINGS_OFF
#define KILN_INTRINSIC_WARNINGS_ON
#endif

#if defined(_MSC_VER)
#define KILN_RESTRICT __restrict
#else
#define KILN_RESTRICT __restrict__
#endif
