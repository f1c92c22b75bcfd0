#pragma once
// Lookahead (Zhang et al. 2019) around any optimizer, as fastai has it: the wrapped optimizer
// takes k fast steps; then the slow weights move alpha of the way toward the fast ones and the
// fast weights are reset to them:
//   every k-th step:  slow += alpha (fast - slow);  fast = slow
// The slow weights are copied from the parameters at the first step. The result is the wrapped
// optimizer itself with a LookaheadExtension attached, so hyper-parameters, freezing, masks and the
// fused path work exactly as on the wrapped one. The saved state adds the step count and the slow
// weights ("slow.<i>").
#include "kiln/learner/optimizer.h"

namespace kiln::optim {

class LookaheadExtension : public OptimizerExtension {
 public:
  LookaheadExtension(int64_t k, double alpha);
  std::string name() const override { return "Lookahead"; }
  void before_step(Optimizer& opt) override;
  void after_step(Optimizer& opt) override;
  void clear_state() override;
  void save(const Optimizer& opt, std::vector<std::pair<std::string, Tensor>>& tensors, std::string& json) const override;
  void load(const Optimizer& opt, const std::vector<std::pair<std::string, Tensor>>& tensors,
            const std::string& json) override;

  int64_t k() const { return k_; }
  double alpha() const { return alpha_; }
  int64_t count() const { return count_; }
  // Slow weights per group (empty before the first step).
  const std::vector<std::vector<Tensor>>& slow_weights() const { return slow_; }

 private:
  int64_t k_;
  double alpha_;
  int64_t count_ = 0;
  std::vector<std::vector<Tensor>> slow_;
};

// `inner` wrapped in Lookahead (k >= 1, alpha in (0, 1]). Throws if inner already has a wrapper.
Optimizer Lookahead(Optimizer&& inner, int64_t k = 6, double alpha = 0.5);

}  // namespace kiln::optim
