#pragma once
// nn.Linear: y = x w^T + b, PyTorch's parameter names, shapes and default initialisation.
#include <cstdint>

#include "kiln/nn/module.h"

namespace kiln::nn {

// x [*, in_features] -> y [*, out_features]. Parameters: weight [out, in], bias [out] (absent
// when bias = false). Initialisation as PyTorch: weight and bias uniform in +-1/sqrt(in_features)
// (kaiming_uniform with a = sqrt(5)).
class Linear : public Module {
 public:
  Linear(int64_t in_features, int64_t out_features, bool bias = true);
  int64_t in_features, out_features;
  Tensor weight, bias;

 protected:
  Tensor forward_impl(const Tensor& x) override;
  std::string extra_repr() const override;
};

}  // namespace kiln::nn
