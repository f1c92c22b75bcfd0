#pragma once
// Activation modules (no parameters), PyTorch's names and defaults.
#include <cstdint>

#include "kiln/nn/module.h"
#include "kiln/tensor/elementwise.h"

namespace kiln::nn {

class ReLU : public Module {
 public:
  ReLU() : Module("ReLU") {}

 protected:
  Tensor forward_impl(const Tensor& x) override;
};

class LeakyReLU : public Module {
 public:
  explicit LeakyReLU(double negative_slope = 0.01) : Module("LeakyReLU"), negative_slope(negative_slope) {}
  double negative_slope;

 protected:
  Tensor forward_impl(const Tensor& x) override;
  std::string extra_repr() const override;
};

class GELU : public Module {
 public:
  explicit GELU(GeluApprox approximate = GeluApprox::none) : Module("GELU"), approximate(approximate) {}
  GeluApprox approximate;

 protected:
  Tensor forward_impl(const Tensor& x) override;
  std::string extra_repr() const override;
};

class SiLU : public Module {
 public:
  SiLU() : Module("SiLU") {}

 protected:
  Tensor forward_impl(const Tensor& x) override;
};

class Mish : public Module {
 public:
  Mish() : Module("Mish") {}

 protected:
  Tensor forward_impl(const Tensor& x) override;
};

class Sigmoid : public Module {
 public:
  Sigmoid() : Module("Sigmoid") {}

 protected:
  Tensor forward_impl(const Tensor& x) override;
};

class Tanh : public Module {
 public:
  Tanh() : Module("Tanh") {}

 protected:
  Tensor forward_impl(const Tensor& x) override;
};

// Softmax along dim (negative counts from the end).
class Softmax : public Module {
 public:
  explicit Softmax(int64_t dim) : Module("Softmax"), dim(dim) {}
  int64_t dim;

 protected:
  Tensor forward_impl(const Tensor& x) override;
  std::string extra_repr() const override;
};

// fastai's SigmoidRange: sigmoid(x) * (high - low) + low.
class SigmoidRange : public Module {
 public:
  SigmoidRange(double low, double high) : Module("SigmoidRange"), low(low), high(high) {}
  double low, high;

 protected:
  Tensor forward_impl(const Tensor& x) override;
  std::string extra_repr() const override;
};

// The function form of SigmoidRange.
Tensor sigmoid_range(const Tensor& x, double low, double high);

}  // namespace kiln::nn
