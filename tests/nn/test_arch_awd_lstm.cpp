// AWD-LSTM structure and behaviour: shapes, parameter names, the carried hidden state, weight
// tying, eval determinism and the dropout masks.
#include <gtest/gtest.h>

#include "kiln/autograd/backward.h"
#include "kiln/autograd/ops.h"
#include "kiln/nn/arch_util.h"
#include "kiln/nn/awd_lstm.h"
#include "kiln/tensor/ops.h"
#include "support/fixtures.h"

using namespace kiln;
using namespace kiln::nn;

namespace {

double max_diff(const Tensor& a, const Tensor& b) {
  ag::NoGradGuard ng;
  return kiln::max(kiln::abs(kiln::sub(a, b))).item<double>();
}

bool has_name(const Module& m, const std::string& name) {
  for (auto& [n, t] : m.named_parameters())
    if (n == name) return true;
  return false;
}

}  // namespace

TEST(ArchAwdLstm, ShapesAndParameterNames) {
  manual_seed(0);
  AWD_LSTM m(20, 8, 12, 3);
  Tensor x = randint(0, 20, {2, 5});
  Tensor y = m(x);
  EXPECT_EQ(y.shape(), Shape({2, 5, 8}));
  ASSERT_EQ(m.hidden().size(), 3u);
  EXPECT_EQ(m.hidden()[0].h.shape(), Shape({1, 2, 12}));
  EXPECT_EQ(m.hidden()[2].c.shape(), Shape({1, 2, 8}));
  EXPECT_TRUE(has_name(m, "encoder.weight"));
  EXPECT_TRUE(has_name(m, "rnns.0.weight_hh_l0_raw"));
  EXPECT_TRUE(has_name(m, "rnns.0.module.weight_ih_l0"));
  EXPECT_TRUE(has_name(m, "rnns.2.module.bias_hh_l0"));
  EXPECT_FALSE(has_name(m, "rnns.0.module.weight_hh_l0"));  // moved to the raw copy
  // encoder 20*8; LSTMs (4H * (in + H + 2)): 48*(8+12+2) + 48*(12+12+2) + 32*(12+8+2)
  EXPECT_EQ(num_parameters(m), 160 + 48 * 22 + 48 * 26 + 32 * 22);
  // encoder initialised U(-0.1, 0.1), padding row included (fastai)
  EXPECT_LE(kiln::max(kiln::abs(m.encoder->weight)).item<double>(), 0.1);

  auto lm = awd_lstm_lm(20, 8, 12, 3);
  Tensor logits = (*lm)(x);
  EXPECT_EQ(logits.shape(), Shape({2, 5, 20}));
  // the tied decoder adds only its bias (zero-initialised)
  EXPECT_EQ(num_parameters(*lm), num_parameters(m) + 20);
  auto dec = std::dynamic_pointer_cast<LinearDecoder>((*lm)[1]);
  ASSERT_TRUE(dec);
  EXPECT_EQ(kiln::sum(kiln::abs(dec->decoder->bias)).item<double>(), 0.0);
}

TEST(ArchAwdLstm, HiddenStateCarriedDetachedAndReset) {
  manual_seed(1);
  AWD_LSTM m(15, 6, 10, 2);
  m.eval();
  Tensor x = randint(0, 15, {2, 4});
  Tensor y1 = m(x);
  EXPECT_FALSE(ag::requires_grad(m.hidden()[0].h));  // detached between calls
  Tensor y2 = m(x);
  EXPECT_GT(max_diff(y1, y2), 1e-6);  // the second call starts from the first's state
  m.reset();
  EXPECT_FALSE(m.hidden()[0].h.defined());
  EXPECT_TRUE(test::tensors_equal(m(x), y1));
  // a new batch size resets the state
  Tensor x3 = randint(0, 15, {3, 4});
  m.reset();
  Tensor fresh = m(x3);
  m.reset();
  m(x);
  EXPECT_TRUE(test::tensors_equal(m(x3), fresh));
}

TEST(ArchAwdLstm, EvalDeterministicTrainingStochastic) {
  manual_seed(2);
  auto lm = awd_lstm_lm(12, 6, 8, 2);
  auto enc = std::dynamic_pointer_cast<AWD_LSTM>((*lm)[0]);
  Tensor x = randint(0, 12, {3, 5});
  lm->eval();
  Tensor a = (*lm)(x);
  enc->reset();
  Tensor b = (*lm)(x);
  EXPECT_TRUE(test::tensors_equal(a, b));
  lm->train();
  enc->reset();
  Tensor c = (*lm)(x);
  enc->reset();
  Tensor d = (*lm)(x);
  EXPECT_GT(max_diff(c, d), 1e-6);
}

TEST(ArchAwdLstm, TiedWeightGetsGradientFromBothUses) {
  manual_seed(3);
  auto lm = awd_lstm_lm(10, 4, 6, 2);
  lm->eval();  // deterministic, so the tied and untied runs compute the same function
  auto enc = std::dynamic_pointer_cast<AWD_LSTM>((*lm)[0]);
  auto dec = std::dynamic_pointer_cast<LinearDecoder>((*lm)[1]);
  ASSERT_TRUE(enc && dec);
  Tensor w = enc->encoder->weight;
  EXPECT_TRUE(dec->decoder->weight.is_same(w));
  Tensor x = randint(0, 10, {2, 3});
  Tensor r = randn({2, 3, 10});
  auto run = [&] {
    enc->reset();
    ag::backward(ag::sum(ag::mul((*lm)(x), r)));
  };
  // Untied: the decoder uses a separate leaf with the same values.
  Tensor wd = ag::set_requires_grad(w.clone());
  dec->decoder->weight = wd;
  run();
  Tensor g_enc = ag::grad(w), g_dec = ag::grad(wd);
  ASSERT_TRUE(g_enc.defined() && g_dec.defined());
  EXPECT_GT(kiln::sum(kiln::abs(g_dec)).item<double>(), 0.0);
  lm->zero_grad();
  // Tied again: the shared weight collects both contributions.
  dec->decoder->weight = w;
  run();
  EXPECT_LT(max_diff(ag::grad(w), kiln::add(g_enc, g_dec)), 1e-5);
}

TEST(ArchAwdLstm, RNNDropoutMaskSharedAlongSequence) {
  manual_seed(4);
  RNNDropout dp(0.5);
  Tensor x = ones({3, 7, 5});
  Tensor y = dp(x);
  EXPECT_EQ(dp.last_mask.shape(), Shape({3, 1, 5}));
  // every step has the same mask; values are 0 or 1 / (1 - p)
  EXPECT_TRUE(test::tensors_equal(y, dp.last_mask.expand({3, 7, 5}).contiguous()));
  Tensor kept = kiln::logical_or(kiln::eq(y, 0.0), kiln::eq(y, 2.0));
  EXPECT_TRUE(kiln::all(kept).item<bool>());
  dp.eval();
  EXPECT_TRUE(test::tensors_equal(dp(x), x));
}

TEST(ArchAwdLstm, EmbeddingDropoutDropsWholeRows) {
  manual_seed(5);
  auto emb = std::make_shared<Embedding>(10, 3);
  EmbeddingDropout dp(emb, 0.5);
  Tensor words = arange(10, DType::i64).view({2, 5});
  Tensor y = dp(words);  // [2, 5, 3]
  EXPECT_EQ(dp.last_mask.shape(), Shape({10, 1}));
  Tensor expected = kiln::mul(emb->weight, dp.last_mask).view({2, 5, 3});
  EXPECT_LT(max_diff(y, expected), 1e-6);
  Tensor m = dp.last_mask;
  EXPECT_TRUE(kiln::all(kiln::logical_or(kiln::eq(m, 0.0), kiln::eq(m, 2.0))).item<bool>());
  dp.eval();
  EXPECT_LT(max_diff(dp(words), emb->weight.view({2, 5, 3})), 0.0 + 1e-7);
  // the embedding is not registered again under the dropout
  EXPECT_EQ(dp.parameters().size(), 0u);
}

TEST(ArchAwdLstm, WeightDropoutUsesRawInEvalAndTrainsIt) {
  manual_seed(6);
  auto lstm = std::make_shared<LSTM>(3, 4, 1, true, true);
  WeightDropout wd(lstm, 0.5);
  Tensor x = randn({2, 5, 3});
  wd.eval();
  Tensor ye = wd(x);
  lstm->set_weight_hh(0, wd.raw);
  EXPECT_TRUE(test::tensors_equal(lstm->forward(x).output, ye));
  wd.train();
  Tensor yt = wd(x);
  EXPECT_GT(max_diff(yt, ye), 1e-6);
  EXPECT_TRUE(lstm->weight_hh(0).is_same(wd.raw));  // the dropped copy is released after forward
  ag::backward(ag::sum(yt));
  EXPECT_TRUE(ag::grad(wd.raw).defined());
  EXPECT_KILN_ERROR(lstm->unregister_parameter("weight_hh_l0"), "no parameter 'weight_hh_l0'");
  EXPECT_KILN_ERROR(lstm->set_weight_hh(0, zeros({3, 3})), "set_weight_hh");
  EXPECT_KILN_ERROR(WeightDropout(std::make_shared<LSTM>(3, 4, 2), 0.5), "single-layer");
}

TEST(ArchAwdLstm, MaskedConcatPoolAndClassifier) {
  // output[b, t, e] = 10 b + t + 0.5 e; row 1 has its last two positions padded
  Tensor out = kiln::add(kiln::add(kiln::mul(arange(2, DType::f32).view({2, 1, 1}), 10.0),
                                   arange(4, DType::f32).view({1, 4, 1})),
                         kiln::mul(arange(2, DType::f32).view({1, 1, 2}), 0.5));
  Tensor mask = zeros({2, 4}, DType::b8);
  kiln::fill_(mask.select(0, 1).narrow(0, 2, 2), true);
  Tensor p = masked_concat_pool(out, mask, 72);
  ASSERT_EQ(p.shape(), Shape({2, 6}));
  // row 0: last t=3, max t=3, mean t=1.5; row 1: last t=1, max t=1, mean t=0.5
  Tensor expected = tensor({{3, 3.5, 3, 3.5, 1.5, 2}, {11, 11.5, 11, 11.5, 10.5, 11}});
  EXPECT_LT(max_diff(p, expected), 1e-6);

  manual_seed(7);
  PoolingLinearClassifier head({6, 50, 3}, {0.1, 0.1});
  EXPECT_EQ(head.layers->size(), 2);
  Tensor y = head(std::vector<Tensor>{out, mask});
  EXPECT_EQ(y.shape(), Shape({2, 3}));
  // classifier on top of an AWD_LSTM encoder
  AWD_LSTM enc(9, 4, 5, 2);
  Tensor tokens = randint(2, 9, {3, 6});
  Tensor pad_mask = kiln::eq(tokens, 1);
  PoolingLinearClassifier clas({12, 50, 2}, {0.2, 0.1});
  EXPECT_EQ(clas(std::vector<Tensor>{enc(tokens), pad_mask}).shape(), Shape({3, 2}));
}
