// fastai's AWD-LSTM, its dropouts and heads.
#include "kiln/nn/awd_lstm.h"

#include <algorithm>
#include <limits>
#include <map>
#include <string>

#include "kiln/autograd/dropout.h"
#include "kiln/autograd/elementwise.h"
#include "kiln/autograd/embedding.h"
#include "kiln/autograd/indexing.h"
#include "kiln/autograd/reduce.h"
#include "kiln/autograd/shape_ops.h"
#include "kiln/autograd/view.h"
#include "kiln/nn/activation.h"
#include "kiln/nn/init.h"
#include "kiln/nn/layers.h"
#include "kiln/nn/text_models.h"
#include "kiln/tensor/ops.h"

namespace kiln::nn {

namespace {

// Bernoulli keep-mask of `shape` scaled 1/(1-p) (all zeros for p = 1), in x's dtype.
Tensor scaled_mask(const Shape& shape, double p, DType dtype, Device device, Generator* gen) {
  ag::NoGradGuard ng;
  Tensor m = kiln::bernoulli(1.0 - p, shape, dtype, gen, device);
  return p < 1.0 ? kiln::div(m, 1.0 - p) : m;
}

void check_p(double p, const char* who) { KILN_CHECK(p >= 0 && p <= 1, who, ": p must be in [0, 1], got ", p); }

}  // namespace

// ---- EmbeddingDropout

EmbeddingDropout::EmbeddingDropout(std::shared_ptr<Embedding> e, double p, Generator* g)
    : Module("EmbeddingDropout"), emb(std::move(e)), embed_p(p), gen(g) {
  KILN_CHECK(emb, "EmbeddingDropout: needs an embedding");
  check_p(p, "EmbeddingDropout");
}

Tensor EmbeddingDropout::forward_impl(const Tensor& words) {
  const int64_t pad = emb->padding_idx == Embedding::kNoPadding ? -1 : emb->padding_idx;
  if (!is_training() || embed_p == 0) return ag::embedding(emb->weight, words, pad);
  // One mask value per vocabulary row: a dropped word is dropped at every position it occurs.
  last_mask = scaled_mask({emb->num_embeddings, 1}, embed_p, emb->weight.dtype(), emb->weight.device(), gen);
  return ag::embedding(ag::mul(emb->weight, last_mask), words, pad);
}

// ---- RNNDropout

RNNDropout::RNNDropout(double p_, Generator* g) : Module("RNNDropout"), p(p_), gen(g) { check_p(p, "RNNDropout"); }

Tensor RNNDropout::forward_impl(const Tensor& x) {
  if (!is_training() || p == 0) return x;
  KILN_CHECK(x.dim() == 3, "RNNDropout: expected x [B, T, F], got ", x.shape());
  last_mask = scaled_mask({x.size(0), 1, x.size(2)}, p, x.dtype(), x.device(), gen);
  return ag::mul(x, last_mask);
}

// ---- WeightDropout

WeightDropout::WeightDropout(std::shared_ptr<LSTM> m, double p, Generator* g)
    : Module("WeightDropout"), module(std::move(m)), weight_p(p), gen(g) {
  KILN_CHECK(module && module->num_layers == 1, "WeightDropout: needs a single-layer LSTM");
  check_p(p, "WeightDropout");
  // fastai moves the weight out of the LSTM: the raw copy is the trained parameter, the LSTM only
  // ever sees a dropped version of it.
  raw = register_parameter("weight_hh_l0_raw", module->unregister_parameter("weight_hh_l0"));
  module->set_weight_hh(0, raw);
  register_module("module", module);
}

LSTMOutput WeightDropout::forward(const Tensor& x, const LSTMState& state) {
  module->set_weight_hh(0, ag::dropout(raw, weight_p, is_training(), gen));
  LSTMOutput out = module->forward(x, state);
  module->set_weight_hh(0, raw);  // release the dropped weight (and its graph)
  return out;
}

Tensor WeightDropout::forward_impl(const Tensor& x) { return forward(x).output; }

// ---- AWD_LSTM

AWD_LSTM::AWD_LSTM(int64_t vocab, int64_t emb, int64_t hid, int64_t layers, const AWDLSTMOptions& o)
    : Module("AWD_LSTM"), vocab_sz(vocab), emb_sz(emb), n_hid(hid), n_layers(layers), opts(o) {
  KILN_CHECK(vocab > 0 && emb > 0 && hid > 0 && layers > 0, "AWD_LSTM: sizes must be positive, got vocab_sz=",
             vocab, ", emb_sz=", emb, ", n_hid=", hid, ", n_layers=", layers);
  encoder = register_module("encoder", std::make_shared<Embedding>(vocab, emb, o.pad_token));
  // fastai overwrites the whole table, padding row included.
  init::uniform_(encoder->weight, -0.1, 0.1);
  register_module("encoder_dp", std::make_shared<EmbeddingDropout>(encoder, o.embed_p));
  auto rnn_list = register_module("rnns", std::make_shared<Sequential>());
  for (int64_t l = 0; l < layers; ++l) {
    const int64_t in = l == 0 ? emb : hid, out = l == layers - 1 ? emb : hid;
    auto lstm = std::make_shared<LSTM>(in, out, 1, true, /*batch_first=*/true);
    rnns.push_back(std::make_shared<WeightDropout>(lstm, o.weight_p));
    rnn_list->push_back(rnns.back());
  }
  register_module("input_dp", std::make_shared<RNNDropout>(o.input_p));
  auto hdps = register_module("hidden_dps", std::make_shared<Sequential>());
  for (int64_t l = 0; l < layers; ++l) hdps->push_back(std::make_shared<RNNDropout>(o.hidden_p));
  reset();
}

void AWD_LSTM::reset() {
  hidden_.assign(size_t(n_layers), LSTMState{});
  bs_ = -1;
}

void AWD_LSTM::change_hidden(int64_t bs) {
  KILN_CHECK(bs >= 0, "AWD_LSTM.change_hidden: batch size must be >= 0, got ", bs);
  ag::NoGradGuard ng;
  for (LSTMState& st : hidden_) {
    if (!st.h.defined()) continue;
    const int64_t old = st.h.size(1);
    for (Tensor* t : {&st.h, &st.c}) {
      if (bs <= old) {
        *t = t->narrow(1, 0, bs).contiguous();
      } else {
        Shape s = t->shape();
        s[1] = bs - old;
        *t = kiln::cat({*t, kiln::zeros(s, t->dtype(), t->device())}, 1);
      }
    }
  }
  bs_ = bs;
}

Tensor AWD_LSTM::forward_impl(const Tensor& tokens) {
  KILN_CHECK(tokens.dim() == 2, "AWD_LSTM: expected tokens [B, T], got ", tokens.shape());
  const int64_t bs = tokens.size(0);
  if (bs != bs_) change_hidden(bs);
  Tensor out = (*child("input_dp"))((*child("encoder_dp"))(tokens));
  auto hdps = std::static_pointer_cast<Sequential>(child("hidden_dps"));
  for (int64_t l = 0; l < n_layers; ++l) {
    LSTMOutput r = rnns[size_t(l)]->forward(out, hidden_[size_t(l)]);
    // Truncated BPTT: the next call starts from these values but does not back-propagate into
    // this call.
    hidden_[size_t(l)] = {ag::detach(r.state.h), ag::detach(r.state.c)};
    out = r.output;
    if (l + 1 < n_layers) out = (*(*hdps)[l])(out);
  }
  return out;
}

// ---- LinearDecoder

LinearDecoder::LinearDecoder(int64_t n_out, int64_t n_hid, double output_p, std::shared_ptr<Embedding> tie,
                             bool bias)
    : Module("LinearDecoder") {
  register_module("output_dp", std::make_shared<RNNDropout>(output_p));
  decoder = register_module("decoder", std::make_shared<Linear>(n_hid, n_out, bias));
  init::uniform_(decoder->weight, -0.1, 0.1);
  if (bias) init::zeros_(decoder->bias);
  if (tie) {
    KILN_CHECK(tie->weight.shape() == decoder->weight.shape(), "LinearDecoder: cannot tie a decoder weight ",
               decoder->weight.shape(), " to an encoder weight ", tie->weight.shape());
    // Same tensor, registered once (as the encoder's): gradients from both uses accumulate in it.
    decoder->unregister_parameter("weight");
    decoder->weight = tie->weight;
  }
}

Tensor LinearDecoder::forward_impl(const Tensor& x) { return (*decoder)((*child("output_dp"))(x)); }

// ---- classifier head

Tensor masked_concat_pool(const Tensor& output, const Tensor& mask, int64_t bptt) {
  KILN_CHECK(output.dim() == 3 && mask.dim() == 2 && mask.size(0) == output.size(0) && mask.size(1) == output.size(1),
             "masked_concat_pool: expected output [B, T, E] and mask [B, T], got ", output.shape(), " and ",
             mask.shape());
  KILN_CHECK(mask.dtype() == DType::b8, "masked_concat_pool: mask must be bool, got ", dtype_name(mask.dtype()));
  const int64_t B = output.size(0), T = output.size(1), E = output.size(2);
  KILN_CHECK(T > 0, "masked_concat_pool: empty sequence");
  Tensor pads, last_pads, mask3;
  {
    ag::NoGradGuard ng;
    pads = kiln::sum(mask.to(DType::i64), {1});  // [B]
    const int64_t tail = std::min(bptt, T);
    last_pads = kiln::sum(mask.narrow(1, T - tail, tail).to(DType::i64), {1});
    KILN_CHECK(kiln::max(pads).item<int64_t>() < T, "masked_concat_pool: a row is all padding");
    mask3 = mask.unsqueeze(2).expand({B, T, E}).contiguous();
  }
  Tensor lens = kiln::sub(kiln::full({B, 1}, double(T), output.dtype(), output.device()), pads.to(output.dtype()).unsqueeze(1));
  Tensor avg = ag::div(ag::sum(ag::masked_fill(output, mask3, 0.0), {1}), lens);
  Tensor mx = ag::amax(ag::masked_fill(output, mask3, -std::numeric_limits<double>::infinity()), {1});
  Tensor idx = kiln::sub(kiln::full({B}, int64_t(T - 1), DType::i64, output.device()), last_pads);  // [B]
  idx = idx.view({B, 1, 1}).expand({B, 1, E}).contiguous();
  Tensor last = ag::squeeze(ag::gather(output, 1, idx), 1);
  return ag::cat({last, mx, avg}, 1);
}

PoolingLinearClassifier::PoolingLinearClassifier(const std::vector<int64_t>& dims, const std::vector<double>& ps,
                                                 int64_t bptt_, std::optional<std::pair<double, double>> y_range)
    : Module("PoolingLinearClassifier"), bptt(bptt_) {
  KILN_CHECK(dims.size() >= 2 && ps.size() == dims.size() - 1, "PoolingLinearClassifier: ", dims.size(),
             " dims need ", dims.size() - 1, " dropout probabilities, got ", ps.size());
  layers = register_module("layers", std::make_shared<Sequential>());
  for (size_t i = 0; i + 1 < dims.size(); ++i) {
    const bool last = i + 2 == dims.size();
    layers->push_back(std::make_shared<LinBnDrop>(dims[i], dims[i + 1], true, ps[i],
                                                  last ? nullptr : std::make_shared<ReLU>()));
  }
  if (y_range) layers->push_back(std::make_shared<SigmoidRange>(y_range->first, y_range->second));
}

Tensor PoolingLinearClassifier::forward_impl_many(const std::vector<Tensor>& xs) {
  KILN_CHECK(xs.size() == 2, "PoolingLinearClassifier: expects {output, mask}, got ", xs.size(), " inputs");
  return (*layers)(masked_concat_pool(xs[0], xs[1], bptt));
}

std::shared_ptr<Sequential> awd_lstm_lm(int64_t vocab, int64_t emb, int64_t hid, int64_t layers,
                                        const AWDLSTMOptions& opts, double output_p) {
  auto enc = std::make_shared<AWD_LSTM>(vocab, emb, hid, layers, opts);
  auto dec = std::make_shared<LinearDecoder>(vocab, emb, output_p, enc->encoder);
  return std::make_shared<SequentialRNN>(std::vector<ModulePtr>{enc, dec});
}

namespace {

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace

LoadReport load_fastai_state_dict(Module& model, const std::vector<std::pair<std::string, Tensor>>& sd, bool strict) {
  std::map<std::string, Tensor> own;
  for (auto& [n, t] : model.state_dict()) own.emplace(n, t);
  std::map<std::string, Tensor> given(sd.begin(), sd.end());
  auto same_values = [](const Tensor& a, const Tensor& b) {
    ag::NoGradGuard ng;
    return a.shape() == b.shape() && kiln::all(kiln::eq(a, b)).item<bool>();
  };
  // The encoder weight an alias should equal: "<prefix>encoder.weight" for the embedding-dropout
  // alias, any "encoder.weight" of the dict for the tied decoder.
  auto alias_of = [&](const std::string& name) -> const Tensor* {
    static const std::string dp = "encoder_dp.emb.weight";
    if (ends_with(name, dp)) {
      auto it = given.find(name.substr(0, name.size() - dp.size()) + "encoder.weight");
      return it == given.end() ? nullptr : &it->second;
    }
    if (ends_with(name, "decoder.weight"))
      for (auto& [n, t] : given)
        if (ends_with(n, "encoder.weight") && !ends_with(n, "_dp.emb.weight")) return &t;
    return nullptr;
  };
  std::vector<std::pair<std::string, Tensor>> kept;
  for (auto& [name, t] : sd) {
    if (!own.count(name)) {
      const Tensor* primary = alias_of(name);
      if (primary && same_values(*primary, t)) continue;
    }
    kept.emplace_back(name, t);
  }
  return model.load_state_dict(kept, strict);
}

}  // namespace kiln::nn
