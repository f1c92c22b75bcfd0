// fastai's text model builders: SequentialRNN, SentenceEncoder, configs, get_language_model,
// get_text_classifier, pad_input_chunk.
#include "kiln/nn/text_models.h"

#include <algorithm>
#include <string>

#include "kiln/autograd/shape_ops.h"
#include "kiln/tensor/ops.h"

namespace kiln::nn {

// ---- configs

AWDLSTMConfig AWDLSTMConfig::scaled(double m) const {
  KILN_CHECK(m >= 0, "AWDLSTMConfig: drop_mult must be >= 0, got ", m);
  AWDLSTMConfig c = *this;
  for (double* p : {&c.output_p, &c.hidden_p, &c.input_p, &c.embed_p, &c.weight_p}) *p *= m;
  return c;
}

AWDLSTMConfig awd_lstm_lm_config() {
  AWDLSTMConfig c;
  c.output_p = 0.1, c.hidden_p = 0.15, c.input_p = 0.25, c.embed_p = 0.02, c.weight_p = 0.2;
  return c;
}

AWDLSTMConfig awd_lstm_clas_config() {
  AWDLSTMConfig c;
  c.output_p = 0.4, c.hidden_p = 0.3, c.input_p = 0.4, c.embed_p = 0.05, c.weight_p = 0.5;
  return c;
}

// ---- SequentialRNN

SequentialRNN::SequentialRNN() : Sequential("SequentialRNN") {}

SequentialRNN::SequentialRNN(std::vector<ModulePtr> layers) : Sequential("SequentialRNN") {
  for (auto& m : layers) push_back(std::move(m));
}

void SequentialRNN::reset() {
  for (auto& [name, m] : named_children()) {
    if (auto* a = dynamic_cast<AWD_LSTM*>(m.get())) a->reset();
    if (auto* s = dynamic_cast<SentenceEncoder*>(m.get())) s->reset();
    if (auto* r = dynamic_cast<SequentialRNN*>(m.get())) r->reset();
  }
}

Tensor SequentialRNN::forward_impl(const Tensor& x) {
  Tensor y = x, mask;
  for (auto& [name, m] : named_children()) {
    if (mask.defined()) {
      y = (*m)(std::vector<Tensor>{y, mask});
      mask = Tensor();
    } else {
      y = (*m)(y);
    }
    if (auto* s = dynamic_cast<SentenceEncoder*>(m.get())) {
      mask = s->last_mask;
      s->last_mask = Tensor();
    }
  }
  KILN_CHECK(!mask.defined(), "SequentialRNN: a SentenceEncoder must be followed by a layer taking {output, mask}");
  return y;
}

// ---- SentenceEncoder

SentenceEncoder::SentenceEncoder(int64_t bptt_, std::shared_ptr<AWD_LSTM> m, int64_t pad, std::optional<int64_t> ml)
    : Module("SentenceEncoder"), bptt(bptt_), pad_idx(pad), max_len(ml), module(std::move(m)) {
  KILN_CHECK(module, "SentenceEncoder: needs an AWD_LSTM");
  KILN_CHECK(bptt > 0, "SentenceEncoder: bptt must be positive, got ", bptt);
  KILN_CHECK(!max_len || *max_len >= 0, "SentenceEncoder: max_len must be >= 0, got ", *max_len);
  register_module("module", module);
}

SentenceEncoder::Encoded SentenceEncoder::encode(const Tensor& tokens) {
  KILN_CHECK(tokens.dim() == 2 && tokens.size(1) > 0, "SentenceEncoder: expected tokens [B, T] with T > 0, got ",
             tokens.shape());
  KILN_CHECK(tokens.dtype() == DType::i64, "SentenceEncoder: tokens must be i64, got ", dtype_name(tokens.dtype()));
  const int64_t bs = tokens.size(0), sl = tokens.size(1);
  reset();
  Tensor pad;
  {
    ag::NoGradGuard ng;
    pad = kiln::eq(tokens, pad_idx);
  }
  std::vector<Tensor> outs, masks;
  for (int64_t i = 0; i < sl; i += bptt) {
    const int64_t len = std::min(bptt, sl - i);
    int64_t n;
    {
      ag::NoGradGuard ng;
      n = kiln::sum(kiln::logical_not(pad.select(1, i)).to(DType::i64)).item<int64_t>();
    }
    Tensor o;
    if (n > 0) {
      o = (*module)(tokens.narrow(0, 0, n).narrow(1, i, len));
    } else {
      // fastai would run the LSTM on no rows, which shrinks its state to no rows; the next piece
      // then starts every row from zero, which is what a reset gives.
      module->reset();
    }
    const bool keep = !max_len || sl - i <= *max_len;
    if (!keep) continue;
    if (n < bs) {
      Tensor z = kiln::zeros({bs - n, len, module->emb_sz}, o.defined() ? o.dtype() : module->encoder->weight.dtype(),
                             tokens.device());
      o = o.defined() ? ag::cat({o, z}, 0) : z;
    }
    outs.push_back(o);
    masks.push_back(pad.narrow(1, i, len));
  }
  KILN_CHECK(!outs.empty(), "SentenceEncoder: max_len ", *max_len, " keeps none of the ", sl, " tokens");
  Encoded e;
  e.output = outs.size() == 1 ? outs[0] : ag::cat(outs, 1);
  e.mask = kiln::cat(masks, 1);
  return e;
}

Tensor SentenceEncoder::forward_impl(const Tensor& tokens) {
  Encoded e = encode(tokens);
  last_mask = e.mask;
  return e.output;
}

std::string SentenceEncoder::extra_repr() const {
  return "bptt=" + std::to_string(bptt) + ", pad_idx=" + std::to_string(pad_idx) +
         ", max_len=" + (max_len ? std::to_string(*max_len) : std::string("None"));
}

// ---- builders

std::shared_ptr<SequentialRNN> get_language_model(int64_t vocab_sz, const AWDLSTMConfig& config, double drop_mult) {
  const AWDLSTMConfig c = config.scaled(drop_mult);
  auto enc = std::make_shared<AWD_LSTM>(vocab_sz, c.emb_sz, c.n_hid, c.n_layers, c.options());
  auto dec = std::make_shared<LinearDecoder>(vocab_sz, c.emb_sz, c.output_p, c.tie_weights ? enc->encoder : nullptr,
                                             c.out_bias);
  return std::make_shared<SequentialRNN>(std::vector<ModulePtr>{enc, dec});
}

std::shared_ptr<SequentialRNN> get_text_classifier(int64_t vocab_sz, int64_t n_class, const TextClassifierOptions& o) {
  KILN_CHECK(n_class > 0, "get_text_classifier: n_class must be positive, got ", n_class);
  const AWDLSTMConfig c = o.config.scaled(o.drop_mult);
  std::vector<double> ps = o.ps ? *o.ps : std::vector<double>(o.lin_ftrs.size(), 0.1);
  KILN_CHECK(ps.size() == o.lin_ftrs.size(), "get_text_classifier: ", o.lin_ftrs.size(), " lin_ftrs need as many ps, got ",
             ps.size());
  std::vector<int64_t> dims{3 * c.emb_sz};
  dims.insert(dims.end(), o.lin_ftrs.begin(), o.lin_ftrs.end());
  dims.push_back(n_class);
  // fastai scales output_p (the head's first dropout) with the config, not the other ps.
  ps.insert(ps.begin(), c.output_p);
  auto awd = std::make_shared<AWD_LSTM>(vocab_sz, c.emb_sz, c.n_hid, c.n_layers, c.options());
  auto enc = std::make_shared<SentenceEncoder>(o.seq_len, awd, o.pad_idx, o.max_len);
  auto head = std::make_shared<PoolingLinearClassifier>(dims, ps, o.seq_len, o.y_range);
  return std::make_shared<SequentialRNN>(std::vector<ModulePtr>{enc, head});
}

Tensor pad_input_chunk(const std::vector<std::vector<int64_t>>& seqs, int64_t pad_idx, bool pad_first,
                       int64_t seq_len) {
  KILN_CHECK(seq_len > 0, "pad_input_chunk: seq_len must be positive, got ", seq_len);
  size_t n = 0;
  for (auto& s : seqs) n = std::max(n, s.size());
  std::vector<int64_t> flat;
  flat.reserve(seqs.size() * n);
  for (auto& s : seqs) {
    const size_t missing = n - s.size();
    const size_t chunk = missing / size_t(seq_len) * size_t(seq_len), rest = missing - chunk;
    if (pad_first) flat.insert(flat.end(), chunk, pad_idx);
    flat.insert(flat.end(), s.begin(), s.end());
    if (!pad_first) flat.insert(flat.end(), chunk, pad_idx);
    flat.insert(flat.end(), rest, pad_idx);
  }
  return from_vector(flat, {int64_t(seqs.size()), int64_t(n)});
}

}  // namespace kiln::nn
