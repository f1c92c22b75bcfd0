// Containers (SequentialEx, MergeLayer, Lambda) and parameter initialisers.
#include <gtest/gtest.h>

#include <cmath>

#include "kiln/autograd/backward.h"
#include "kiln/autograd/elementwise.h"
#include "kiln/autograd/reduce.h"
#include "kiln/autograd/norm.h"
#include "kiln/nn/activation.h"
#include "kiln/nn/containers.h"
#include "kiln/nn/norm.h"
#include "kiln/nn/init.h"
#include "support/fixtures.h"
#include "support/op_table.h"

namespace kiln::nn {
namespace {

ModulePtr times(double k) {
  return std::make_shared<Lambda>([k](const Tensor& x) { return ag::mul(x, k); }, "times");
}

TEST(Containers, SequentialChainsAndNamesChildren) {
  Sequential s{times(2), times(3)};
  s.push_back(times(0.5));
  EXPECT_EQ(s.named_children()[2].first, "2");
  EXPECT_TRUE(test::tensors_close(s(ones({2})), full({2}, 3.0)));
}

// Note [Batch norm + activation in Sequential]: BatchNorm2d then ReLU runs as one op with the bits
// of the two layers (values, running statistics, gradients), in training and eval; the tree and its
// state_dict names stay those of two layers; a hook on either layer turns the fusion off.
TEST(Containers, SequentialRunsBatchNormThenReluAsOneOp) {
  auto bn = std::make_shared<BatchNorm2d>(3);
  auto bn_ref = std::make_shared<BatchNorm2d>(3);
  {
    ag::NoGradGuard ng;
    const Tensor w = test::random_tensor({3}, DType::f32, test::Domain::any, 5);
    const Tensor b = test::random_tensor({3}, DType::f32, test::Domain::any, 6);
    Tensor(bn->weight).copy_(w), Tensor(bn->bias).copy_(b);
    Tensor(bn_ref->weight).copy_(w), Tensor(bn_ref->bias).copy_(b);
  }
  Sequential s{bn, std::make_shared<ReLU>()};
  std::vector<std::string> names;
  for (auto& [name, t] : s.state_dict()) names.push_back(name);
  EXPECT_EQ(names, (std::vector<std::string>{"0.weight", "0.bias", "0.running_mean", "0.running_var",
                                             "0.num_batches_tracked"}));
  const Tensor x0 = test::random_tensor({4, 3, 5, 6}, DType::f32, test::Domain::any, 7);
  const Tensor dy = test::random_tensor({4, 3, 5, 6}, DType::f32, test::Domain::any, 8);
  for (bool training : {true, false}) {
    SCOPED_TRACE(training);
    s.train(training), bn_ref->train(training);
    Tensor x = ag::set_requires_grad(x0.clone()), xr = ag::set_requires_grad(x0.clone());
    Tensor y = s(x);
    ASSERT_TRUE(ag::grad_fn(y));
    EXPECT_EQ(ag::grad_fn(y)->name, "batch_norm_act");
    Tensor yr = ag::relu((*bn_ref)(xr));
    EXPECT_TRUE(test::tensors_equal(y, yr));
    EXPECT_TRUE(test::tensors_equal(bn->running_mean, bn_ref->running_mean));
    EXPECT_TRUE(test::tensors_equal(bn->running_var, bn_ref->running_var));
    EXPECT_TRUE(test::tensors_equal(bn->num_batches_tracked, bn_ref->num_batches_tracked));
    ag::backward(ag::sum(ag::mul(y, dy)));
    ag::backward(ag::sum(ag::mul(yr, dy)));
    EXPECT_TRUE(test::tensors_equal(ag::grad(x), ag::grad(xr)));
    EXPECT_TRUE(test::tensors_equal(ag::grad(bn->weight), ag::grad(bn_ref->weight)));
    EXPECT_TRUE(test::tensors_equal(ag::grad(bn->bias), ag::grad(bn_ref->bias)));
    s.zero_grad(), bn_ref->zero_grad();
  }
  // A forward hook on the ReLU sees the batch norm's output as its input: the layers run apart.
  int calls = 0;
  auto h = s[1]->register_forward_hook([&](Module&, const std::vector<Tensor>& in, Tensor& out) {
    ++calls;
    EXPECT_TRUE(test::tensors_equal(out, kiln::relu(in[0])));
  });
  s.train();
  Tensor y = s(ag::set_requires_grad(x0.clone()));
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(ag::grad_fn(y)->name, "relu");
}

// LeakyReLU fuses with its slope; anything else after a batch norm runs as its own layer.
TEST(Containers, SequentialFusesLeakyReluWithItsSlope) {
  auto bn = std::make_shared<BatchNorm1d>(4);
  Sequential s{bn, std::make_shared<LeakyReLU>(0.25)};
  const Tensor x = test::random_tensor({16, 4}, DType::f32, test::Domain::any, 9);
  Tensor y = s(ag::set_requires_grad(x.clone()));
  EXPECT_EQ(ag::grad_fn(y)->name, "batch_norm_act");
  auto bn_ref = std::make_shared<BatchNorm1d>(4);
  EXPECT_TRUE(test::tensors_close(y, ag::leaky_relu((*bn_ref)(x), 0.25), 1e-6, 1e-6));
  Sequential t{std::make_shared<BatchNorm1d>(4), std::make_shared<Sigmoid>()};
  EXPECT_EQ(ag::grad_fn(t(ag::set_requires_grad(x.clone())))->name, "sigmoid");
}

TEST(Containers, SequentialExMergeAddsOrConcatenatesTheBlockInput) {
  SequentialEx res{times(2), times(3), std::make_shared<MergeLayer>()};
  Tensor x = ag::set_requires_grad(tensor({1, 2}));
  Tensor y = res(x);
  EXPECT_TRUE(test::tensors_close(y, tensor({7, 14})));  // 6x + x
  ag::backward(ag::sum(y));
  EXPECT_TRUE(test::tensors_close(ag::grad(x), tensor({7, 7})));
  auto merge = std::static_pointer_cast<MergeLayer>(res[2]);
  EXPECT_FALSE(merge->orig.defined());  // cleared after the block

  SequentialEx dense{times(2), std::make_shared<MergeLayer>(true)};
  Tensor d = dense(ones({2, 3}));
  EXPECT_EQ(d.shape(), (Shape{2, 6}));
  EXPECT_TRUE(test::tensors_close(d.narrow(1, 0, 3), full({2, 3}, 2.0)));
  EXPECT_TRUE(test::tensors_close(d.narrow(1, 3, 3), ones({2, 3})));
  EXPECT_EQ(dense.str(), "SequentialEx(\n  (0): Lambda(times)\n  (1): MergeLayer(dense=True)\n)");

  MergeLayer alone;
  EXPECT_KILN_ERROR(alone(ones({2})), "no original input");
}

TEST(Init, GainAndFans) {
  EXPECT_DOUBLE_EQ(init::calculate_gain(init::Nonlinearity::relu), std::sqrt(2.0));
  EXPECT_DOUBLE_EQ(init::calculate_gain(init::Nonlinearity::tanh), 5.0 / 3.0);
  EXPECT_DOUBLE_EQ(init::calculate_gain(init::Nonlinearity::leaky_relu, 0.2), std::sqrt(2.0 / 1.04));
  auto f = init::calculate_fans(empty({16, 8, 3, 5}));  // conv weight [C_out, C_in, kH, kW]
  EXPECT_EQ(f.fan_in, 8 * 15);
  EXPECT_EQ(f.fan_out, 16 * 15);
  auto l = init::calculate_fans(empty({4, 7}));  // linear [out, in]
  EXPECT_EQ(l.fan_in, 7);
  EXPECT_EQ(l.fan_out, 4);
  EXPECT_KILN_ERROR(init::calculate_fans(empty({4})), "at least 2 dimensions");
}

double std_of(const Tensor& t) {
  auto v = t.to_vector<double>();
  double m = 0, s = 0;
  for (double x : v) m += x;
  m /= double(v.size());
  for (double x : v) s += (x - m) * (x - m);
  return std::sqrt(s / double(v.size()));
}

TEST(Init, EmpiricalStdMatchesFormulas) {
  Generator g(7);
  Tensor w = empty({256, 64, 3, 3});  // fan_in 576, fan_out 2304; 147456 values
  Tensor keep = w;
  const double fan_in = 576, fan_out = 2304;
  init::kaiming_normal_(w, 0, init::FanMode::fan_in, init::Nonlinearity::relu, &g);
  EXPECT_NEAR(std_of(w) / std::sqrt(2.0 / fan_in), 1.0, 0.02);
  EXPECT_TRUE(keep.is_same(w));
  init::kaiming_uniform_(w, std::sqrt(5.0), init::FanMode::fan_in, init::Nonlinearity::leaky_relu, &g);
  EXPECT_NEAR(std_of(w) / (std::sqrt(2.0 / 6.0) / std::sqrt(fan_in)), 1.0, 0.02);
  init::kaiming_normal_(w, 0, init::FanMode::fan_out, init::Nonlinearity::relu, &g);
  EXPECT_NEAR(std_of(w) / std::sqrt(2.0 / fan_out), 1.0, 0.02);
  init::xavier_normal_(w, 1.0, &g);
  EXPECT_NEAR(std_of(w) / std::sqrt(2.0 / (fan_in + fan_out)), 1.0, 0.02);
  init::xavier_uniform_(w, 2.0, &g);
  EXPECT_NEAR(std_of(w) / (2.0 * std::sqrt(2.0 / (fan_in + fan_out))), 1.0, 0.02);
  double bound = 2.0 * std::sqrt(6.0 / (fan_in + fan_out));
  EXPECT_LE(max(abs(w)).item<double>(), bound);
  init::uniform_(w, -1, 3, &g);
  EXPECT_GE(min(w).item<double>(), -1.0);
  EXPECT_NEAR(mean(w).item<double>(), 1.0, 0.02);
  init::normal_(w, 5, 0.5, &g);
  EXPECT_NEAR(std_of(w), 0.5, 0.01);
  init::constant_(w, 1.5);
  EXPECT_EQ(min(w).item<double>(), 1.5);
  init::zeros_(w);
  EXPECT_EQ(max(abs(w)).item<double>(), 0.0);
  init::ones_(w);
  EXPECT_EQ(min(w).item<double>(), 1.0);
  EXPECT_KILN_ERROR(init::normal_(empty({3}, DType::i64)), "expected a floating dtype");
}

TEST(Init, SameGeneratorSameValuesAndNoGraph) {
  Tensor p = ag::set_requires_grad(empty({4, 5}));
  Generator g1(3), g2(3);
  init::kaiming_uniform_(p, 0, init::FanMode::fan_in, init::Nonlinearity::leaky_relu, &g1);
  Tensor a = p.clone();
  init::kaiming_uniform_(p, 0, init::FanMode::fan_in, init::Nonlinearity::leaky_relu, &g2);
  EXPECT_TRUE(test::tensors_equal(p, a));
  EXPECT_TRUE(ag::is_leaf(p));  // initialising a parameter records nothing
  EXPECT_TRUE(ag::requires_grad(p));
}

TEST(Init, SkipInitGuardLeavesRandomInitsUndoneAndNests) {
  Tensor t = zeros({3, 4});
  {
    init::SkipInitGuard outer;
    {
      init::SkipInitGuard inner;
      EXPECT_TRUE(init::init_skipped());
    }
    EXPECT_TRUE(init::init_skipped());  // the inner guard restores the outer state
    init::normal_(t, 5, 1);
    init::kaiming_uniform_(t);
    EXPECT_TRUE(test::tensors_equal(t, zeros({3, 4})));
    init::constant_(t, 2);  // constants still fill
    EXPECT_TRUE(test::tensors_equal(t, full({3, 4}, 2.0)));
  }
  EXPECT_FALSE(init::init_skipped());
  init::normal_(t, 5, 1);
  EXPECT_FALSE(test::tensors_equal(t, full({3, 4}, 2.0)));
}

}  // namespace
}  // namespace kiln::nn
