#pragma once
// Batch norm + activation, CPU reference (Note [Batch norm + activation] in kernels/bn_act_math.h);
// the CUDA kernels (kernels/cuda/bn_act.h) compute the same.
//
// Layouts: x, y, dy, dx are contiguous [N, C, S] of dtype (f32, f64, f16, bf16). The per-channel
// arrays (weight, bias, running_mean, running_var, save_mean, save_invstd, dweight, dbias) are [C]
// of the compute type: double for f64 data, float otherwise.
#include <cstdint>

#include "kiln/kernels/bn_act_math.h"
#include "kiln/kernels/dtype.h"

namespace kiln::cpu {

// y = act(batch_norm(x)). weight / bias may be null (ones / zeros). training: save_mean and
// save_invstd receive the batch statistics, and running_mean / running_var (both or neither) are
// updated in place; needs N * S > 1 unless C == 0. eval: running_mean / running_var are required
// and read; save_mean / save_invstd receive running_mean and 1 / sqrt(running_var + eps).
// save_mean / save_invstd may be null when not wanted.
void bn_act_forward(DType dtype, const void* x, void* y, const void* weight, const void* bias, void* running_mean,
                    void* running_var, void* save_mean, void* save_invstd, int64_t N, int64_t C, int64_t S,
                    const BnActParams& p);

// Gradients from dy, x, weight / bias (may be null; bias is only read to recompute z when the
// activation is not none) and the forward's save_mean / save_invstd; p.training must match the
// forward. dx, dweight, dbias may each be null (not computed); dweight / dbias are written for
// every channel (zeros when N * S == 0).
void bn_act_backward(DType dtype, const void* dy, const void* x, const void* weight, const void* bias,
                     const void* save_mean, const void* save_invstd, void* dx, void* dweight, void* dbias, int64_t N,
                     int64_t C, int64_t S, const BnActParams& p);

}  // namespace kiln::cpu
