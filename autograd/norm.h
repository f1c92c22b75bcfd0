#pragma once
// Differentiable normalisations (arguments as tensor/norm.h); absent parameters are undefined
// tensors. Gradients for x, weight and bias; running statistics never get gradients.
#include "kiln/autograd/node.h"
#include "kiln/tensor/norm.h"

namespace kiln::ag {

// Batch norm of x [N, C, *]. In training the batch statistics normalise and running_mean /
// running_var (if given) are updated in place; in eval the running statistics (required) are
// constants.
Tensor batch_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, const Tensor& running_mean,
                  const Tensor& running_var, bool training, double momentum = 0.1, double eps = 1e-5);

// act(batch_norm(...)) in one op (Note [Batch norm + activation]): act is none, relu or leaky_relu
// (negative slope `slope`). Same values as batch_norm followed by relu / leaky_relu, without
// storing the normalised values: the backward recomputes them from x.
Tensor batch_norm_act(const Tensor& x, const Tensor& weight, const Tensor& bias, const Tensor& running_mean,
                      const Tensor& running_var, bool training, BnActivation act, double slope = 0.01,
                      double momentum = 0.1, double eps = 1e-5);

// Layer norm over x's trailing dims equal to normalized_shape; weight / bias of that shape or absent.
Tensor layer_norm(const Tensor& x, const Shape& normalized_shape, const Tensor& weight = {},
                  const Tensor& bias = {}, double eps = 1e-5);

// Group norm of x [N, C, *] with num_groups groups; weight / bias [C] or absent.
Tensor group_norm(const Tensor& x, int64_t num_groups, const Tensor& weight = {}, const Tensor& bias = {},
                  double eps = 1e-5);

}  // namespace kiln::ag
