#pragma once
// fastai's text model builders (fastai.text.models.core) for the AWD-LSTM: SequentialRNN,
// SentenceEncoder, the configurations, get_language_model and get_text_classifier, and the batch
// layout they expect (pad_input_chunk).
//
// Note [Text classifier batches]: fastai batches classifier texts sorted by decreasing length
// and padded by pad_input_chunk: whole bptt-sized chunks of padding go before the text
// (pad_first, fastai's default) or after it, and the remainder after it, so every text starts at
// a multiple of bptt. SentenceEncoder runs its AWD_LSTM over the batch one bptt piece at a time,
// on the first n rows only, n = the number of rows whose first column of the piece is not padding
// (with sorted rows those are the rows that have text in the piece); the AWD_LSTM's state is
// resized to n rows between pieces (AWD_LSTM::change_hidden), so a row's state starts at zero when
// its text starts and follows it to the end. Rows left out of a piece get zero outputs there. Only
// the pieces that start in the last max_len tokens are kept (the earlier ones still set the state).
#include <cstdint>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include "kiln/nn/awd_lstm.h"
#include "kiln/nn/containers.h"

namespace kiln::nn {

// fastai's awd_lstm_lm_config / awd_lstm_clas_config: the AWD_LSTM sizes and dropouts, the
// decoder's output_p (LM) or the classifier head's first dropout (classifier), and for the LM the
// weight tying and the decoder's bias.
struct AWDLSTMConfig {
  int64_t emb_sz = 400, n_hid = 1152, n_layers = 3, pad_token = 1;
  double output_p = 0, hidden_p = 0, input_p = 0, embed_p = 0, weight_p = 0;
  bool tie_weights = true, out_bias = true;  // LM only
  AWDLSTMOptions options() const { return {pad_token, hidden_p, input_p, embed_p, weight_p}; }
  // Every dropout probability times m (fastai's drop_mult).
  AWDLSTMConfig scaled(double m) const;
};
// output_p 0.1, hidden_p 0.15, input_p 0.25, embed_p 0.02, weight_p 0.2, tied, with bias.
AWDLSTMConfig awd_lstm_lm_config();
// output_p 0.4, hidden_p 0.3, input_p 0.4, embed_p 0.05, weight_p 0.5.
AWDLSTMConfig awd_lstm_clas_config();

class SentenceEncoder;

// fastai's SequentialRNN: a Sequential whose reset() resets every child that has a state
// (AWD_LSTM, SentenceEncoder, SequentialRNN). A SentenceEncoder child's padding mask goes to the
// next child with its output: that child gets {output, mask} (the classifier head).
class SequentialRNN : public Sequential {
 public:
  SequentialRNN();
  explicit SequentialRNN(std::vector<ModulePtr> layers);
  void reset();

 protected:
  Tensor forward_impl(const Tensor& x) override;
};

// fastai's SentenceEncoder(bptt, module, pad_idx, max_len); child "module". See Note [Text
// classifier batches]. encode(tokens [B, T] i64) -> output [B, T', emb] and mask [B, T'] (bool,
// true at padding), T' = the length of the kept pieces (all of T without max_len). The state of
// `module` is reset at the start of every call.
class SentenceEncoder : public Module {
 public:
  SentenceEncoder(int64_t bptt, std::shared_ptr<AWD_LSTM> module, int64_t pad_idx = 1,
                  std::optional<int64_t> max_len = std::nullopt);
  int64_t bptt, pad_idx;
  std::optional<int64_t> max_len;
  std::shared_ptr<AWD_LSTM> module;

  struct Encoded {
    Tensor output, mask;
  };
  Encoded encode(const Tensor& tokens);
  void reset() { module->reset(); }
  Tensor last_mask;  // the mask of the last operator() call (SequentialRNN passes it on)

 protected:
  Tensor forward_impl(const Tensor& tokens) override;  // encode(); keeps the mask in last_mask
  std::string extra_repr() const override;
};

// fastai's get_language_model(AWD_LSTM, vocab_sz, config, drop_mult): SequentialRNN(AWD_LSTM,
// LinearDecoder(vocab, emb_sz, output_p, tied when config.tie_weights, bias out_bias)), every *_p
// scaled by drop_mult. tokens [B, T] -> logits [B, T, vocab].
std::shared_ptr<SequentialRNN> get_language_model(int64_t vocab_sz, const AWDLSTMConfig& config = awd_lstm_lm_config(),
                                                  double drop_mult = 1.0);

struct TextClassifierOptions {
  int64_t seq_len = 72;  // bptt of the SentenceEncoder and the pooling
  AWDLSTMConfig config = awd_lstm_clas_config();
  double drop_mult = 1.0;  // scales the config's *_p (output_p included), not ps
  std::vector<int64_t> lin_ftrs = {50};
  std::optional<std::vector<double>> ps;  // default 0.1 per lin_ftrs entry
  int64_t pad_idx = 1;
  std::optional<int64_t> max_len = 72 * 20;
  std::optional<std::pair<double, double>> y_range;
};

// fastai's get_text_classifier(AWD_LSTM, vocab_sz, n_class, ...): SequentialRNN(
// SentenceEncoder(seq_len, AWD_LSTM(vocab, config), pad_idx, max_len),
// PoolingLinearClassifier([3 emb_sz, lin_ftrs..., n_class], [output_p, ps...], seq_len, y_range)).
// tokens [B, T] laid out as Note [Text classifier batches] -> logits [B, n_class].
std::shared_ptr<SequentialRNN> get_text_classifier(int64_t vocab_sz, int64_t n_class,
                                                   const TextClassifierOptions& opts = {});

// fastai's pad_input_chunk for one batch of token sequences: [B, max length] i64, row b = the
// text with (missing / seq_len) * seq_len pads before it (pad_first) or after it, and the
// remaining missing % seq_len pads after it.
Tensor pad_input_chunk(const std::vector<std::vector<int64_t>>& seqs, int64_t pad_idx = 1, bool pad_first = true,
                       int64_t seq_len = 72);

}  // namespace kiln::nn
