#pragma once
// Weight re-parametrisations with PyTorch's semantics and state-dict names:
// torch.nn.utils.spectral_norm and torch.nn.utils.weight_norm.
//
// Note [Weight re-parametrisation]
// The layer's parameter "weight" is unregistered and replaced by new parameters / buffers; a
// forward pre-hook recomputes the layer's `weight` member from them before every call, through
// autograd ops, so gradients reach the new parameters. Until the first call the member is the
// tensor of the first new parameter itself (spectral norm: weight_orig, as PyTorch's weight.data
// shares its storage) or the recomputed weight (weight norm), so an in-place initialisation of the
// member before any forward (fastai's init_cnn / apply_init) reaches the parameter as in PyTorch.
// Supported layers: Linear, Conv1d, Conv2d, ConvTranspose2d.
#include <cstdint>
#include <optional>

#include "kiln/nn/module.h"
#include "kiln/tensor/random.h"

namespace kiln::nn {

struct SpectralNormOptions {
  int64_t n_power_iterations = 1;
  double eps = 1e-12;
  // The weight dim that indexes the rows of the matrix whose largest singular value is divided
  // out; default 0, 1 for ConvTranspose2d (PyTorch's choice).
  std::optional<int64_t> dim;
  Generator* gen = nullptr;  // for the initial u, v
};

// spectral_norm(layer): parameter weight_orig (the old weight), buffers weight_u [h] and weight_v
// [w] (random unit vectors; W = weight_orig with `dim` moved first, viewed [h, w]). Before every
// forward: in training, n_power_iterations of v = normalize(W^T u), u = normalize(W v) (no grad,
// written back to the buffers); then weight = weight_orig / (u . W v). In eval the stored u, v are
// used as they are. normalize(a) = a / max(|a|, eps).
void spectral_norm(Module& layer, const SpectralNormOptions& opts = {});

// weight_norm(layer, dim): parameters weight_g (the norm of the old weight over every dim but
// `dim`, kept as size-1 dims: [O, 1, 1, 1] for a conv with dim 0; a 0-d tensor for dim = nullopt,
// the norm of the whole tensor) and weight_v (the old weight). Before every forward:
// weight = weight_v * weight_g / norm(weight_v) with the same norm.
void weight_norm(Module& layer, std::optional<int64_t> dim = 0);

}  // namespace kiln::nn
