#include "kiln/nn/norm.h"

#include <sstream>

#include "kiln/autograd/norm.h"
#include "kiln/tensor/creation.h"
#include "kiln/tensor/elementwise.h"

namespace kiln::nn {

BatchNorm::BatchNorm(const char* type_name, int64_t nf, double eps_, std::optional<double> momentum_, bool affine_,
                     bool track)
    : Module(type_name), num_features(nf), eps(eps_), momentum(momentum_), affine(affine_),
      track_running_stats(track) {
  KILN_CHECK(nf > 0, type_name, ": num_features must be positive, got ", nf);
  KILN_CHECK(eps_ >= 0, type_name, ": eps must be >= 0, got ", eps_);
  if (affine) {
    weight = register_parameter("weight", ones({nf}));
    bias = register_parameter("bias", zeros({nf}));
  }
  if (track) {
    running_mean = register_buffer("running_mean", zeros({nf}));
    running_var = register_buffer("running_var", ones({nf}));
    num_batches_tracked = register_buffer("num_batches_tracked", zeros({}, DType::i64));
  }
}

Tensor BatchNorm::forward_impl(const Tensor& x) { return forward_act(x, BnActivation::none); }

Tensor BatchNorm::forward_act(const Tensor& x, BnActivation act, double slope) {
  check_input(x);
  KILN_CHECK(x.size(1) == num_features, type_name(), ": input has ", x.size(1), " channels, expected ",
             num_features, " (input shape ", x.shape(), ")");
  bool use_batch_stats = is_training() || !track_running_stats;
  double m = 0.0;
  if (is_training() && track_running_stats) {
    {
      ag::NoGradGuard ng;
      kiln::add_(num_batches_tracked, 1);
    }
    m = momentum ? *momentum : 1.0 / double(num_batches_tracked.item<int64_t>());
  }
  // The op updates the running statistics in place only when it normalises with batch statistics,
  // which with tracking happens only in training; without tracking they are undefined.
  if (act == BnActivation::none) return ag::batch_norm(x, weight, bias, running_mean, running_var, use_batch_stats, m, eps);
  return ag::batch_norm_act(x, weight, bias, running_mean, running_var, use_batch_stats, act, slope, m, eps);
}

std::string BatchNorm::extra_repr() const {
  std::ostringstream s;
  s << num_features << ", eps=" << eps << ", momentum=";
  if (momentum) s << *momentum; else s << "None";
  s << ", affine=" << (affine ? "True" : "False") << ", track_running_stats=" << (track_running_stats ? "True" : "False");
  return s.str();
}

BatchNorm1d::BatchNorm1d(int64_t nf, double eps, std::optional<double> momentum, bool affine, bool track)
    : BatchNorm("BatchNorm1d", nf, eps, momentum, affine, track) {}

void BatchNorm1d::check_input(const Tensor& x) const {
  KILN_CHECK(x.dim() == 2 || x.dim() == 3, "BatchNorm1d: expected 2-d or 3-d input, got shape ", x.shape());
}

BatchNorm2d::BatchNorm2d(int64_t nf, double eps, std::optional<double> momentum, bool affine, bool track)
    : BatchNorm("BatchNorm2d", nf, eps, momentum, affine, track) {}

void BatchNorm2d::check_input(const Tensor& x) const {
  KILN_CHECK(x.dim() == 4, "BatchNorm2d: expected 4-d input [B, C, H, W], got shape ", x.shape());
}

LayerNorm::LayerNorm(const Shape& ns, double eps_, bool affine) : Module("LayerNorm"), normalized_shape(ns), eps(eps_) {
  KILN_CHECK(!ns.empty(), "LayerNorm: normalized_shape must not be empty");
  if (affine) {
    weight = register_parameter("weight", ones(ns));
    bias = register_parameter("bias", zeros(ns));
  }
}

Tensor LayerNorm::forward_impl(const Tensor& x) { return ag::layer_norm(x, normalized_shape, weight, bias, eps); }

std::string LayerNorm::extra_repr() const {
  std::ostringstream s;
  s << "(";
  for (int i = 0; i < normalized_shape.size(); ++i) s << normalized_shape[i] << (normalized_shape.size() == 1 ? "," : i + 1 < normalized_shape.size() ? ", " : "");
  s << "), eps=" << eps << ", elementwise_affine=" << (weight.defined() ? "True" : "False");
  return s.str();
}

GroupNorm::GroupNorm(int64_t g, int64_t c, double eps_, bool affine)
    : Module("GroupNorm"), num_groups(g), num_channels(c), eps(eps_) {
  KILN_CHECK(g > 0 && c > 0 && c % g == 0, "GroupNorm: num_channels=", c, " must be divisible by num_groups=", g);
  if (affine) {
    weight = register_parameter("weight", ones({c}));
    bias = register_parameter("bias", zeros({c}));
  }
}

Tensor GroupNorm::forward_impl(const Tensor& x) {
  KILN_CHECK(x.dim() >= 2 && x.size(1) == num_channels, "GroupNorm: expected input [B, ", num_channels,
             ", *], got ", x.shape());
  return ag::group_norm(x, num_groups, weight, bias, eps);
}

std::string GroupNorm::extra_repr() const {
  std::ostringstream s;
  s << num_groups << ", " << num_channels << ", eps=" << eps << ", affine=" << (weight.defined() ? "True" : "False");
  return s.str();
}

}  // namespace kiln::nn
