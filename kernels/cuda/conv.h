#pragma once
// 2-d convolutions on CUDA, callable from plain C++ (no CUDA or cuDNN headers). The three
// convolution passes run on cuDNN 9 (Note [cuDNN algorithm cache] in conv.cu); the bias passes
// are kiln kernels. Layouts as kernels/cpu/conv2d.h: contiguous NCHW x [B, C, H, W], weight
// [O, C/groups, KH, KW], y [B, O, OH, OW], geometry (stride, padding, dilation, groups) in a
// cpu::Conv2dGeom validated by the tensor layer. Pointers are device memory on the current device;
// work is queued on `stream`. Dtypes f32, f64, f16, bf16 (16-bit stored, f32 compute: cuDNN's
// "pseudo half" configuration). Each tensor must have fewer than 2^31 elements (cuDNN's legacy API
// takes int sizes and strides).
//
// A build without cuDNN (KILN_HAVE_CUDNN undefined) has these functions too: the cuDNN ones throw
// "built without cuDNN", the bias kernels work.
#include <cstdint>

#include "kiln/kernels/cpu/conv_geom.h"
#include "kiln/kernels/cuda/stream.h"
#include "kiln/kernels/dtype.h"

struct cudnnContext;  // cudnnHandle_t is cudnnContext*

namespace kiln::cuda {

// The geometry struct is shared with the CPU kernels (it holds no CPU-specific data).
using Conv2dGeom = cpu::Conv2dGeom;

// y = x (*) w, no bias.
void conv2d_forward(DType dtype, const Conv2dGeom& g, const void* x, const void* w, void* y, Stream stream);
// dx [B, C, H, W] = gradient of the input from dy [B, O, OH, OW] and w. Also conv_transpose2d's
// forward pass (x in the role of dy).
void conv2d_backward_data(DType dtype, const Conv2dGeom& g, const void* dy, const void* w, void* dx, Stream stream);
// dw [O, C/groups, KH, KW] = gradient of the weight from dy and x.
void conv2d_backward_weight(DType dtype, const Conv2dGeom& g, const void* dy, const void* x, void* dw,
                            Stream stream);

// y [B, C, HW] += bias [C] broadcast over B and HW (f16/bf16 added in f32, rounded once).
void add_channel_bias(DType dtype, int64_t B, int64_t C, int64_t HW, const void* bias, void* y, Stream stream);
// db [O] = sum of dy [B, O, HW] over B and HW, accumulated in f64 in a fixed order (deterministic,
// as the CPU's conv2d_backward_bias). HW may be 0 (db = 0).
void conv2d_backward_bias(DType dtype, int64_t B, int64_t O, int64_t HW, const void* dy, void* db, Stream stream);

// ---- the algorithm cache (tests and benchmarks) ---------------------------------------------------

enum class ConvDirection { forward, backward_data, backward_weight };

// What was chosen for one convolution: cuDNN's algorithm enum value (cudnnConvolutionFwdAlgo_t,
// cudnnConvolutionBwdDataAlgo_t or cudnnConvolutionBwdFilterAlgo_t as an int), the math type it
// runs with (cudnnMathType_t), its workspace, the time cuDNN measured while searching, and whether
// it is deterministic.
struct ConvAlgorithm {
  bool found = false;
  int algo = 0;
  int math_type = 0;
  int64_t workspace_bytes = 0;
  float search_time_ms = 0;
  bool deterministic = false;
};

// The cached choice for this convolution under the current flags (deterministic mode, TF32) on the
// current device; found == false when no call has searched it yet. Benchmarks call kiln's op once,
// then time cudnnConvolution* directly with this algorithm on cudnn_handle().
ConvAlgorithm conv2d_cached_algorithm(ConvDirection direction, DType dtype, const Conv2dGeom& g);
// How many algorithm searches (cudnnFind*AlgorithmEx calls) this process has made: a second call
// with the same shape must not add one.
int64_t conv2d_algorithm_searches();
// Empties the cache (the next call of each shape searches again).
void conv2d_clear_algorithm_cache();
// The calling thread's cuDNN handle for the current device, bound to `stream` (Note [Vendor
// handles] in handle_pool.h). Throws without cuDNN.
cudnnContext* cudnn_handle(Stream stream);

}  // namespace kiln::cuda
