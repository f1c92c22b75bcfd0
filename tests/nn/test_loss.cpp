// Losses against torch.nn.functional (tools/golden/gen_nn_layers.py): value and input gradient.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>

#include "kiln/autograd/ops.h"
#include "kiln/nn/loss.h"
#include "layer_fixture.h"

namespace kiln::nn {
namespace {

using test::fx;
using LossFn = std::function<Tensor(const Tensor&, const Tensor&)>;

// Runs fn(input, target), backpropagates (y * r).sum() (or y for a scalar) and compares with the case.
void check_loss(const std::string& name, const LossFn& fn) {
  SCOPED_TRACE("loss case " + name);
  Tensor x = fx(name, "input").clone();
  ag::set_requires_grad(x);
  Tensor y = fn(x, fx(name, "target"));
  EXPECT_TRUE(test::tensors_close(y, fx(name, "y"), 1e-5, 1e-6)) << "value";
  ag::backward(test::fx_has(name, "r") ? ag::sum(ag::mul(y, fx(name, "r"))) : y);
  EXPECT_TRUE(test::tensors_close(ag::grad(x), fx(name, "dx"), 1e-5, 1e-6)) << "gradient";
}

TEST(CrossEntropy, ReductionsMatchTorch) {
  check_loss("ce", [](const Tensor& a, const Tensor& t) { return cross_entropy(a, t); });
  check_loss("ce_sum", [](const Tensor& a, const Tensor& t) { return cross_entropy(a, t, {}, -100, Reduction::sum); });
  check_loss("ce_none", [](const Tensor& a, const Tensor& t) { return cross_entropy(a, t, {}, -100, Reduction::none); });
}

TEST(CrossEntropy, WeightsAndIgnoreIndexUseTorchDenominators) {
  Tensor w = fx("ce_weight", "weight");
  check_loss("ce_weight", [&](const Tensor& a, const Tensor& t) { return cross_entropy(a, t, w); });
  check_loss("ce_ignore", [](const Tensor& a, const Tensor& t) { return cross_entropy(a, t); });
  check_loss("ce_ignore2_weight", [&](const Tensor& a, const Tensor& t) { return cross_entropy(a, t, w, 2); });
  check_loss("ce_ignore2_weight_none",
             [&](const Tensor& a, const Tensor& t) { return cross_entropy(a, t, w, 2, Reduction::none); });
}

TEST(CrossEntropy, LabelSmoothing) {
  Tensor w = fx("ce_weight", "weight");
  check_loss("ce_smooth", [](const Tensor& a, const Tensor& t) { return cross_entropy(a, t, {}, -100, Reduction::mean, 0.1); });
  check_loss("ce_smooth_weight_ignore",
             [&](const Tensor& a, const Tensor& t) { return cross_entropy(a, t, w, 2, Reduction::mean, 0.2); });
  check_loss("ce_smooth_none",
             [](const Tensor& a, const Tensor& t) { return cross_entropy(a, t, {}, -100, Reduction::none, 0.3); });
}

TEST(CrossEntropy, SoftTargets) {
  Tensor w = fx("ce_weight", "weight");
  check_loss("ce_soft", [](const Tensor& a, const Tensor& t) { return cross_entropy(a, t); });
  check_loss("ce_soft_weight_smooth",
             [&](const Tensor& a, const Tensor& t) { return cross_entropy(a, t, w, -100, Reduction::mean, 0.1); });
  check_loss("ce_soft_none", [](const Tensor& a, const Tensor& t) { return cross_entropy(a, t, {}, -100, Reduction::none); });
}

TEST(CrossEntropy, SpatialInputs) {
  check_loss("ce_spatial", [](const Tensor& a, const Tensor& t) { return cross_entropy(a, t); });
  check_loss("ce_spatial_none_smooth",
             [](const Tensor& a, const Tensor& t) { return cross_entropy(a, t, {}, -100, Reduction::none, 0.1); });
}

TEST(CrossEntropy, RecordsOneNodeAndChecksTargets) {
  Tensor x = randn({4, 3});
  ag::set_requires_grad(x);
  Tensor y = cross_entropy(x, from_vector<int64_t>({0, 1, 2, 1}, {4}));
  ASSERT_TRUE(ag::grad_fn(y));
  EXPECT_EQ(ag::grad_fn(y)->name, "cross_entropy");
  ASSERT_EQ(ag::grad_fn(y)->next.size(), 1u);
  EXPECT_EQ(ag::grad_fn(y)->next[0].node->leaf.get(), x.impl());  // straight to the leaf: one node
  EXPECT_KILN_ERROR(cross_entropy(x, from_vector<int64_t>({0, 3, 2, 1}, {4})), "target class 3");
  EXPECT_KILN_ERROR(cross_entropy(x, from_vector<int64_t>({0, 1, 2}, {3})), "cross_entropy");
  {
    ag::NoGradGuard ng;
    EXPECT_FALSE(ag::grad_fn(cross_entropy(x, from_vector<int64_t>({0, 1, 2, 1}, {4}))));
  }
}

TEST(CrossEntropy, GradcheckF64AllOptions) {
  Tensor w = tensor({0.5, 2.0, 1.0, 1.5}, DType::f64);
  Tensor t = from_vector<int64_t>({0, 3, 1, 1, 2}, {5});
  Tensor logits = mul(randn({5, 4}, DType::f64), 2.0);
  ag::set_requires_grad(logits);
  for (Reduction r : {Reduction::none, Reduction::mean, Reduction::sum}) {
    auto res = ag::gradcheck([&](const std::vector<Tensor>& in) { return cross_entropy(in[0], t, w, 1, r, 0.15); },
                             {logits});
    EXPECT_TRUE(res.ok) << res.message;
  }
  // probability targets: gradients for both logits and target
  Tensor p = kiln::softmax(randn({5, 4}, DType::f64), 1);
  ag::set_requires_grad(p);
  auto res = ag::gradcheck(
      [&](const std::vector<Tensor>& in) { return cross_entropy(in[0], in[1], w, -100, Reduction::mean, 0.1); },
      {logits, p});
  EXPECT_TRUE(res.ok) << res.message;
  // spatial nll
  Tensor lp = randn({2, 3, 2, 2}, DType::f64);
  ag::set_requires_grad(lp);
  Tensor ts = from_vector<int64_t>({0, 1, 2, 0, 2, 2, 1, 0}, {2, 2, 2});
  res = ag::gradcheck([&](const std::vector<Tensor>& in) { return nll_loss(in[0], ts); }, {lp});
  EXPECT_TRUE(res.ok) << res.message;
}

TEST(CrossEntropy, UnbatchedInputAndAllIgnored) {
  Tensor x = tensor({1.0, 2.0, 3.0});
  Tensor y = cross_entropy(x, scalar_tensor(int64_t(2)));
  EXPECT_EQ(y.dim(), 0);
  EXPECT_NEAR(y.item<double>(), -kiln::log_softmax(x, 0).to_vector<float>()[2], 1e-6);
  Tensor none = cross_entropy(x, scalar_tensor(int64_t(0)), {}, -100, Reduction::none);
  EXPECT_EQ(none.dim(), 0);
  // every target ignored: mean is 0/0 = NaN, as PyTorch
  Tensor all_ign = cross_entropy(randn({2, 3}), from_vector<int64_t>({-100, -100}, {2}));
  EXPECT_TRUE(std::isnan(all_ign.item<double>()));
}

TEST(NllLoss, MatchesTorch) {
  Tensor w = fx("nll_weight_sum", "weight");
  check_loss("nll", [](const Tensor& a, const Tensor& t) { return nll_loss(a, t); });
  check_loss("nll_weight_sum", [&](const Tensor& a, const Tensor& t) { return nll_loss(a, t, w, -100, Reduction::sum); });
}

TEST(BCEWithLogits, AllOptionsMatchTorch) {
  check_loss("bce", [](const Tensor& a, const Tensor& t) { return binary_cross_entropy_with_logits(a, t); });
  Tensor pw = fx("bce_pos_weight", "pos_weight");
  check_loss("bce_pos_weight",
             [&](const Tensor& a, const Tensor& t) { return binary_cross_entropy_with_logits(a, t, {}, pw); });
  Tensor bw = fx("bce_weight_none", "weight");
  check_loss("bce_weight_none", [&](const Tensor& a, const Tensor& t) {
    return binary_cross_entropy_with_logits(a, t, bw, {}, Reduction::none);
  });
  Tensor bw2 = fx("bce_all_sum", "weight"), pw2 = fx("bce_all_sum", "pos_weight");
  check_loss("bce_all_sum", [&](const Tensor& a, const Tensor& t) {
    return binary_cross_entropy_with_logits(a, t, bw2, pw2, Reduction::sum);
  });
}

TEST(RegressionLosses, MatchTorch) {
  check_loss("mse", [](const Tensor& a, const Tensor& t) { return mse_loss(a, t); });
  check_loss("mse_none", [](const Tensor& a, const Tensor& t) { return mse_loss(a, t, Reduction::none); });
  check_loss("l1", [](const Tensor& a, const Tensor& t) { return l1_loss(a, t); });
  check_loss("l1_sum", [](const Tensor& a, const Tensor& t) { return l1_loss(a, t, Reduction::sum); });
  check_loss("smooth_l1", [](const Tensor& a, const Tensor& t) { return smooth_l1_loss(a, t); });
  check_loss("smooth_l1_beta", [](const Tensor& a, const Tensor& t) { return smooth_l1_loss(a, t, Reduction::none, 0.5); });
}

TEST(FlatLosses, CrossEntropyFlatMovesAxisLast) {
  CrossEntropyLossFlat loss(1);
  check_loss("ce_flat_axis", [&](const Tensor& a, const Tensor& t) { return loss(a, t); });
  Tensor x = fx("ce_flat_axis", "input");
  Tensor p = loss.activation(x);
  EXPECT_TRUE(test::tensors_close(kiln::sum(p, {1}), ones({2, 3, 2}), 1e-6, 1e-6));
  Tensor d = loss.decodes(p);
  EXPECT_EQ(d.dtype(), DType::i64);
  EXPECT_TRUE(test::tensors_equal(d, kiln::argmax(x, 1)));
}

TEST(FlatLosses, BCEFlatDecodesThreshold) {
  BCEWithLogitsLossFlat loss(-1, 0.3);
  Tensor x = tensor({{-2.0, 0.0}, {1.0, -0.5}});
  Tensor t = tensor({{0.0, 1.0}, {1.0, 0.0}});
  Tensor flat = loss(x, t);
  EXPECT_TRUE(test::tensors_close(flat, binary_cross_entropy_with_logits(x, t), 1e-6, 1e-6));
  Tensor dec = loss.decodes(loss.activation(x));  // sigmoid: 0.12, 0.5, 0.73, 0.38
  EXPECT_EQ(dec.dtype(), DType::b8);
  EXPECT_EQ(dec.to(DType::i64).to_vector<int64_t>(), (std::vector<int64_t>{0, 1, 1, 1}));
  // axis moved last: [B, C, L] with targets laid out the same way
  BCEWithLogitsLossFlat ax(1);
  Tensor x3 = randn({2, 3, 4}), t3 = kiln::gt(rand({2, 3, 4}), 0.5).to(DType::f32);
  EXPECT_TRUE(test::tensors_close(ax(x3, t3), binary_cross_entropy_with_logits(x3, t3), 1e-6, 1e-6));
  EXPECT_EQ(ax(x3, t3).dim(), 0);
}

TEST(FlatLosses, MSEAndL1FlatFloatifyTargets) {
  MSELossFlat mse;
  L1LossFlat l1;
  Tensor x = tensor({{1.0, 2.0}, {3.0, 4.0}});
  Tensor t = from_vector<int64_t>({1, 1, 1, 1}, {4});
  EXPECT_NEAR(mse(x, t).item<double>(), (0 + 1 + 4 + 9) / 4.0, 1e-6);
  EXPECT_NEAR(l1(x, t).item<double>(), (0 + 1 + 2 + 3) / 4.0, 1e-6);
  EXPECT_TRUE(test::tensors_equal(mse.decodes(x), x));
}

}  // namespace
}  // namespace kiln::nn
