#pragma once
// 2-d pooling on CUDA, forward and backward; the CPU reference is kernels/cpu/pool.h, with the same
// layouts: x is contiguous [P, H, W] (P = N * C planes), outputs [P, OH, OW], indices i64 flat
// positions ih * W + iw inside the input plane. Data of dtype f32, f64, f16 or bf16 is read and
// written in that dtype and computed in compute_t (f32, f64 for f64). Every pointer is device
// memory; launches are asynchronous on `stream`. Backward kernels write every element of dx and
// are deterministic (Note [Pool backward by gathering] in kernels/pool_math.h; max_pool2d_backward:
// Note [Max-pool backward by sorting] in pool.cu).
#include <cstdint>

#include "kiln/kernels/cpu/pool.h"
#include "kiln/kernels/cuda/stream.h"
#include "kiln/kernels/dtype.h"

namespace kiln::cuda {

using Pool2dGeom = cpu::Pool2dGeom;

// y = window max, idx = its flat position (first maximum, NaN wins), as cpu::max_pool2d_forward.
void max_pool2d_forward(DType dtype, const void* x, void* y, int64_t* idx, int64_t planes, const Pool2dGeom& g,
                        Stream stream);
// dx [P, in_plane] = sum of dy [P, out_plane] over the outputs whose index points at each element
// (zero elsewhere). Indices outside [0, in_plane) are ignored (the CPU reports them as an error;
// here they come from the forward). Needs P * out_plane < 2^31. Takes scratch memory from the
// caching allocator on `device`.
void max_pool2d_backward(DType dtype, const void* dy, const int64_t* idx, void* dx, int64_t planes,
                         int64_t in_plane, int64_t out_plane, int device, Stream stream);

// As cpu::avg_pool2d_forward / cpu::avg_pool2d_backward (divisor > 0 overrides the count).
void avg_pool2d_forward(DType dtype, const void* x, void* y, int64_t planes, const Pool2dGeom& g,
                        bool count_include_pad, int64_t divisor, Stream stream);
void avg_pool2d_backward(DType dtype, const void* dy, void* dx, int64_t planes, const Pool2dGeom& g,
                         bool count_include_pad, int64_t divisor, Stream stream);

// As the cpu:: adaptive pools; adaptive_max_pool2d_backward gathers dy where idx points at the element.
void adaptive_avg_pool2d_forward(DType dtype, const void* x, void* y, int64_t planes, int64_t H, int64_t W,
                                 int64_t OH, int64_t OW, Stream stream);
void adaptive_avg_pool2d_backward(DType dtype, const void* dy, void* dx, int64_t planes, int64_t H, int64_t W,
                                  int64_t OH, int64_t OW, Stream stream);
void adaptive_max_pool2d_forward(DType dtype, const void* x, void* y, int64_t* idx, int64_t planes, int64_t H,
                                 int64_t W, int64_t OH, int64_t OW, Stream stream);
void adaptive_max_pool2d_backward(DType dtype, const void* dy, const int64_t* idx, void* dx, int64_t planes,
                                  int64_t H, int64_t W, int64_t OH, int64_t OW, Stream stream);

}  // namespace kiln::cuda
