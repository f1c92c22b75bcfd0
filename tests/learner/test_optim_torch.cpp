// Optimizer trajectories against PyTorch (Debian's python3-torch 1.13, fixtures written by
// tools/golden/gen_optim.py): 20 steps on the fixed problem of optim_problem.h, every parameter
// after every step, for the composed callbacks and for the fused CPU path.
#include <functional>

#include <gtest/gtest.h>

#include "kiln/learner/optimizers.h"
#include "optim_problem.h"

namespace kiln::test {
namespace {

using optim::Optimizer;
using Factory = std::function<Optimizer(std::vector<Tensor>)>;

struct TorchCase {
  const char* config;
  Factory make;
};

std::vector<TorchCase> torch_cases() {
  using namespace optim;
  return {
      {"sgd", [](auto ps) { return SGD(ps, {.lr = 0.1}); }},
      {"sgd_l2", [](auto ps) { return SGD(ps, {.lr = 0.1, .wd = 0.05, .decouple_wd = false}); }},
      {"sgd_mom", [](auto ps) { return SGD(ps, {.lr = 0.05, .mom = 0.9, .wd = 0.01, .decouple_wd = false}); }},
      {"sgd_nesterov",
       [](auto ps) { return SGD(ps, {.lr = 0.05, .mom = 0.8, .wd = 0.01, .decouple_wd = false, .nesterov = true}); }},
      {"rmsprop",
       [](auto ps) { return RMSProp(ps, {.lr = 0.01, .sqr_mom = 0.9, .eps = 1e-8, .wd = 0.01, .decouple_wd = false}); }},
      {"adam", [](auto ps) {
         return Adam(ps, {.lr = 0.01, .mom = 0.9, .sqr_mom = 0.99, .eps = 1e-5, .wd = 0.01, .decouple_wd = false});
       }},
      {"adamw", [](auto ps) { return AdamW(ps, {.lr = 0.01, .mom = 0.9, .sqr_mom = 0.99, .eps = 1e-5, .wd = 0.1}); }},
      {"radam", [](auto ps) {
         return RAdam(ps, {.lr = 0.01, .mom = 0.9, .sqr_mom = 0.999, .eps = 1e-8, .wd = 0.01, .decouple_wd = false});
       }},
  };
}

// f32 tolerances over a 20-step trajectory (each step rounds a few f32 operations differently
// from PyTorch's kernels, e.g. addcdiv versus divide-then-add).
constexpr double kRtol = 1e-5, kAtol = 1e-6;

void check_trajectory(const TorchCase& c, bool fused) {
  OptimProblem prob;
  auto ps = prob.make_params();
  Optimizer opt = c.make(ps);
  opt.set_fused(fused);
  for (int t = 0; t < OptimProblem::kSteps; ++t) {
    prob.set_grads(ps, t);
    ASSERT_TRUE(opt.step());
    for (size_t k = 0; k < ps.size(); ++k)
      ASSERT_TRUE(tensors_close(ps[k], prob.expected(c.config, k, t), kRtol, kAtol))
          << c.config << (fused ? " fused" : " composed") << ", parameter " << prob.names[k] << ", step " << t + 1;
  }
}

TEST(OptimTorch, ComposedTrajectoriesMatchPyTorch) {
  for (const auto& c : torch_cases()) {
    SCOPED_TRACE(c.config);
    check_trajectory(c, false);
  }
}

TEST(OptimTorch, FusedTrajectoriesMatchPyTorch) {
  for (const auto& c : torch_cases()) {
    SCOPED_TRACE(c.config);
    check_trajectory(c, true);
  }
}

// The fixture's trajectories really move: a no-op optimizer would fail the tests above.
TEST(OptimTorch, FixtureTrajectoriesMove) {
  OptimProblem prob;
  for (const auto& c : torch_cases()) {
    Tensor diff = sub(prob.expected(c.config, 0, OptimProblem::kSteps - 1), prob.fx.at("init/w0"));
    double moved = amax(abs(diff.to(DType::f64))).item<double>();
    EXPECT_GT(moved, 1e-2) << c.config;
  }
}

}  // namespace
}  // namespace kiln::test
