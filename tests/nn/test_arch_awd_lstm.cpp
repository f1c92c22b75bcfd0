// AWD-LSTM structure and behaviour: shapes, parameter names, the carried hidden state, weight
// tying, eval determinism and the dropout masks; the text classifier (SentenceEncoder,
// get_text_classifier); outputs, the loss and every parameter's gradient against PyTorch
// (tools/golden/gen_awd_lstm.py).
#include <gtest/gtest.h>

#include <set>

#include "kiln/autograd/backward.h"
#include "kiln/autograd/ops.h"
#include "kiln/nn/arch_util.h"
#include "kiln/nn/awd_lstm.h"
#include "kiln/nn/dropout.h"
#include "kiln/nn/layers.h"
#include "kiln/nn/loss.h"
#include "kiln/nn/text_models.h"
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
}

TEST(ArchAwdLstm, NewBatchSizeResizesTheStateAsFastai) {
  manual_seed(11);
  AWD_LSTM m(15, 6, 10, 2);
  m.eval();
  Tensor x = randint(0, 15, {2, 4}), x3 = randint(0, 15, {3, 4});
  m.reset();
  Tensor fresh3 = m(x3);  // every row from a zero state
  m.reset();
  m(x);
  Tensor grown = m(x3);  // rows 0, 1 continue x's rows, row 2 starts from zero
  EXPECT_EQ(m.hidden()[1].h.shape(), Shape({1, 3, 6}));
  m.reset();
  m(x);
  Tensor carried = m(x3.narrow(0, 0, 2));
  EXPECT_LT(max_diff(grown.narrow(0, 0, 2), carried), 1e-6);
  EXPECT_LT(max_diff(grown.narrow(0, 2, 1), fresh3.narrow(0, 2, 1)), 1e-6);
  EXPECT_GT(max_diff(grown.narrow(0, 0, 2), fresh3.narrow(0, 0, 2)), 1e-4);
  // shrinking keeps the first rows' states
  m.reset();
  m(x3);
  Tensor shrunk = m(x);
  m.reset();
  m(x3);
  Tensor full = m(kiln::cat({x, x3.narrow(0, 2, 1)}, 0));
  EXPECT_LT(max_diff(shrunk, full.narrow(0, 0, 2)), 1e-6);
  EXPECT_EQ(m.hidden()[0].c.shape(), Shape({1, 3, 10}));
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

// ---------------------------------------------------------------- text classifier

namespace {

const std::map<std::string, Tensor>& awd_fixture() {
  static const auto f = test::load_fixture("awd_lstm");
  return f;
}

Tensor afx(const std::string& key) {
  auto it = awd_fixture().find(key);
  if (it == awd_fixture().end()) throw std::runtime_error("awd_lstm fixture has no " + key);
  return it->second;
}

std::vector<std::pair<std::string, Tensor>> afx_state(const std::string& prefix) {
  std::vector<std::pair<std::string, Tensor>> sd;
  const std::string p = prefix + "/p/";
  for (auto& [k, t] : awd_fixture())
    if (k.rfind(p, 0) == 0) sd.emplace_back(k.substr(p.size()), t);
  return sd;
}

// The golden script's small config: vocab 23, emb 6, hid 8, 3 layers, pad 1.
AWDLSTMConfig small_config(AWDLSTMConfig c) {
  c.emb_sz = 6, c.n_hid = 8, c.n_layers = 3;
  return c;
}

Tensor param_of(Module& m, const std::string& name) {
  for (auto& [n, t] : m.named_parameters())
    if (n == name) return t;
  throw std::runtime_error("no parameter " + name);
}

// Every parameter's gradient against "<prefix>/g/<name>"; kiln's parameter names (tied and aliased
// weights once, as PyTorch's named_parameters) and the fixture's must be the same set.
void expect_all_grads(Module& m, const std::string& prefix) {
  std::map<std::string, Tensor> expected;
  const std::string p = prefix + "/g/";
  for (auto& [k, t] : awd_fixture())
    if (k.rfind(p, 0) == 0) expected.emplace(k.substr(p.size()), t);
  std::set<std::string> ours, theirs;
  for (auto& [n, t] : expected) theirs.insert(n);
  for (auto& [n, t] : m.named_parameters()) {
    ours.insert(n);
    auto it = expected.find(n);
    if (it == expected.end()) continue;
    Tensor g = ag::grad(t);
    if (!g.defined()) {
      ADD_FAILURE() << prefix << ": no gradient for " << n;
      continue;
    }
    EXPECT_TRUE(test::tensors_close(g, it->second, 1e-4, 1e-6)) << prefix << " gradient of " << n;
  }
  EXPECT_EQ(ours, theirs) << prefix << ": kiln's parameters vs the fixture's gradients";
}

std::vector<int64_t> dropout_ps(Module& m) {
  std::vector<int64_t> out;  // in percent, so that the comparison is exact
  for (auto& mod : m.modules())
    if (auto* d = dynamic_cast<Dropout*>(mod.get())) out.push_back(int64_t(d->p * 100 + 0.5));
  return out;
}

}  // namespace

TEST(ArchAwdLstm, PadInputChunkLayout) {
  // seq_len 3: 5 missing = one chunk of 3 before (pad_first) or after the text, the 2 left after it
  Tensor a = pad_input_chunk({{5, 6, 7, 8, 9, 4, 3}, {2, 3}}, 1, true, 3);
  EXPECT_TRUE(test::tensors_equal(a, tensor({{5, 6, 7, 8, 9, 4, 3}, {1, 1, 1, 2, 3, 1, 1}}).to(DType::i64)));
  Tensor b = pad_input_chunk({{5, 6, 7, 8, 9, 4, 3}, {2, 3}}, 0, false, 3);
  EXPECT_TRUE(test::tensors_equal(b, tensor({{5, 6, 7, 8, 9, 4, 3}, {2, 3, 0, 0, 0, 0, 0}}).to(DType::i64)));
  EXPECT_KILN_ERROR(pad_input_chunk({{1}}, 1, true, 0), "seq_len");
}

TEST(ArchAwdLstm, TextClassifierDefaultsAsFastai) {
  manual_seed(12);
  TextClassifierOptions o;
  o.config = small_config(o.config);  // fastai's clas config, small sizes
  auto model = get_text_classifier(30, 4, o);
  EXPECT_EQ(model->type_name(), "SequentialRNN");
  auto enc = std::dynamic_pointer_cast<SentenceEncoder>((*model)[0]);
  auto head = std::dynamic_pointer_cast<PoolingLinearClassifier>((*model)[1]);
  ASSERT_TRUE(enc && head);
  EXPECT_EQ(enc->bptt, 72);
  EXPECT_EQ(enc->max_len, std::optional<int64_t>(72 * 20));
  EXPECT_EQ(enc->pad_idx, 1);
  EXPECT_EQ(head->bptt, 72);
  EXPECT_DOUBLE_EQ(enc->module->opts.hidden_p, 0.3);
  EXPECT_DOUBLE_EQ(enc->module->opts.input_p, 0.4);
  EXPECT_DOUBLE_EQ(enc->module->opts.embed_p, 0.05);
  EXPECT_DOUBLE_EQ(enc->module->opts.weight_p, 0.5);
  // head: LinBnDrop(18, 50, p = output_p 0.4, ReLU), LinBnDrop(50, 4, p = 0.1)
  ASSERT_EQ(head->layers->size(), 2);
  EXPECT_EQ(dropout_ps(*head), (std::vector<int64_t>{40, 10}));
  EXPECT_EQ(param_of(*model, "1.layers.0.2.weight").shape(), Shape({50, 18}));
  EXPECT_EQ(param_of(*model, "1.layers.1.2.weight").shape(), Shape({4, 50}));
  EXPECT_TRUE(param_of(*model, "0.module.rnns.2.weight_hh_l0_raw").defined());
  // drop_mult scales the config's dropouts (output_p included) but not ps
  o.drop_mult = 0.5;
  o.lin_ftrs = {9, 5};
  auto m2 = get_text_classifier(30, 4, o);
  auto enc2 = std::dynamic_pointer_cast<SentenceEncoder>((*m2)[0]);
  EXPECT_DOUBLE_EQ(enc2->module->opts.hidden_p, 0.15);
  EXPECT_DOUBLE_EQ(enc2->module->opts.weight_p, 0.25);
  EXPECT_EQ(dropout_ps(*(*m2)[1]), (std::vector<int64_t>{20, 10, 10}));
  EXPECT_EQ(param_of(*m2, "1.layers.2.2.weight").shape(), Shape({4, 5}));
  o.ps = std::vector<double>{0.3};
  EXPECT_KILN_ERROR(get_text_classifier(30, 4, o), "lin_ftrs");
  // the LM builder: fastai's LM config, tied decoder
  auto lm = get_language_model(30, small_config(awd_lstm_lm_config()), 2.0);
  auto lm_enc = std::dynamic_pointer_cast<AWD_LSTM>((*lm)[0]);
  ASSERT_TRUE(lm_enc);
  EXPECT_DOUBLE_EQ(lm_enc->opts.input_p, 0.5);
  auto dec = std::dynamic_pointer_cast<LinearDecoder>((*lm)[1]);
  ASSERT_TRUE(dec);
  EXPECT_TRUE(dec->decoder->weight.is_same(lm_enc->encoder->weight));
  EXPECT_EQ(model->str().rfind("SequentialRNN(\n  (0): SentenceEncoder(\n    bptt=72, pad_idx=1, max_len=1440", 0), 0u);
  // summary runs the whole classifier (the mask reaches the head) and names it
  model->eval();
  const std::string s = model->summary({randint(2, 30, {2, 9})});
  EXPECT_EQ(s.rfind("SequentialRNN (Input shape: 2 x 9)", 0), 0u) << s;
  EXPECT_NE(s.find("Linear                2 x 4"), std::string::npos) << s;  // the head's last layer ran
}

TEST(ArchAwdLstm, SentenceEncoderPiecesMaskAndMaxLen) {
  manual_seed(13);
  auto awd = std::make_shared<AWD_LSTM>(12, 4, 5, 2);
  awd->eval();
  SentenceEncoder enc(3, awd, 1, std::nullopt);
  enc.eval();
  // pad last (fastai's pad_first = false): row 1 has text in the first piece only
  Tensor x = pad_input_chunk({{4, 5, 6, 7, 8, 9, 10}, {3, 2}}, 1, false, 3);
  SentenceEncoder::Encoded e = enc.encode(x);
  ASSERT_EQ(e.output.shape(), Shape({2, 7, 4}));
  EXPECT_TRUE(test::tensors_equal(e.mask, kiln::eq(x, 1)));
  // pieces 2 and 3 start on padding in row 1: its outputs there are zeros
  EXPECT_EQ(kiln::sum(kiln::abs(e.output.select(0, 1).narrow(0, 3, 4))).item<double>(), 0.0);
  EXPECT_GT(kiln::sum(kiln::abs(e.output.select(0, 1).narrow(0, 0, 3))).item<double>(), 0.0);
  // row 0 equals running the encoder alone over the whole text in one call
  awd->reset();
  Tensor alone = (*awd)(x.narrow(0, 0, 1));
  EXPECT_LT(max_diff(e.output.narrow(0, 0, 1), alone), 1e-6);
  // max_len 3: only the pieces starting in the last 3 tokens (the one at 6) are kept; the earlier
  // ones still set the state
  enc.max_len = 3;
  SentenceEncoder::Encoded tail = enc.encode(x);
  ASSERT_EQ(tail.output.shape(), Shape({2, 1, 4}));
  EXPECT_LT(max_diff(tail.output.narrow(0, 0, 1), alone.narrow(1, 6, 1)), 1e-6);
  EXPECT_TRUE(test::tensors_equal(tail.mask, kiln::eq(x, 1).narrow(1, 6, 1)));
  enc.max_len = 0;
  EXPECT_KILN_ERROR(enc.encode(x), "keeps none");
  EXPECT_KILN_ERROR(enc.encode(zeros({2, 0}, DType::i64)), "T > 0");
}

TEST(ArchAwdLstm, LanguageModelMatchesPyTorch) {
  AWDLSTMConfig c = small_config(awd_lstm_lm_config());
  auto lm = get_language_model(23, c);
  LoadReport rep = load_fastai_state_dict(*lm, afx_state("lm"));
  EXPECT_TRUE(rep.ok()) << rep.str();
  lm->eval();
  lm->reset();
  Tensor y = (*lm)(afx("lm/x"));
  EXPECT_TRUE(test::tensors_close(y, afx("lm/y"), 1e-4, 1e-5));
  Tensor loss = cross_entropy(ag::reshape(y, {-1, 23}), afx("lm/target").reshape({-1}));
  EXPECT_TRUE(test::tensors_close(loss, afx("lm/loss"), 1e-4, 1e-6));
  ag::backward(loss);
  expect_all_grads(*lm, "lm");  // the tied decoder weight is 0.encoder.weight, once
  // the second call continues from the first call's state
  EXPECT_TRUE(test::tensors_close((*lm)(afx("lm/x2")), afx("lm/y2"), 1e-4, 1e-5));
}

TEST(ArchAwdLstm, LoadFastaiStateDictDropsOnlyEqualAliases) {
  auto lm = get_language_model(23, small_config(awd_lstm_lm_config()));
  auto sd = afx_state("lm");
  for (auto& [n, t] : sd)
    if (n == "0.encoder_dp.emb.weight") t = kiln::add(t, 1.0);  // no longer the same tensor
  EXPECT_KILN_ERROR(load_fastai_state_dict(*lm, sd), "encoder_dp.emb.weight");
  LoadReport rep = load_fastai_state_dict(*lm, sd, /*strict=*/false);
  EXPECT_EQ(rep.unexpected, std::vector<std::string>{"0.encoder_dp.emb.weight"});
  EXPECT_TRUE(rep.missing.empty());
}

TEST(ArchAwdLstm, TextClassifierMatchesPyTorch) {
  TextClassifierOptions o;
  o.config = small_config(awd_lstm_clas_config());
  o.seq_len = 5;
  o.lin_ftrs = {7};
  auto model = get_text_classifier(23, 3, o);
  LoadReport rep = load_fastai_state_dict(*model, afx_state("clas"));
  ASSERT_TRUE(rep.ok()) << rep.str();
  model->eval();
  auto enc = std::dynamic_pointer_cast<SentenceEncoder>((*model)[0]);
  ASSERT_TRUE(enc);
  // the fixture's batches are fastai's pad_input_chunk of these sequences
  std::vector<std::vector<int64_t>> seqs;
  {
    std::vector<int64_t> flat = afx("clas/seqs").to_vector<int64_t>(), lens = afx("clas/lens").to_vector<int64_t>();
    size_t at = 0;
    for (int64_t n : lens) {
      seqs.emplace_back(flat.begin() + int64_t(at), flat.begin() + int64_t(at) + n);
      at += size_t(n);
    }
  }
  for (const std::string c : {"clas_first", "clas_last"}) {
    SCOPED_TRACE(c);
    Tensor x = afx(c + "/x");
    EXPECT_TRUE(test::tensors_equal(pad_input_chunk(seqs, 1, c == "clas_first", 5), x));
    const int64_t max_len = afx(c + "/max_len").item<int64_t>();
    enc->max_len = max_len > 0 ? std::optional<int64_t>(max_len) : std::nullopt;
    SentenceEncoder::Encoded e = enc->encode(x);
    EXPECT_TRUE(test::tensors_close(e.output, afx(c + "/enc"), 1e-4, 1e-6));
    EXPECT_TRUE(test::tensors_equal(e.mask, afx(c + "/mask")));
    model->zero_grad();
    Tensor y = (*model)(x);
    EXPECT_TRUE(test::tensors_close(y, afx(c + "/y"), 1e-4, 1e-5));
    Tensor loss = cross_entropy(y, afx(c + "/target"));
    EXPECT_TRUE(test::tensors_close(loss, afx(c + "/loss"), 1e-4, 1e-6));
    ag::backward(loss);
    expect_all_grads(*model, c);
  }
}
