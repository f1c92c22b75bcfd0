// Lookahead (lookahead.h).
#include "kiln/learner/lookahead.h"

#include <map>
#include <nlohmann/json.hpp>

#include "kiln/kernels/error.h"
#include "kiln/tensor/ops.h"

namespace kiln::optim {

LookaheadExtension::LookaheadExtension(int64_t k, double alpha) : k_(k), alpha_(alpha) {
  KILN_CHECK(k >= 1, "Lookahead: k must be >= 1, got ", k);
  KILN_CHECK(alpha > 0 && alpha <= 1, "Lookahead: alpha must be in (0, 1], got ", alpha);
}

void LookaheadExtension::before_step(Optimizer& opt) {
  if (!slow_.empty()) return;
  for (const auto& g : opt.groups()) {
    std::vector<Tensor> s;
    for (const auto& p : g.params) s.push_back(p.clone());
    slow_.push_back(std::move(s));
  }
}

void LookaheadExtension::after_step(Optimizer& opt) {
  if (++count_ % k_ != 0) return;
  for (size_t g = 0; g < slow_.size(); ++g)
    for (size_t i = 0; i < slow_[g].size(); ++i) {
      const Tensor& fast = opt.group(int64_t(g)).params[i];
      Tensor& slow = slow_[g][i];
      add_(slow, sub(fast, slow), alpha_);
      Tensor(fast).copy_(slow);
      // A master copy (f16 / bf16 parameters) must follow the reset too.
      auto& bufs = opt.state(fast).buffers;
      if (auto it = bufs.find("master"); it != bufs.end()) it->second.copy_(slow);
    }
}

void LookaheadExtension::clear_state() {
  count_ = 0;
  slow_.clear();
}

void LookaheadExtension::save(const Optimizer&, std::vector<std::pair<std::string, Tensor>>& tensors,
                              std::string& json) const {
  nlohmann::json j;
  j["count"] = count_;
  j["k"] = k_;
  j["alpha"] = alpha_;
  j["has_slow"] = !slow_.empty();
  json = j.dump();
  int64_t flat = 0;
  for (const auto& g : slow_)
    for (const auto& s : g) tensors.emplace_back("slow." + std::to_string(flat++), s.contiguous());
}

void LookaheadExtension::load(const Optimizer& opt, const std::vector<std::pair<std::string, Tensor>>& tensors,
                              const std::string& json) {
  nlohmann::json j = nlohmann::json::parse(json, nullptr, false);
  KILN_CHECK(j.is_object() && j.contains("count") && j["count"].is_number_integer() && j.contains("has_slow") &&
                 j["has_slow"].is_boolean(),
             "Lookahead: the optimizer state has no Lookahead fields");
  std::vector<std::vector<Tensor>> slow;
  if (j["has_slow"].get<bool>()) {
    std::map<std::string, Tensor> by_name(tensors.begin(), tensors.end());
    int64_t flat = 0;
    for (const auto& g : opt.groups()) {
      std::vector<Tensor> s;
      for (const auto& p : g.params) {
        auto it = by_name.find("slow." + std::to_string(flat));
        KILN_CHECK(it != by_name.end(), "Lookahead: slow weight ", flat, " is missing from the state");
        KILN_CHECK(it->second.shape() == p.shape(), "Lookahead: slow weight ", flat, " has shape ",
                   it->second.shape().str(), ", the parameter ", p.shape().str());
        s.push_back(it->second.to(p.dtype()).to(p.device()).clone());
        ++flat;
      }
      slow.push_back(std::move(s));
    }
  }
  count_ = j["count"].get<int64_t>();
  slow_ = std::move(slow);
}

Optimizer Lookahead(Optimizer&& inner, int64_t k, double alpha) {
  KILN_CHECK(inner.extension() == nullptr, "Lookahead: the optimizer is already wrapped in ",
             inner.extension() ? inner.extension()->name() : "");
  auto ext = std::make_unique<LookaheadExtension>(k, alpha);
  Optimizer opt(std::move(inner));
  opt.set_type_name("Lookahead(" + opt.type_name() + ")");
  opt.set_extension(std::move(ext));
  return opt;
}

}  // namespace kiln::optim
