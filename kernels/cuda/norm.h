#pragma once
// Layer norm, group norm and batch norm on CUDA, forward and backward; the CPU references are
// kernels/cpu/norm.h (layer / group norm) and tensor/norm.cpp (batch norm, whose CUDA kernels are
// the fused batch norm + activation of kernels/cuda/bn_act.h with no activation).
//
// Layouts: x, y, dy, dx are contiguous, stored in `dtype` (f32, f64, f16, bf16) and computed in
// compute_t (f32; f64 for f64). Parameters (weight, bias), statistics (mean, rstd, save_mean,
// save_invstd, running_mean, running_var) and parameter gradients (dweight, dbias) are contiguous in
// the compute type. A null weight means ones, a null bias zeros. Every pointer is device memory;
// launches are asynchronous on `stream`; scratch memory comes from the caching allocator on
// `device` and is released stream-ordered.
//
// Statistics and normalisation are fused: one block per row reduces it in a fixed tree (Note
// [Deterministic block reduction] in layer_reduce.cuh) and then writes the row's outputs (few long
// rows are split over several blocks instead: Note [Few long rows] in norm.cu).
// Parameter gradients sum per-block partials in a fixed order (no float atomics): runs of the
// same inputs are bit-identical.
#include <cstdint>

#include "kiln/kernels/bn_act_math.h"
#include "kiln/kernels/cuda/stream.h"
#include "kiln/kernels/dtype.h"

namespace kiln::cuda {

// Layer norm of x [M, N] over each row: mean[r], rstd[r] = 1 / sqrt(biased var + eps) ([M]),
// y = (x - mean) * rstd * w + b with w, b [N].
void layer_norm_forward(DType dtype, const void* x, const void* w, const void* b, void* y, void* mean, void* rstd,
                        int64_t M, int64_t N, double eps, int device, Stream stream);
// dx [M, N], and dw, db [N] (always written: zeros when M == 0; dw is the gradient a weight of ones
// would get when w is null).
void layer_norm_backward(DType dtype, const void* dy, const void* x, const void* mean, const void* rstd,
                         const void* w, void* dx, void* dw, void* db, int64_t M, int64_t N, int device,
                         Stream stream);

// Group norm of x [N, C, S] with G groups of C / G channels: mean, rstd [N, G];
// y = (x - mean) * rstd * w[c] + b[c] with w, b [C].
void group_norm_forward(DType dtype, const void* x, const void* w, const void* b, void* y, void* mean, void* rstd,
                        int64_t N, int64_t C, int64_t S, int64_t G, double eps, int device, Stream stream);
// dx [N, C, S], dw, db [C] (always written).
void group_norm_backward(DType dtype, const void* dy, const void* x, const void* mean, const void* rstd,
                         const void* w, void* dx, void* dw, void* db, int64_t N, int64_t C, int64_t S, int64_t G,
                         int device, Stream stream);

// Batch norm of x [N, C, S] (tensor/norm.h batch_norm_forward): training uses the batch mean and
// biased variance and, when running_mean / running_var are given, updates them in place with
// momentum and the unbiased variance; eval uses the running statistics. save_mean / save_invstd [C]
// receive the statistics used. act / slope: the activation applied in the same pass (Note [Batch
// norm + activation]).
void batch_norm_forward(DType dtype, const void* x, void* y, const void* w, const void* b, void* running_mean,
                        void* running_var, void* save_mean, void* save_invstd, int64_t N, int64_t C, int64_t S,
                        bool training, double momentum, double eps, BnActivation act, double slope, int device,
                        Stream stream);
// dx [N, C, S], dw = sum(dz (x - mean)) * invstd and db = sum(dz) [C], dz = dy act'(z) (b is read
// to recompute z when act is not none; may be null).
void batch_norm_backward(DType dtype, const void* dy, const void* x, const void* w, const void* b,
                         const void* save_mean, const void* save_invstd, void* dx, void* dw, void* db, int64_t N,
                         int64_t C, int64_t S, bool training, BnActivation act, double slope, int device,
                         Stream stream);

}  // namespace kiln::cuda
