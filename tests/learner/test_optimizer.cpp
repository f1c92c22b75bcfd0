// The generic optimizer's API (learner/optimizer.h): hyper-parameters by name and typed, groups
// with their own learning rates, skipping, freezing with train_bn, masks, mixed-precision step
// options, clear_state, and errors that name the bad value.
#include <cmath>
#include <memory>

#include <gtest/gtest.h>

#include "kiln/autograd/ops.h"
#include "kiln/learner/optim_callbacks.h"
#include "kiln/learner/optimizers.h"
#include "kiln/learner/param_masks.h"
#include "kiln/nn/activation.h"
#include "kiln/nn/containers.h"
#include "kiln/nn/linear.h"
#include "kiln/nn/norm.h"
#include "optim_problem.h"

namespace kiln::test {
namespace {

using optim::Optimizer;

Tensor param(std::initializer_list<double> v) { return ag::set_requires_grad(tensor(v)); }
void grad_of(const Tensor& p, std::initializer_list<double> v) { ag::set_grad(p, tensor(v)); }

TEST(Optimizer, MergesCallbackDefaultsThenGivenHypers) {
  Tensor p = param({1, 2});
  Optimizer opt = optim::Adam({p}, {.lr = 0.5});
  EXPECT_DOUBLE_EQ(opt.lr(), 0.5);
  EXPECT_DOUBLE_EQ(opt.mom(), 0.9);
  EXPECT_DOUBLE_EQ(opt.sqr_mom(), 0.99);
  EXPECT_DOUBLE_EQ(opt.eps(), 1e-5);
  EXPECT_DOUBLE_EQ(opt.wd(), 0.01);
  EXPECT_EQ(opt.type_name(), "Adam");
}

TEST(Optimizer, HypersByNameAndTyped) {
  Tensor a = param({1}), b = param({2});
  Optimizer opt = optim::SGD(std::vector<std::vector<Tensor>>{{a}, {b}}, {.lr = 0.1, .mom = 0.9});
  opt.set_hyper("lr", std::vector<double>{0.01, 0.02});
  EXPECT_DOUBLE_EQ(opt.lr(0), 0.01);
  EXPECT_DOUBLE_EQ(opt.lr(1), 0.02);
  opt.set_mom(0.8);
  EXPECT_EQ(opt.hyper_per_group("mom"), (std::vector<double>{0.8, 0.8}));
  EXPECT_KILN_ERROR(opt.set_hyper("lrr", 1.0), "no hyper-parameter 'lrr'");
  EXPECT_KILN_ERROR(opt.set_hyper("lr", std::vector<double>{1, 2, 3}), "got 3 values for 2 parameter groups");
  EXPECT_KILN_ERROR(opt.set_lr(NAN), "is nan");
  EXPECT_KILN_ERROR(opt.hyper("lr", 2), "group 2 out of range");
}

TEST(Optimizer, HyperRangeIsFastaiSlice) {
  std::vector<std::vector<Tensor>> lists{{param({1})}, {param({1})}, {param({1})}};
  Optimizer opt = optim::SGD(lists, {});
  opt.set_hyper_range("lr", 1e-4, 1e-2);  // even_mults: 1e-4, 1e-3, 1e-2
  EXPECT_NEAR(opt.lr(0), 1e-4, 1e-18);
  EXPECT_NEAR(opt.lr(1), 1e-3, 1e-17);
  EXPECT_NEAR(opt.lr(2), 1e-2, 1e-16);
  opt.set_hyper_range("lr", 0, 3e-3);  // slice(None, 3e-3): hi / 10 for all but the last
  EXPECT_EQ(opt.hyper_per_group("lr"), (std::vector<double>{3e-3 / 10, 3e-3 / 10, 3e-3}));
}

TEST(Optimizer, DiscriminativeLearningRatesPerGroup) {
  Tensor a = param({1, 1}), b = param({1, 1});
  Optimizer opt = optim::SGD(std::vector<std::vector<Tensor>>{{a}, {b}}, {});
  opt.set_lr(std::vector<double>{0.1, 0.5});
  grad_of(a, {1, 2});
  grad_of(b, {1, 2});
  opt.step();
  EXPECT_TRUE(tensors_close(a, tensor({0.9, 0.8}), 1e-7, 0));
  EXPECT_TRUE(tensors_close(b, tensor({0.5, 0.0}), 1e-7, 1e-7));
}

TEST(Optimizer, SkipsParametersWithoutGradient) {
  Tensor a = param({1, 2}), b = param({3, 4});
  Optimizer opt = optim::Adam({a, b}, {.lr = 0.1});
  grad_of(a, {1, 1});
  opt.step();
  EXPECT_TRUE(tensors_equal(b, tensor({3, 4})));
  EXPECT_TRUE(opt.state(b).buffers.empty());
  EXPECT_EQ(opt.state(b).values.count("step"), 0u);
  EXPECT_EQ(opt.state(a).values.at("step"), 1);
}

TEST(Optimizer, ZeroGradDropsOrZeroes) {
  Tensor a = param({1, 2});
  Optimizer opt = optim::SGD({a}, {.lr = 0.1});
  grad_of(a, {1, 1});
  opt.zero_grad(/*set_to_none=*/false);
  EXPECT_TRUE(tensors_equal(ag::grad(a), tensor({0, 0})));
  opt.zero_grad();
  EXPECT_FALSE(ag::grad(a).defined());
}

// Two groups (body, head) with BatchNorm in the body: freeze() stops the body except the norm
// layer's parameters (train_bn), which keep training.
TEST(Optimizer, FreezeSkipsFrozenGroupsButTrainBnKeepsNormTraining) {
  auto body = std::make_shared<nn::Sequential>(
      std::vector<nn::ModulePtr>{std::make_shared<nn::Linear>(3, 4), std::make_shared<nn::BatchNorm1d>(4)});
  auto head = std::make_shared<nn::Linear>(4, 2);
  Optimizer opt = optim::SGD(std::vector<std::vector<Tensor>>{body->parameters(), head->parameters()}, {.lr = 0.1});
  nn::Sequential model({body, head});
  optim::apply_norm_bias_masks(opt, model);
  opt.freeze();
  EXPECT_EQ(opt.frozen_idx(), 1);
  auto lin = std::dynamic_pointer_cast<nn::Linear>(body->child("0"));
  auto bn = body->child("1");
  EXPECT_FALSE(ag::requires_grad(lin->weight));
  EXPECT_TRUE(ag::requires_grad(bn->param("weight")));
  EXPECT_TRUE(ag::requires_grad(head->weight));

  Tensor x = randn({8, 3});
  Tensor loss = ag::sum(model(x));
  ag::backward(loss);
  Tensor lin_before = lin->weight.clone(), bn_before = bn->param("weight").clone(), head_before = head->weight.clone();
  opt.step();
  EXPECT_TRUE(tensors_equal(lin->weight, lin_before));
  EXPECT_FALSE(tensors_equal(bn->param("bias"), zeros({4})));
  EXPECT_FALSE(tensors_equal(head->weight, head_before));

  opt.unfreeze();
  EXPECT_TRUE(ag::requires_grad(lin->weight));
  EXPECT_KILN_ERROR(opt.freeze_to(2), "would freeze all 2 parameter groups");
}

// wd_bn_bias = false: no weight decay on norm-layer parameters and biases; weights still decay.
TEST(Optimizer, NormAndBiasMasksTurnOffWeightDecay) {
  auto lin = std::make_shared<nn::Linear>(3, 4);
  auto bn = std::make_shared<nn::BatchNorm1d>(4);
  nn::Sequential model({lin, bn});
  auto nb = optim::norm_bias_params(model);
  ASSERT_EQ(nb.size(), 3u);  // bn.weight, bn.bias, linear.bias
  auto nb_no_bias = optim::norm_bias_params(model, false);
  ASSERT_EQ(nb_no_bias.size(), 2u);

  Optimizer opt = optim::SGD(model.parameters(), {.lr = 0.1, .wd = 0.5});
  optim::apply_norm_bias_masks(opt, model);
  EXPECT_FALSE(opt.state(lin->bias).do_wd);
  EXPECT_FALSE(opt.state(bn->param("weight")).do_wd);
  EXPECT_TRUE(opt.state(lin->weight).do_wd);
  for (const auto& p : model.parameters()) ag::set_grad(p, zeros(p.shape()));
  Tensor w = lin->weight.clone(), b = lin->bias.clone(), g = bn->param("weight").clone();
  opt.step();  // zero gradients: only weight decay moves anything
  EXPECT_TRUE(tensors_close(lin->weight, mul(w, 1 - 0.1 * 0.5), 1e-6, 1e-7));
  EXPECT_TRUE(tensors_equal(lin->bias, b));
  EXPECT_TRUE(tensors_equal(bn->param("weight"), g));
}

// The mask applies on the fused path and to L2 regularisation too.
TEST(Optimizer, DoWdMaskHonouredByEveryPath) {
  for (bool decouple : {true, false})
    for (bool fused : {true, false}) {
      Tensor a = param({1, 2});
      Optimizer opt = optim::Adam({a}, {.lr = 0.1, .wd = 0.5, .decouple_wd = decouple});
      opt.set_fused(fused);
      opt.set_do_wd(a, false);
      grad_of(a, {0, 0});
      opt.step();
      EXPECT_TRUE(tensors_equal(a, tensor({1, 2}))) << "decouple " << decouple << " fused " << fused;
    }
}

TEST(Optimizer, InverseScaleUnscalesGradients) {
  OptimProblem prob;
  auto ps1 = prob.make_params(), ps2 = prob.make_params();
  Optimizer o1 = optim::Adam(ps1, {.lr = 0.01}), o2 = optim::Adam(ps2, {.lr = 0.01});
  for (int t = 0; t < 3; ++t) {
    prob.set_grads(ps1, t);
    prob.set_grads(ps2, t);
    for (const auto& p : ps2) ag::set_grad(p, mul(ag::grad(p), 1024.0));
    o1.step();
    o2.step({.inv_scale = 1.0 / 1024});
  }
  for (size_t k = 0; k < ps1.size(); ++k) EXPECT_TRUE(tensors_equal(ps2[k], ps1[k]));
}

TEST(Optimizer, NonFiniteGradientSkipsTheStep) {
  for (bool fused : {true, false}) {
    Tensor a = param({1, 2}), b = param({3, 4});
    Optimizer opt = optim::Adam({a, b}, {.lr = 0.1});
    opt.set_fused(fused);
    grad_of(a, {1, 1});
    grad_of(b, {INFINITY, 1});
    EXPECT_FALSE(opt.step({.skip_if_nonfinite = true}));
    EXPECT_TRUE(tensors_equal(a, tensor({1, 2})));
    EXPECT_TRUE(opt.state(a).buffers.empty());
    grad_of(b, {1, 1});
    EXPECT_TRUE(opt.step({.skip_if_nonfinite = true}));
    EXPECT_FALSE(tensors_equal(a, tensor({1, 2})));
  }
}

TEST(Optimizer, ClearStateKeepsMasks) {
  Tensor a = param({1, 2});
  Optimizer opt = optim::Adam({a}, {});
  opt.set_do_wd(a, false);
  grad_of(a, {1, 1});
  opt.step();
  ASSERT_FALSE(opt.state(a).buffers.empty());
  opt.clear_state();
  EXPECT_TRUE(opt.state(a).buffers.empty());
  EXPECT_TRUE(opt.state(a).values.empty());
  EXPECT_FALSE(opt.state(a).do_wd);
}

// f16 and bf16 parameters step through an f32 master copy: many small updates that would each
// round away in f16 still add up.
TEST(Optimizer, HalfParametersUseAnF32Master) {
  for (DType dt : {DType::f16, DType::bf16})
    for (bool fused : {true, false}) {
      Tensor a = ag::set_requires_grad(full({4}, 1.0, dt));
      Optimizer opt = optim::SGD({a}, {.lr = 1e-4});
      opt.set_fused(fused);
      for (int i = 0; i < 100; ++i) {
        ag::set_grad(a, full({4}, 1.0, dt));
        opt.step();
      }
      Tensor master = opt.state(a).buffers.at("master");
      EXPECT_TRUE(tensors_close(master, full({4}, 0.99, DType::f32), 1e-5, 0)) << dtype_name(dt) << fused;
      EXPECT_TRUE(tensors_close(a.to(DType::f32), full({4}, 0.99, DType::f32), 1e-2, 0));
    }
}

TEST(Optimizer, RejectsBadConstruction) {
  Tensor a = param({1});
  EXPECT_KILN_ERROR(Optimizer(std::vector<Tensor>{a, a}, {optim::sgd_step()}), "already parameter 0");
  EXPECT_KILN_ERROR(Optimizer(std::vector<Tensor>{tensor({1, 2}, DType::i64)}, {optim::sgd_step()}),
                    "only floating tensors");
  EXPECT_KILN_ERROR(optim::SGD({a}, {.nesterov = true}), "nesterov momentum needs mom != 0");
  EXPECT_KILN_ERROR(optim::Lookahead(optim::SGD({a}), 0), "k must be >= 1");
  Optimizer opt = optim::SGD({a});
  grad_of(a, {1});
  EXPECT_KILN_ERROR(opt.step({.inv_scale = 0}), "inv_scale");
}

// The fused path and the composed callbacks agree step by step for every fused kind and option.
TEST(Optimizer, FusedMatchesComposedForEveryKind) {
  using namespace optim;
  std::vector<std::pair<const char*, std::function<Optimizer(std::vector<Tensor>)>>> cases = {
      {"sgd", [](auto ps) { return SGD(ps, {.lr = 0.1, .wd = 0.01}); }},
      {"sgd mom dampening", [](auto ps) { return SGD(ps, {.lr = 0.1, .mom = 0.9, .wd = 0.01, .dampening = true}); }},
      {"sgd nesterov l2",
       [](auto ps) { return SGD(ps, {.lr = 0.1, .mom = 0.9, .wd = 0.01, .decouple_wd = false, .nesterov = true}); }},
      {"adam l2", [](auto ps) { return Adam(ps, {.lr = 0.01, .wd = 0.1, .decouple_wd = false}); }},
      {"adamw", [](auto ps) { return AdamW(ps, {.lr = 0.01, .wd = 0.1}); }},
      {"radam beta", [](auto ps) { return RAdam(ps, {.lr = 0.01, .sqr_mom = 0.9, .wd = 0.01, .beta = 5}); }},
      {"qhadam", [](auto ps) { return QHAdam(ps, {.lr = 0.01, .wd = 0.01}); }},
      {"lamb", [](auto ps) { return Lamb(ps, {.lr = 0.01, .wd = 0.01}); }},
      {"larc", [](auto ps) { return Larc(ps, {.lr = 0.1, .trust_coeff = 0.1, .wd = 0.01}); }},
      {"lars l2", [](auto ps) { return Lars(ps, {.lr = 0.1, .mom = 0, .wd = 0.01, .decouple_wd = false}); }},
  };
  OptimProblem prob;
  for (const auto& [name, make] : cases) {
    auto pa = prob.make_params(), pb = prob.make_params();
    Optimizer fused = make(pa), composed = make(pb);
    ASSERT_TRUE(fused.fused()) << name;
    composed.set_fused(false);
    for (int t = 0; t < OptimProblem::kSteps; ++t) {
      prob.set_grads(pa, t);
      prob.set_grads(pb, t);
      fused.step();
      composed.step();
      for (size_t k = 0; k < pa.size(); ++k)
        ASSERT_TRUE(tensors_close(pa[k], pb[k], 1e-5, 1e-6)) << name << " step " << t + 1 << " " << prob.names[k];
    }
  }
}

}  // namespace
}  // namespace kiln::test
