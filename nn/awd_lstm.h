#pragma once
// fastai's AWD-LSTM (Merity et al. 2017, "Regularizing and Optimizing LSTM Language Models") and its
// heads: the dropouts (EmbeddingDropout, RNNDropout, WeightDropout), AWD_LSTM, LinearDecoder (tied
// to the encoder), PoolingLinearClassifier, and builders for the language model and classifier.
// Parameter names follow fastai's state dicts ("encoder.weight", "rnns.0.weight_hh_l0_raw",
// "rnns.0.module.weight_ih_l0"...), except that the shared embedding appears once (fastai's
// "encoder_dp.emb.weight" and the tied "1.decoder.weight" are the same tensor as "encoder.weight").
#include <cstdint>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include "kiln/nn/containers.h"
#include "kiln/nn/embedding.h"
#include "kiln/nn/linear.h"
#include "kiln/nn/lstm.h"
#include "kiln/nn/module.h"
#include "kiln/tensor/random.h"

namespace kiln::nn {

// Dropout of whole rows of an embedding's weight: in training (p > 0) every row is zeroed with
// probability p and the kept rows scaled 1/(1-p), then the lookup; in eval the plain lookup.
// Holds the embedding without registering it (its weight belongs to the owner, e.g. AWD_LSTM's
// "encoder"). words (i64, any shape) -> [words.shape..., D].
class EmbeddingDropout : public Module {
 public:
  EmbeddingDropout(std::shared_ptr<Embedding> emb, double embed_p, Generator* gen = nullptr);
  std::shared_ptr<Embedding> emb;
  double embed_p;
  Generator* gen;
  Tensor last_mask;  // [V, 1] of the last training forward (for inspection)

 protected:
  Tensor forward_impl(const Tensor& words) override;
};

// Variational dropout of x [B, T, F]: in training (p > 0) one mask [B, 1, F] (0 or 1/(1-p)) shared
// by every time step; identity in eval.
class RNNDropout : public Module {
 public:
  explicit RNNDropout(double p = 0.5, Generator* gen = nullptr);
  double p;
  Generator* gen;
  Tensor last_mask;  // [B, 1, F] of the last training forward (for inspection)

 protected:
  Tensor forward_impl(const Tensor& x) override;
};

// fastai's WeightDropout around a single-layer LSTM: its weight_hh_l0 is moved to this module as
// the parameter "weight_hh_l0_raw"; every forward runs the LSTM with dropout(raw, weight_p)
// (elementwise, scaled 1/(1-p)) in training and the raw weight itself in eval. Child "module".
class WeightDropout : public Module {
 public:
  WeightDropout(std::shared_ptr<LSTM> module, double weight_p, Generator* gen = nullptr);
  std::shared_ptr<LSTM> module;
  double weight_p;
  Generator* gen;
  Tensor raw;  // the parameter weight_hh_l0_raw [4H, H]

  LSTMOutput forward(const Tensor& x, const LSTMState& state = {});

 protected:
  Tensor forward_impl(const Tensor& x) override;  // the output sequence from a zero state
};

struct AWDLSTMOptions {
  int64_t pad_token = 1;
  double hidden_p = 0.2, input_p = 0.6, embed_p = 0.1, weight_p = 0.5;
};

// fastai's AWD_LSTM(vocab_sz, emb_sz, n_hid, n_layers): children "encoder" Embedding(vocab, emb,
// padding_idx = pad_token) initialised U(-0.1, 0.1), "encoder_dp" EmbeddingDropout(embed_p),
// "rnns" (children "0".."n_layers-1": WeightDropout(LSTM(in_l, out_l, batch_first)), in_0 = emb,
// else n_hid; out_l = n_hid, the last emb), "input_dp" RNNDropout(input_p), "hidden_dps"
// RNNDropout(hidden_p) per layer (applied between layers, not after the last).
// forward: tokens [B, T] (i64) -> [B, T, emb]. The hidden state is carried from call to call
// (detached: truncated back-propagation through time); reset() zeroes it. A batch size different
// from the previous call's resizes it as fastai does (change_hidden): a smaller batch keeps the
// first rows' states, a larger one gives the new rows zero states (SentenceEncoder relies on it).
class AWD_LSTM : public Module {
 public:
  AWD_LSTM(int64_t vocab_sz, int64_t emb_sz, int64_t n_hid, int64_t n_layers, const AWDLSTMOptions& opts = {});
  int64_t vocab_sz, emb_sz, n_hid, n_layers;
  AWDLSTMOptions opts;
  std::shared_ptr<Embedding> encoder;
  std::vector<std::shared_ptr<WeightDropout>> rnns;

  void reset();
  // Resizes the carried state to batch size bs (see above); a no-op for a zero state.
  void change_hidden(int64_t bs);
  // Per layer: h and c [1, B, out_l] after the last call (undefined before the first / after reset).
  const std::vector<LSTMState>& hidden() const { return hidden_; }

 protected:
  Tensor forward_impl(const Tensor& tokens) override;

 private:
  std::vector<LSTMState> hidden_;
  int64_t bs_ = -1;
};

// fastai's LinearDecoder(n_out, n_hid, output_p, tie_encoder, bias): child "output_dp"
// RNNDropout(output_p), child "decoder" Linear(n_hid, n_out) with weight U(-0.1, 0.1) and bias 0.
// With tie_encoder the decoder's weight IS the encoder's weight tensor (not registered again).
// x [B, T, n_hid] -> [B, T, n_out].
class LinearDecoder : public Module {
 public:
  LinearDecoder(int64_t n_out, int64_t n_hid, double output_p = 0.1, std::shared_ptr<Embedding> tie_encoder = nullptr,
                bool bias = true);
  std::shared_ptr<Linear> decoder;

 protected:
  Tensor forward_impl(const Tensor& x) override;
};

// fastai's masked_concat_pool: output [B, T, E], mask [B, T] (bool, true at padding) ->
// [B, 3E] = cat(last, max, mean) where max and mean run over the non-pad positions and last is
// output[b, T - 1 - n_b], n_b the number of pads among the last bptt positions of row b.
Tensor masked_concat_pool(const Tensor& output, const Tensor& mask, int64_t bptt);

// fastai's PoolingLinearClassifier(dims, ps, bptt, y_range): masked_concat_pool, then one
// LinBnDrop(dims[i], dims[i+1], bn, p = ps[i], ReLU except the last) per layer (child "layers"),
// SigmoidRange when y_range. forward({output [B, T, E], mask [B, T] bool}) -> [B, dims.back()].
class PoolingLinearClassifier : public Module {
 public:
  PoolingLinearClassifier(const std::vector<int64_t>& dims, const std::vector<double>& ps, int64_t bptt = 72,
                          std::optional<std::pair<double, double>> y_range = std::nullopt);
  int64_t bptt;
  std::shared_ptr<Sequential> layers;

 protected:
  Tensor forward_impl_many(const std::vector<Tensor>& xs) override;
};

// SequentialRNN(AWD_LSTM, LinearDecoder(vocab, emb, output_p, tied to the encoder)): tokens [B, T]
// -> logits [B, T, vocab]. (nn/text_models.h has fastai's get_language_model with its configs.)
std::shared_ptr<Sequential> awd_lstm_lm(int64_t vocab_sz, int64_t emb_sz, int64_t n_hid, int64_t n_layers,
                                        const AWDLSTMOptions& opts = {}, double output_p = 0.1);

// Loads a state dict saved from fastai (PyTorch) into an AWD-LSTM model (the LM, the classifier
// or the bare AWD_LSTM): fastai's dict also holds the shared embedding as "...encoder_dp.emb.weight"
// and, for a tied LM, as "...decoder.weight"; those aliases are dropped when the model has no such
// name and they equal the "...encoder.weight" beside them. The rest is load_state_dict.
LoadReport load_fastai_state_dict(Module& model, const std::vector<std::pair<std::string, Tensor>>& sd,
                                  bool strict = true);

}  // namespace kiln::nn
