#pragma once
// fastai's Learner defaults for the optimizer's per-parameter masks (Note [Optimizer]):
// - wd_bn_bias = false: no weight decay on normalisation-layer parameters and on biases;
// - train_bn = true: normalisation-layer parameters keep training when their group is frozen.
// "Normalisation layer" is fastai's norm_types: BatchNorm1d/2d/3d, InstanceNorm1d/2d/3d and
// LayerNorm (GroupNorm is not one: only its bias is a "bias" parameter).
#include <vector>

#include "kiln/learner/optimizer.h"
#include "kiln/nn/module.h"

namespace kiln::optim {

// Parameters of the normalisation layers of `model`, plus (with_bias) every module's "bias".
std::vector<Tensor> norm_bias_params(nn::Module& model, bool with_bias = true);

// Sets do_wd = false on norm_bias_params(model, true) unless wd_bn_bias, and force_train = true on
// norm_bias_params(model, false) when train_bn. Parameters of `model` that the optimizer does not
// hold are ignored.
void apply_norm_bias_masks(Optimizer& opt, nn::Module& model, bool wd_bn_bias = false, bool train_bn = true);

}  // namespace kiln::optim
