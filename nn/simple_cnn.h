#pragma once
// fastai's simple_cnn: a stack of stride-2 ConvLayers ending in global average pooling.
#include <cstdint>
#include <memory>
#include <vector>

#include "kiln/nn/containers.h"

namespace kiln::nn {

// ConvLayer(actns[i], actns[i+1], kernel_szs[i], strides[i], BatchNorm when bn and i < n-1 (the
// last conv has no BatchNorm, so it has a bias), ReLU) for each i < n = actns.size() - 1, then
// AdaptiveAvgPool2d(1) and Flatten. Empty kernel_szs / strides mean 3s / 2s.
// x [B, actns[0], H, W] -> [B, actns.back()].
std::shared_ptr<Sequential> simple_cnn(const std::vector<int64_t>& actns, std::vector<int64_t> kernel_szs = {},
                                       std::vector<int64_t> strides = {}, bool bn = false);

}  // namespace kiln::nn
