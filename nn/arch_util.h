#pragma once
// Helpers shared by fastai's architectures (xresnet, simple_cnn, unet, tabular...): fastai's
// init_cnn and a parameter counter. The building blocks (ConvLayer, LinBnDrop, Flatten,
// PixelShuffle_ICNR) are in nn/layers.h.
#include <cstdint>
#include <functional>

#include "kiln/nn/module.h"
#include "kiln/tensor/random.h"

namespace kiln::nn {

// fastai's init_cnn: every Conv1d / Conv2d / Linear in the tree (recursively) gets a kaiming-normal
// weight (init::kaiming_normal_: fan_in, gain sqrt(2)) and a zero bias (if it has one).
void init_cnn(Module& m, Generator* gen = nullptr);

// fastai's apply_init(m, func) with func = kaiming_normal_: every module of the tree (m included)
// that is not a norm layer (BatchNorm, LayerNorm, GroupNorm) and whose first parameter (in
// named_parameters order) requires grad gets, when it is a Linear, convolution or Embedding,
// init(weight) and a zero bias. init null = init::kaiming_normal_ (fan_in, gain sqrt(2)).
void apply_init(Module& m, const std::function<void(const Tensor&)>& init = nullptr, Generator* gen = nullptr);

// Number of elements over all parameters of m (recursively).
int64_t num_parameters(const Module& m);

}  // namespace kiln::nn
