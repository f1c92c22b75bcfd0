// fastai's wd_bn_bias / train_bn masks (param_masks.h).
#include "kiln/learner/param_masks.h"

#include <set>
#include <string>

namespace kiln::optim {

namespace {

bool is_norm_type(const std::string& t) {
  static const std::set<std::string> kNorm{"BatchNorm1d",    "BatchNorm2d",    "BatchNorm3d", "InstanceNorm1d",
                                           "InstanceNorm2d", "InstanceNorm3d", "LayerNorm"};
  return kNorm.count(t) > 0;
}

void collect(nn::Module& m, bool with_bias, std::vector<Tensor>& out) {
  if (is_norm_type(m.type_name())) {
    for (const auto& p : m.parameters(true)) out.push_back(p);
    return;
  }
  for (const auto& [name, child] : m.named_children()) collect(*child, with_bias, out);
  if (with_bias)
    for (const auto& [name, p] : m.named_parameters(false))
      if (name == "bias") out.push_back(p);
}

}  // namespace

std::vector<Tensor> norm_bias_params(nn::Module& model, bool with_bias) {
  std::vector<Tensor> out;
  collect(model, with_bias, out);
  return out;
}

void apply_norm_bias_masks(Optimizer& opt, nn::Module& model, bool wd_bn_bias, bool train_bn) {
  if (!wd_bn_bias)
    for (const auto& p : norm_bias_params(model, true))
      if (opt.has_param(p)) opt.set_do_wd(p, false);
  if (train_bn)
    for (const auto& p : norm_bias_params(model, false))
      if (opt.has_param(p)) opt.set_force_train(p, true);
}

}  // namespace kiln::optim
