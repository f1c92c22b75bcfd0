#pragma once
// Batch norm and layer norm, forward and backward.
//
// Optional tensor arguments (weight, bias, running statistics) are passed as an undefined
// Tensor (`Tensor{}`) when absent. Inputs are floating (f16/bf16 computed in f32). Saved
// statistics (save_mean, save_invstd, mean, rstd) are in the compute dtype: f64 for f64 inputs,
// f32 otherwise.
#include "kiln/kernels/bn_act_math.h"
#include "kiln/tensor/tensor.h"

namespace kiln {

struct BatchNormResult {
  Tensor y;            // x's shape and dtype
  Tensor save_mean;    // [C]
  Tensor save_invstd;  // [C]
};

// Gradients of a normalisation: dx (x's shape and dtype), dweight and dbias (the parameter's shape,
// x's dtype). dweight and dbias are always computed (for an absent weight, dweight is the gradient a
// weight of ones would get).
struct NormGrads {
  Tensor dx;
  Tensor dweight;
  Tensor dbias;
};

// Batch norm over x [N, C, *] (rank >= 2; channels are dim 1, statistics over N and the trailing
// dims). weight, bias, running_mean, running_var are [C] or absent.
// training: normalises with the batch mean and biased variance; save_mean / save_invstd are those
//   statistics (invstd = 1 / sqrt(var + eps)); when given, running_mean and running_var are updated
//   in place: r = (1 - momentum) * r + momentum * batch_stat, with the unbiased variance for
//   running_var (as PyTorch). Needs more than one value per channel.
// eval: normalises with running_mean and running_var (both required); save_mean / save_invstd are
//   the running mean and 1 / sqrt(running_var + eps), which is what batch_norm_backward needs.
// act: an activation applied to the normalised values in the same pass (Note [Batch norm +
//   activation]): none, relu or leaky_relu (negative slope `slope`); silu is refused. The
//   coefficients are formed from save_mean / save_invstd as stored (rounded to the compute dtype),
//   so that the backward recomputes exactly the forward's pre-activation values.
BatchNormResult batch_norm_forward(const Tensor& x, const Tensor& weight, const Tensor& bias,
                                   const Tensor& running_mean, const Tensor& running_var, bool training,
                                   double momentum = 0.1, double eps = 1e-5, BnActivation act = BnActivation::none,
                                   double slope = 0.01);

// Gradients of batch_norm_forward from dy (x's shape), x, weight (or absent) and the forward's
// save_mean / save_invstd; `training` must match the forward (in eval the statistics are constants).
// With an activation, bias (or absent) and act / slope must be the forward's: the pre-activation
// values are recomputed from x, never stored.
NormGrads batch_norm_backward(const Tensor& dy, const Tensor& x, const Tensor& weight, const Tensor& save_mean,
                              const Tensor& save_invstd, bool training, const Tensor& bias = {},
                              BnActivation act = BnActivation::none, double slope = 0.01);

struct LayerNormResult {
  Tensor y;     // x's shape and dtype
  Tensor mean;  // x's shape with the normalized dims set to 1 (as PyTorch)
  Tensor rstd;  // same shape as mean: 1 / sqrt(biased var + eps)
};

// Layer norm of x over its trailing dims equal to normalized_shape (non-empty); weight and bias
// have shape normalized_shape or are absent. y = (x - mean) * rstd * weight + bias.
LayerNormResult layer_norm(const Tensor& x, const Shape& normalized_shape, const Tensor& weight = {},
                           const Tensor& bias = {}, double eps = 1e-5);

// Gradients of layer_norm from dy (x's shape), x, the forward's mean and rstd, and weight (or absent).
NormGrads layer_norm_backward(const Tensor& dy, const Tensor& x, const Tensor& mean, const Tensor& rstd,
                              const Tensor& weight = {});

struct GroupNormResult {
  Tensor y;     // x's shape and dtype
  Tensor mean;  // [N, G]
  Tensor rstd;  // [N, G]: 1 / sqrt(biased var + eps)
};

// Group norm of x [N, C, *] (rank >= 2) with num_groups groups of C / num_groups consecutive
// channels (C must be divisible by it); statistics per sample and group over its channels and
// trailing dims; weight and bias are [C] or absent: y = (x - mean) * rstd * weight[c] + bias[c].
GroupNormResult group_norm(const Tensor& x, int64_t num_groups, const Tensor& weight = {}, const Tensor& bias = {},
                           double eps = 1e-5);

// Gradients of group_norm from dy (x's shape), x, the forward's mean and rstd, and weight (or absent).
NormGrads group_norm_backward(const Tensor& dy, const Tensor& x, const Tensor& mean, const Tensor& rstd,
                              int64_t num_groups, const Tensor& weight = {});

}  // namespace kiln
