#pragma once
// Batch norm + activation on CUDA (Note [Batch norm + activation] in kernels/bn_act_math.h); the
// CPU reference is kernels/cpu/bn_act.h, with the same arguments, layouts and dtypes. Callable
// from plain C++; every pointer except the workspace size is device memory.
//
// Per-channel sums are deterministic: a channel's N rows are cut into P chunks (P from N, C, S
// only), each chunk is reduced by one block in a fixed tree (Note [Deterministic block reduction]
// in layer_reduce.cuh) into the workspace, and one thread per channel adds the P partial sums in
// order. Runs of the same inputs are bit-identical.
#include <cstddef>
#include <cstdint>

#include "kiln/kernels/bn_act_math.h"
#include "kiln/kernels/dtype.h"
#include "kiln/kernels/cuda/stream.h"

namespace kiln::cuda {

// Bytes of device workspace bn_act_forward / bn_act_backward need for these sizes (256-byte
// aligned memory, e.g. from cudaMalloc).
size_t bn_act_workspace_size(DType dtype, int64_t N, int64_t C, int64_t S);

// As cpu::bn_act_forward. Errors (bad arguments, launch failures) throw kiln::Error.
void bn_act_forward(DType dtype, const void* x, void* y, const void* weight, const void* bias, void* running_mean,
                    void* running_var, void* save_mean, void* save_invstd, int64_t N, int64_t C, int64_t S,
                    const BnActParams& p, void* workspace, size_t workspace_bytes, Stream stream);

// As cpu::bn_act_backward.
void bn_act_backward(DType dtype, const void* dy, const void* x, const void* weight, const void* bias,
                     const void* save_mean, const void* save_invstd, void* dx, void* dweight, void* dbias, int64_t N,
                     int64_t C, int64_t S, const BnActParams& p, void* workspace, size_t workspace_bytes,
                     Stream stream);

}  // namespace kiln::cuda
