#pragma once
// Differentiable matrix products (kiln::ag::<name>, same arguments as the raw ops in
// tensor/linalg.h). Gradients of broadcast batch dims are reduced with sum_to.
#include "kiln/autograd/node.h"
#include "kiln/tensor/linalg.h"

namespace kiln::ag {

// [M, K] x [K, N] -> [M, N].
Tensor mm(const Tensor& a, const Tensor& b);
// [B, M, K] x [B, K, N] -> [B, M, N].
Tensor bmm(const Tensor& a, const Tensor& b);
// numpy / torch.matmul rules (1-d x 1-d dot, 1-d promotions, batch broadcasting), see kiln::matmul.
Tensor matmul(const Tensor& a, const Tensor& b);
// beta * c + alpha * (a x b): a [M, K], b [K, N], c broadcastable to [M, N].
Tensor addmm(const Tensor& c, const Tensor& a, const Tensor& b, Scalar beta = 1, Scalar alpha = 1);
// a [N], b [M] -> [N, M].
Tensor outer(const Tensor& a, const Tensor& b);
// a [N], b [N] -> 0-d.
Tensor dot(const Tensor& a, const Tensor& b);

// The affine map of nn.Linear as one node: x [*, in], w [out, in], bias [out] or undefined ->
// y [*, out] = x w^T + bias. x may be 1-d ([in] -> [out]).
Tensor linear(const Tensor& x, const Tensor& w, const Tensor& bias = {});

}  // namespace kiln::ag
