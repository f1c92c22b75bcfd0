#pragma once
// The fixed optimisation problem of tools/golden/gen_optim.py, shared by the optimizer tests:
// four f32 parameters w0..w3; at step t the gradient of w_k is (p - target_k) * coef_k + noise_k[t].
#include <map>
#include <string>
#include <vector>

#include "kiln/autograd/grad_mode.h"
#include "kiln/autograd/node.h"
#include "kiln/tensor/ops.h"
#include "support/fixtures.h"

namespace kiln::test {

struct OptimProblem {
  static constexpr int kSteps = 20;
  std::vector<std::string> names{"w0", "w1", "w2", "w3"};
  std::map<std::string, Tensor> fx = load_fixture("optim");

  std::vector<Tensor> make_params(DType dtype = DType::f32) const {
    std::vector<Tensor> ps;
    for (const auto& n : names) ps.push_back(ag::set_requires_grad(fx.at("init/" + n).to(dtype).clone()));
    return ps;
  }
  // Sets every parameter's gradient for step t (computed in f32, in the fixture's order).
  void set_grads(const std::vector<Tensor>& ps, int t) const {
    ag::NoGradGuard ng;
    for (size_t k = 0; k < ps.size(); ++k) {
      const std::string& n = names[k];
      Tensor p = ps[k].to(DType::f32);
      Tensor g = add(mul(sub(p, fx.at("target/" + n)), fx.at("coef/" + n)), fx.at("noise/" + n).select(0, t));
      ag::set_grad(ps[k], g.to(ps[k].dtype()));
    }
  }
  // The parameter's values after step t (0-based) of a torch trajectory.
  Tensor expected(const std::string& config, size_t k, int t) const {
    return fx.at(config + "/" + names[k]).select(0, t);
  }
};

}  // namespace kiln::test
