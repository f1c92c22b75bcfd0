#pragma once
// Helpers shared by fastai's architectures (xresnet, simple_cnn, unet, tabular...): fastai's
// init_cnn and a ConvLayer builder with fastai's defaults.
#include <cstdint>

#include "kiln/nn/module.h"
#include "kiln/tensor/random.h"

namespace kiln::nn {

// fastai's init_cnn: every Conv1d / Conv2d / Linear in the tree (recursively) gets a kaiming-normal
// weight (fan_in, gain sqrt(2)) and a zero bias (if it has one).
void init_cnn(Module& m, Generator* gen = nullptr);

// Normalisation and activation choices of fastai's ConvLayer as the architectures use them.
enum class ArchNorm { none, batch, batch_zero };  // batch_zero: BatchNorm with gamma initialised 0
enum class ArchAct { none, relu, sigmoid };

// fastai's ConvLayer(ni, nf, ks, stride, padding = (ks-1)/2, norm_type, act_cls) for 2-d inputs, as a
// Sequential [Conv2d (bias only when there is no BatchNorm), BatchNorm2d?, act?] (bn_1st order), so
// state-dict names are fastai's ("0.weight", "1.running_mean"...). The conv weight is
// kaiming-normal initialised (fastai's init for ConvLayer with ReLU) and its bias zero.
ModulePtr arch_conv_layer(int64_t ni, int64_t nf, int64_t ks = 3, int64_t stride = 1, ArchNorm norm = ArchNorm::batch,
                          ArchAct act = ArchAct::relu);

// fastai's LinBnDrop(n_in, n_out, bn, p, act, lin_first) as a Sequential: [BatchNorm1d(n_out if
// lin_first else n_in)]? [Dropout(p)]? (when p > 0) and [Linear(n_in, n_out, bias = !bn), act?], the
// linear part first when lin_first. Names match fastai's state dicts.
ModulePtr arch_lin_bn_drop(int64_t n_in, int64_t n_out, bool bn = true, double p = 0.0, ArchAct act = ArchAct::none,
                           bool lin_first = false);

// Flatten from dim 1 ([B, ...] -> [B, N]).
ModulePtr arch_flatten();

// Number of elements over all parameters of m (recursively).
int64_t num_parameters(const Module& m);

}  // namespace kiln::nn
