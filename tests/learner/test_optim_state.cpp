// Optimizer save / restore (learner/optim_state.cpp): training resumed from a saved model and
// optimizer state continues bit-exactly on the CPU, for every optimizer family, composed and fused;
// and a state that does not fit the optimizer is refused with a clear error, changing nothing.
#include <cstdio>
#include <filesystem>
#include <functional>

#include <gtest/gtest.h>

#include "kiln/autograd/ops.h"
#include "kiln/learner/optimizers.h"
#include "kiln/nn/activation.h"
#include "kiln/nn/containers.h"
#include "kiln/nn/linear.h"
#include "kiln/nn/loss.h"
#include "kiln/nn/safetensors.h"
#include "support/fixtures.h"

namespace kiln::test {
namespace {

using optim::Optimizer;
using Factory = std::function<Optimizer(std::vector<Tensor>)>;

std::shared_ptr<nn::Sequential> make_model() {
  return std::make_shared<nn::Sequential>(std::vector<nn::ModulePtr>{
      std::make_shared<nn::Linear>(5, 8), std::make_shared<nn::ReLU>(), std::make_shared<nn::Linear>(8, 3)});
}

void train(nn::Module& model, Optimizer& opt, const Tensor& x, const Tensor& y, int steps) {
  for (int i = 0; i < steps; ++i) {
    opt.zero_grad();
    Tensor loss = nn::cross_entropy(model(x), y);
    ag::backward(loss);
    opt.step();
  }
}

std::string temp_path(const std::string& name) {
  return (std::filesystem::temp_directory_path() / ("kiln_optim_" + name + ".safetensors")).string();
}

std::vector<std::pair<const char*, Factory>> families() {
  using namespace optim;
  return {
      {"sgd_mom", [](auto ps) { return SGD(ps, {.lr = 0.1, .mom = 0.9, .wd = 0.01}); }},
      {"rmsprop", [](auto ps) { return RMSProp(ps, {.lr = 0.01, .mom = 0.5}); }},
      {"adam", [](auto ps) { return Adam(ps, {.lr = 0.01}); }},
      {"radam", [](auto ps) { return RAdam(ps, {.lr = 0.01}); }},
      {"qhadam", [](auto ps) { return QHAdam(ps, {.lr = 0.01}); }},
      {"larc", [](auto ps) { return Larc(ps, {.lr = 0.1}); }},
      {"lamb", [](auto ps) { return Lamb(ps, {.lr = 0.01}); }},
      {"ranger", [](auto ps) { return ranger(ps, {.lr = 0.01, .k = 3}); }},
  };
}

TEST(OptimState, ResumesBitExactly) {
  Generator gen(7);
  Tensor x = randn({16, 5}, DType::f32, &gen), y = randint(0, 3, {16}, DType::i64, &gen);
  for (const auto& [name, make] : families())
    for (bool fused : {true, false}) {
      SCOPED_TRACE(std::string(name) + (fused ? " fused" : " composed"));
      const std::string model_file = temp_path(std::string(name) + "_model"), opt_file = temp_path(name);
      auto a = make_model();
      Optimizer oa = make(a->parameters());
      oa.set_fused(fused);
      train(*a, oa, x, y, 4);
      nn::save_state_dict(*a, model_file);
      oa.save(opt_file);
      train(*a, oa, x, y, 4);

      auto b = make_model();  // a different random initialisation, overwritten by the load
      Optimizer ob = make(b->parameters());
      ob.set_fused(fused);
      nn::load_state_dict(*b, model_file);
      ob.load(opt_file);
      train(*b, ob, x, y, 4);
      auto pa = a->parameters(), pb = b->parameters();
      for (size_t i = 0; i < pa.size(); ++i) EXPECT_TRUE(tensors_equal(pb[i], pa[i])) << "parameter " << i;
      std::remove(model_file.c_str());
      std::remove(opt_file.c_str());
    }
}

// Without the optimizer state the continuation differs (so the test above is not vacuous).
TEST(OptimState, FreshStateDoesNotResumeTheSame) {
  Generator gen(7);
  Tensor x = randn({16, 5}, DType::f32, &gen), y = randint(0, 3, {16}, DType::i64, &gen);
  auto a = make_model();
  Optimizer oa = optim::Adam(a->parameters(), {.lr = 0.01});
  train(*a, oa, x, y, 4);
  auto sd = a->state_dict();
  std::vector<std::pair<std::string, Tensor>> saved;
  for (auto& [k, v] : sd) saved.emplace_back(k, v.clone());
  train(*a, oa, x, y, 4);
  auto b = make_model();
  b->load_state_dict(saved);
  Optimizer ob = optim::Adam(b->parameters(), {.lr = 0.01});
  train(*b, ob, x, y, 4);
  EXPECT_FALSE(tensors_equal(b->parameters()[0], a->parameters()[0]));
}

TEST(OptimState, HypersAndMasksAreRestored) {
  Tensor p = ag::set_requires_grad(tensor({1, 2}));
  Optimizer a = optim::Adam({p}, {.lr = 0.123456789012345});
  a.set_do_wd(p, false);
  a.set_force_train(p, true);
  auto sd = a.state_dict();
  Tensor q = ag::set_requires_grad(tensor({1, 2}));
  Optimizer b = optim::Adam({q}, {});
  b.load_state_dict(sd);
  EXPECT_EQ(b.lr(), 0.123456789012345);  // exact: JSON numbers round-trip
  EXPECT_FALSE(b.state(q).do_wd);
  EXPECT_TRUE(b.state(q).force_train);
}

TEST(OptimState, RefusesStateThatDoesNotFit) {
  Tensor p = ag::set_requires_grad(tensor({1, 2}));
  Optimizer adam = optim::Adam({p}, {});
  ag::set_grad(p, tensor({1, 1}));
  adam.step();
  auto sd = adam.state_dict();

  Tensor q = ag::set_requires_grad(tensor({1, 2}));
  Optimizer sgd = optim::SGD({q}, {.mom = 0.9});
  EXPECT_KILN_ERROR(sgd.load_state_dict(sd), "saved by an optimizer with callbacks");

  Tensor r1 = ag::set_requires_grad(tensor({1, 2})), r2 = ag::set_requires_grad(tensor({1}));
  Optimizer two = optim::Adam({r1, r2}, {});
  EXPECT_KILN_ERROR(two.load_state_dict(sd), "the state has 1 parameters, this optimizer 2");

  Tensor s = ag::set_requires_grad(tensor({1, 2, 3}));
  Optimizer other_shape = optim::Adam({s}, {.lr = 0.5});
  EXPECT_KILN_ERROR(other_shape.load_state_dict(sd), "has shape [2] in the state, [3] here");
  EXPECT_EQ(other_shape.lr(), 0.5);  // nothing changed
  EXPECT_TRUE(other_shape.state(s).buffers.empty());

  Optimizer fresh = optim::Adam({q}, {});
  auto missing = sd;
  missing.tensors.pop_back();
  EXPECT_KILN_ERROR(fresh.load_state_dict(missing), "is missing");
  EXPECT_KILN_ERROR(fresh.load_state_dict({{}, "{not json"}), "not a kiln.optimizer/1 state");
  EXPECT_KILN_ERROR(fresh.load_state_dict({{}, R"({"format":"kiln.optimizer/1","callbacks":3})"}),
                    "no callback list");

  Optimizer la = optim::Lookahead(optim::Adam({q}, {}));
  EXPECT_KILN_ERROR(la.load_state_dict(sd), "saved without a wrapper, this optimizer has Lookahead");
}

TEST(OptimState, LoadRejectsFilesWithoutOptimizerMetadata) {
  const std::string path = temp_path("not_an_optimizer");
  nn::safetensors::save(path, {{"x", tensor({1})}});
  Tensor q = ag::set_requires_grad(tensor({1, 2}));
  Optimizer opt = optim::Adam({q}, {});
  EXPECT_KILN_ERROR(opt.load(path), "not an optimizer state file");
  std::remove(path.c_str());
}

}  // namespace
}  // namespace kiln::test
