// The generic optimizer: Note [Optimizer] in optimizer.h.
#include "kiln/learner/optimizer.h"

#include <cmath>
#include <sstream>

#include "kiln/autograd/grad_mode.h"
#include "kiln/autograd/node.h"
#include "kiln/kernels/cpu/optim.h"
#include "kiln/kernels/error.h"
#include "kiln/tensor/ops.h"

namespace kiln::optim {

double StepContext::hyper(const std::string& name) const {
  auto it = hypers.find(name);
  KILN_CHECK(it != hypers.end(), "optimizer: hyper-parameter '", name,
             "' is not set; add it to the group's hypers or to a callback's defaults");
  return it->second;
}

Tensor ParamState::buffer(const std::string& name, const Tensor& like) {
  auto it = buffers.find(name);
  if (it == buffers.end()) it = buffers.emplace(name, zeros(like.shape(), DType::f32, like.device())).first;
  return it->second;
}

Tensor ParamState::master(const Tensor& param) {
  auto it = buffers.find("master");
  if (it == buffers.end()) it = buffers.emplace("master", param.to(DType::f32).contiguous()).first;
  return it->second;
}

Tensor StepContext::buffer(const std::string& name) { return state.buffer(name, param); }

double StepContext::value(const std::string& name, double initial) const {
  auto it = state.values.find(name);
  return it == state.values.end() ? initial : it->second;
}

namespace {

std::vector<ParamGroup> groups_from_lists(std::vector<std::vector<Tensor>> lists) {
  std::vector<ParamGroup> groups;
  for (auto& l : lists) groups.push_back(ParamGroup{std::move(l), {}});
  return groups;
}

}  // namespace

Optimizer::Optimizer(std::vector<ParamGroup> groups, std::vector<OptimCallback> callbacks, const Hypers& hypers)
    : groups_(std::move(groups)), callbacks_(std::move(callbacks)) {
  KILN_CHECK(!groups_.empty(), "optimizer: needs at least one parameter group");
  for (const auto& cb : callbacks_) KILN_CHECK(cb.fn != nullptr, "optimizer: callback '", cb.name, "' has no function");
  Hypers base;
  for (const auto& cb : callbacks_)
    for (const auto& [k, v] : cb.defaults) base[k] = v;
  for (const auto& [k, v] : hypers) base[k] = v;
  for (auto& g : groups_) {
    Hypers merged = base;
    for (const auto& [k, v] : g.hypers) merged[k] = v;
    g.hypers = std::move(merged);
  }
  build_index();
}

Optimizer::Optimizer(std::vector<Tensor> params, std::vector<OptimCallback> callbacks, const Hypers& hypers)
    : Optimizer(std::vector<ParamGroup>{ParamGroup{std::move(params), {}}}, std::move(callbacks), hypers) {}

Optimizer::Optimizer(std::vector<std::vector<Tensor>> param_lists, std::vector<OptimCallback> callbacks,
                     const Hypers& hypers)
    : Optimizer(groups_from_lists(std::move(param_lists)), std::move(callbacks), hypers) {}

void Optimizer::build_index() {
  index_.clear();
  states_.assign(groups_.size(), {});
  for (size_t g = 0; g < groups_.size(); ++g) {
    states_[g].resize(groups_[g].params.size());
    for (size_t i = 0; i < groups_[g].params.size(); ++i) {
      const Tensor& p = groups_[g].params[i];
      KILN_CHECK(p.defined(), "optimizer: parameter ", i, " of group ", g, " is an undefined tensor");
      KILN_CHECK(p.is_floating_point(), "optimizer: parameter ", i, " of group ", g, " has dtype ",
                 dtype_name(p.dtype()), "; only floating tensors can be optimised");
      auto [it, fresh] = index_.emplace(p.impl(), std::make_pair(int64_t(g), int64_t(i)));
      KILN_CHECK(fresh, "optimizer: parameter ", i, " of group ", g, " is already parameter ", it->second.second,
                 " of group ", it->second.first, " (a parameter can be in one group only, once)");
    }
  }
}

const ParamGroup& Optimizer::group(int64_t g) const {
  KILN_CHECK(g >= 0 && g < num_groups(), "optimizer: group ", g, " out of range [0, ", num_groups(), ")");
  return groups_[g];
}

int64_t Optimizer::num_params() const {
  int64_t n = 0;
  for (const auto& g : groups_) n += int64_t(g.params.size());
  return n;
}

bool Optimizer::has_hyper(const std::string& name) const { return groups_.front().hypers.count(name) > 0; }

double Optimizer::hyper(const std::string& name, int64_t g) const {
  const Hypers& h = group(g).hypers;
  auto it = h.find(name);
  if (it == h.end()) {
    std::ostringstream known;
    for (const auto& [k, v] : h) known << " " << k;
    KILN_FAIL("optimizer: no hyper-parameter '", name, "' in group ", g, " (it has:", known.str(), ")");
  }
  return it->second;
}

std::vector<double> Optimizer::hyper_per_group(const std::string& name) const {
  std::vector<double> v;
  for (int64_t g = 0; g < num_groups(); ++g) v.push_back(hyper(name, g));
  return v;
}

void Optimizer::set_hyper(const std::string& name, double value) {
  set_hyper(name, std::vector<double>{value});
}

void Optimizer::set_hyper(const std::string& name, const std::vector<double>& values) {
  KILN_CHECK(values.size() == 1 || int64_t(values.size()) == num_groups(), "optimizer: set_hyper('", name, "') got ",
             values.size(), " values for ", num_groups(), " parameter groups (give one, or one per group)");
  for (int64_t g = 0; g < num_groups(); ++g) hyper(name, g);  // every group must know the name
  for (int64_t g = 0; g < num_groups(); ++g) {
    double v = values.size() == 1 ? values[0] : values[g];
    KILN_CHECK(std::isfinite(v), "optimizer: hyper-parameter '", name, "' for group ", g, " is ", v);
    groups_[g].hypers[name] = v;
  }
}

void Optimizer::set_hyper_range(const std::string& name, double lo, double hi) {
  const int64_t n = num_groups();
  std::vector<double> v(n);
  if (lo > 0) {
    KILN_CHECK(hi > 0, "optimizer: set_hyper_range('", name, "', ", lo, ", ", hi, "): both ends must be positive");
    // fastai's even_mults: lo * (hi / lo)^(i / (n - 1)).
    const double step = n > 1 ? std::pow(hi / lo, 1.0 / double(n - 1)) : 1.0;
    for (int64_t i = 0; i < n; ++i) v[i] = n > 1 ? lo * std::pow(step, double(i)) : hi;
  } else {
    KILN_CHECK(lo == 0, "optimizer: set_hyper_range('", name, "'): negative lower end ", lo);
    for (int64_t i = 0; i < n; ++i) v[i] = i + 1 == n ? hi : hi / 10;
  }
  set_hyper(name, v);
}

bool Optimizer::has_param(const Tensor& p) const { return p.defined() && index_.count(p.impl()) > 0; }

ParamState& Optimizer::state(const Tensor& p) {
  KILN_CHECK(has_param(p), "optimizer: the tensor is not one of this optimizer's parameters");
  auto [g, i] = index_.at(p.impl());
  return states_[g][i];
}

const ParamState& Optimizer::state(const Tensor& p) const {
  KILN_CHECK(has_param(p), "optimizer: the tensor is not one of this optimizer's parameters");
  auto [g, i] = index_.at(p.impl());
  return states_[g][i];
}

void Optimizer::freeze_to(int64_t n) {
  const int64_t groups = num_groups();
  int64_t idx = n >= 0 ? n : groups + n;
  KILN_CHECK(idx >= 0, "optimizer: freeze_to(", n, ") with ", groups, " groups");
  KILN_CHECK(idx < groups || n == 0, "optimizer: freeze_to(", n, ") would freeze all ", groups,
             " parameter groups; nothing would train");
  if (n == -1) KILN_CHECK(groups > 1, "optimizer: freeze() needs at least two parameter groups (body and head)");
  frozen_idx_ = idx;
  for (int64_t g = 0; g < groups; ++g)
    for (size_t i = 0; i < groups_[g].params.size(); ++i)
      ag::set_requires_grad(groups_[g].params[i], g >= idx || states_[g][i].force_train);
}

bool Optimizer::trainable(const Tensor& p) const { return ag::requires_grad(p) && ag::grad(p).defined(); }

void Optimizer::zero_grad(bool set_to_none) {
  for (const auto& g : groups_)
    for (const auto& p : g.params) {
      Tensor gr = ag::grad(p);
      if (!gr.defined()) continue;
      if (set_to_none) ag::set_grad(p, Tensor());
      else zero_(gr);
    }
}

std::vector<std::pair<const Tensor*, ParamState*>> Optimizer::all_params() {
  std::vector<std::pair<const Tensor*, ParamState*>> out;
  for (size_t g = 0; g < groups_.size(); ++g)
    for (size_t i = 0; i < groups_[g].params.size(); ++i) out.emplace_back(&groups_[g].params[i], &states_[g][i]);
  return out;
}

bool Optimizer::step(const StepOptions& options) {
  KILN_CHECK(std::isfinite(options.inv_scale) && options.inv_scale > 0, "optimizer: step inv_scale is ",
             options.inv_scale, "; it must be a positive finite number");
  ag::NoGradGuard no_grad;
  for (const auto& g : groups_)
    for (const auto& p : g.params) {
      if (!trainable(p)) continue;
      Tensor gr = ag::grad(p);
      KILN_CHECK(gr.shape() == p.shape(), "optimizer: a gradient of shape ", gr.shape().str(),
                 " for a parameter of shape ", p.shape().str());
      KILN_CHECK(gr.device() == p.device(), "optimizer: gradient and parameter on different devices");
    }
  if (options.skip_if_nonfinite) {
    for (const auto& g : groups_)
      for (const auto& p : g.params) {
        if (!trainable(p)) continue;
        if (!all(isfinite(ag::grad(p))).item<bool>()) return false;
      }
  }
  step_impl(options);
  return true;
}

void Optimizer::step_impl(const StepOptions& options) {
  if (extension_) extension_->before_step(*this);
  if (!(fused() && fused_step(options))) composed_step(options);
  if (extension_) extension_->after_step(*this);
}

void Optimizer::composed_step(const StepOptions& options) {
  for (size_t g = 0; g < groups_.size(); ++g) composed_group_step(g, options);
}

void Optimizer::composed_group_step(size_t g, const StepOptions& options) {
  const Hypers& hypers = groups_[g].hypers;
  for (size_t i = 0; i < groups_[g].params.size(); ++i) {
    const Tensor& p = groups_[g].params[i];
    if (!trainable(p)) continue;
    ParamState& st = states_[g][i];
    Tensor grad = ag::grad(p);
    const bool low = p.dtype() == DType::f16 || p.dtype() == DType::bf16;
    Tensor weights = p;
    if (low) {
      weights = st.master(p);
      grad = grad.to(DType::f32);
    }
    if (options.inv_scale != 1.0) grad = mul(grad, options.inv_scale);
    StepContext ctx{weights, grad, st, hypers};
    for (const auto& cb : callbacks_) cb.fn(ctx);
    if (low) Tensor(p).copy_(weights);
  }
}

void Optimizer::clear_state() {
  for (auto& gs : states_)
    for (auto& st : gs) {
      st.buffers.clear();
      st.values.clear();
    }
  if (extension_) extension_->clear_state();
}

}  // namespace kiln::optim
