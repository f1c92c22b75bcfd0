// TabularModel, EmbeddingDotBias, EmbeddingNN: structure, names, shapes, formulas.
#include <gtest/gtest.h>

#include "kiln/autograd/ops.h"
#include "kiln/nn/embedding.h"
#include "kiln/nn/tabular_model.h"
#include "kiln/tensor/ops.h"

using namespace kiln;
using namespace kiln::nn;

namespace {
double max_diff(const Tensor& a, const Tensor& b) {
  ag::NoGradGuard ng;
  return kiln::max(kiln::abs(kiln::sub(a, b))).item<double>();
}
}  // namespace

TEST(ArchTabular, NamesShapesAndRange) {
  manual_seed(0);
  TabularOptions o;
  o.ps = {0.1, 0.0};
  o.y_range = std::make_pair(-1.0, 2.0);
  TabularModel m({{5, 3}, {7, 4}}, 2, 3, {8, 6}, o);
  EXPECT_EQ(m.n_emb, 7);
  std::vector<std::string> names;
  for (auto& [n, t] : m.state_dict()) names.push_back(n);
  // fastai's names: embeds.i.weight, bn_cont.*, layers.i.{0 linear (no bias), 1 act, 2 bn, 3 dropout}
  std::vector<std::string> expect = {"embeds.0.weight", "embeds.1.weight", "bn_cont.weight", "bn_cont.bias",
                                     "bn_cont.running_mean", "bn_cont.running_var", "bn_cont.num_batches_tracked",
                                     "layers.0.0.weight", "layers.0.2.weight", "layers.0.2.bias",
                                     "layers.0.2.running_mean", "layers.0.2.running_var",
                                     "layers.0.2.num_batches_tracked", "layers.1.0.weight", "layers.1.2.weight",
                                     "layers.1.2.bias", "layers.1.2.running_mean", "layers.1.2.running_var",
                                     "layers.1.2.num_batches_tracked", "layers.2.0.weight", "layers.2.0.bias"};
  EXPECT_EQ(names, expect);
  // fastai's embedding init: small (std 0.01, folded into +-2 std)
  auto e0 = std::dynamic_pointer_cast<Embedding>((*m.embeds)[0]);
  EXPECT_LE(kiln::max(kiln::abs(e0->weight)).item<double>(), 0.02);
  Tensor x_cat = stack({randint(0, 5, {10}), randint(0, 7, {10})}, 1);
  Tensor x_cont = randn({10, 2});
  Tensor y = m({x_cat, x_cont});
  EXPECT_EQ(y.shape(), Shape({10, 3}));
  EXPECT_GT(kiln::min(y).item<double>(), -1.0);
  EXPECT_LT(kiln::max(y).item<double>(), 2.0);
  ag::backward(ag::sum(y));
  EXPECT_TRUE(ag::grad(e0->weight).defined());
  EXPECT_THROW(m({x_cat}), Error);
  EXPECT_THROW(m({x_cat, randn({10, 3})}), Error);
}

TEST(ArchTabular, ContinuousOnlyAndBnFinal) {
  TabularOptions o;
  o.bn_final = true;
  o.lin_first = false;
  TabularModel m({}, 4, 2, {5}, o);
  auto names = m.state_dict();
  // lin_first = false: BatchNorm before the linear; bn_final puts one on the last layer too
  EXPECT_EQ(names[5].first, "layers.0.0.weight");
  EXPECT_EQ(names[5].second.shape(), Shape({4}));
  EXPECT_EQ(names.back().first, "layers.1.1.weight");
  EXPECT_EQ(m({kiln::zeros({6, 0}, DType::i64), randn({6, 4})}).shape(), Shape({6, 2}));
}

TEST(ArchCollab, EmbeddingDotBiasFormula) {
  manual_seed(3);
  EmbeddingDotBias m(4, 6, 5, std::make_pair(0.0, 5.5));
  Tensor x = stack({randint(0, 6, {9}), randint(0, 5, {9})}, 1);
  Tensor y = m(x);
  ASSERT_EQ(y.shape(), Shape({9}));
  auto w = [&](const char* n) { return std::dynamic_pointer_cast<Embedding>(m.child(n))->weight; };
  Tensor u = index_select(w("u_weight"), 0, x.select(1, 0)), it = index_select(w("i_weight"), 0, x.select(1, 1));
  Tensor res = sum(u * it, {1}) + index_select(w("u_bias"), 0, x.select(1, 0)).squeeze(1) +
               index_select(w("i_bias"), 0, x.select(1, 1)).squeeze(1);
  EXPECT_LT(max_diff(y, sigmoid(res) * 5.5), 1e-6);
  EXPECT_EQ(m.state_dict().size(), 4u);
  EXPECT_EQ(m.state_dict()[0].first, "u_weight.weight");
  EXPECT_THROW(m(randint(0, 5, {9, 3})), Error);
}

TEST(ArchCollab, EmbeddingNN) {
  EmbeddingNN m({{6, 3}, {5, 2}}, {8});
  Tensor x = stack({randint(0, 6, {4}), randint(0, 5, {4})}, 1);
  EXPECT_EQ(m(x).shape(), Shape({4, 1}));
  EXPECT_FALSE(m.has_child("bn_cont"));
}
