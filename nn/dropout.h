#pragma once
// Dropout layers: identity in eval mode; in training, inverted dropout (kept values scaled by
// 1/(1-p)) with masks from the given generator (null = the default generator).
#include "kiln/nn/module.h"
#include "kiln/tensor/random.h"

namespace kiln::nn {

// Elementwise dropout, p in [0, 1].
class Dropout : public Module {
 public:
  explicit Dropout(double p = 0.5, Generator* gen = nullptr);
  double p;
  Generator* gen;

 protected:
  Tensor forward_impl(const Tensor& x) override;
  std::string extra_repr() const override;
};

// Whole-channel dropout of x [B, C, *]: one mask value per (b, c).
class Dropout2d : public Module {
 public:
  explicit Dropout2d(double p = 0.5, Generator* gen = nullptr);
  double p;
  Generator* gen;

 protected:
  Tensor forward_impl(const Tensor& x) override;
  std::string extra_repr() const override;
};

}  // namespace kiln::nn
