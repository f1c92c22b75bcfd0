#pragma once
// Normalisation layers with PyTorch's names, buffers and defaults.
#include <cstdint>
#include <optional>

#include "kiln/kernels/bn_act_math.h"
#include "kiln/nn/module.h"

namespace kiln::nn {

// Batch norm over channel dim 1. Parameters weight [C] (ones), bias [C] (zeros) when affine;
// buffers running_mean [C] (zeros), running_var [C] (ones), num_batches_tracked (0-d i64) when
// track_running_stats. Training: batch statistics normalise, the running statistics move by
// `momentum` (nullopt = cumulative average 1/num_batches_tracked, as PyTorch's momentum=None) and
// num_batches_tracked counts forwards. Eval: the running statistics normalise (batch statistics
// when track_running_stats is false).
class BatchNorm : public Module {
 public:
  int64_t num_features;
  double eps;
  std::optional<double> momentum;
  bool affine, track_running_stats;
  Tensor weight, bias, running_mean, running_var, num_batches_tracked;

  // This layer's forward followed by an activation (none, relu or leaky_relu with `slope`) in one
  // op (ag::batch_norm_act): what Sequential runs for a batch norm directly followed by ReLU or
  // LeakyReLU. Hooks of this module are not run (call it only for a module without hooks).
  Tensor forward_act(const Tensor& x, BnActivation act, double slope = 0.01);

 protected:
  BatchNorm(const char* type_name, int64_t num_features, double eps, std::optional<double> momentum, bool affine,
            bool track_running_stats);
  Tensor forward_impl(const Tensor& x) override;
  std::string extra_repr() const override;
  virtual void check_input(const Tensor& x) const = 0;
};

// x [B, C] or [B, C, L].
class BatchNorm1d : public BatchNorm {
 public:
  explicit BatchNorm1d(int64_t num_features, double eps = 1e-5, std::optional<double> momentum = 0.1,
                       bool affine = true, bool track_running_stats = true);

 protected:
  void check_input(const Tensor& x) const override;
};

// x [B, C, H, W].
class BatchNorm2d : public BatchNorm {
 public:
  explicit BatchNorm2d(int64_t num_features, double eps = 1e-5, std::optional<double> momentum = 0.1,
                       bool affine = true, bool track_running_stats = true);

 protected:
  void check_input(const Tensor& x) const override;
};

// Normalises over the trailing dims equal to normalized_shape; weight (ones) and bias (zeros) of
// that shape when elementwise_affine.
class LayerNorm : public Module {
 public:
  explicit LayerNorm(const Shape& normalized_shape, double eps = 1e-5, bool elementwise_affine = true);
  Shape normalized_shape;
  double eps;
  Tensor weight, bias;

 protected:
  Tensor forward_impl(const Tensor& x) override;
  std::string extra_repr() const override;
};

// x [B, C, *], C = num_channels divisible by num_groups; weight / bias [C] when affine.
class GroupNorm : public Module {
 public:
  GroupNorm(int64_t num_groups, int64_t num_channels, double eps = 1e-5, bool affine = true);
  int64_t num_groups, num_channels;
  double eps;
  Tensor weight, bias;

 protected:
  Tensor forward_impl(const Tensor& x) override;
  std::string extra_repr() const override;
};

}  // namespace kiln::nn
