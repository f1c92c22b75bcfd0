#pragma once
// nn.LSTM with PyTorch's parameter names and layout: for layer k, weight_ih_l{k} [4H, in_k],
// weight_hh_l{k} [4H, H], bias_ih_l{k} [4H], bias_hh_l{k} [4H] (in_0 = input_size, in_k = H),
// gate rows in the order i, f, g, o; every parameter initialised uniform in +-1/sqrt(H).
// Per layer, one linear projects the whole input sequence; per step a linear of h gives the gates
// and the fused cell (ag::lstm_cell, one autograd node) gives h and c.
#include <cstdint>
#include <vector>

#include "kiln/nn/module.h"
#include "kiln/tensor/random.h"

namespace kiln::nn {

struct LSTMState {
  Tensor h;  // [num_layers, B, H]
  Tensor c;  // [num_layers, B, H]
};

struct LSTMOutput {
  Tensor output;  // [B, T, H] (batch_first) or [T, B, H]: the last layer's h at every step
  LSTMState state;  // h and c after the last step, per layer
};

class LSTM : public Module {
 public:
  // dropout: probability of dropout on the outputs of every layer but the last, in training.
  LSTM(int64_t input_size, int64_t hidden_size, int64_t num_layers = 1, bool bias = true, bool batch_first = false,
       double dropout = 0.0, Generator* gen = nullptr);
  int64_t input_size, hidden_size, num_layers;
  bool has_bias, batch_first;
  double dropout;
  Generator* gen;

  // x [B, T, input_size] (batch_first) or [T, B, input_size]; state h, c [num_layers, B, H] or
  // undefined tensors for a zero state.
  LSTMOutput forward(const Tensor& x, const LSTMState& state = {});

  // The parameters of layer k, as registered.
  const Tensor& weight_ih(int64_t k) const { return w_ih_[k]; }
  const Tensor& weight_hh(int64_t k) const { return w_hh_[k]; }
  const Tensor& bias_ih(int64_t k) const { return b_ih_[k]; }
  const Tensor& bias_hh(int64_t k) const { return b_hh_[k]; }
  // Makes forward use w (same shape) as layer k's hidden-to-hidden weight from now on; the
  // registered parameter is not changed (fastai's WeightDropout unregisters it and sets a dropped
  // copy of its raw weight before every forward).
  void set_weight_hh(int64_t k, const Tensor& w);

 protected:
  // operator()(x): the output sequence from a zero state.
  Tensor forward_impl(const Tensor& x) override;
  std::string extra_repr() const override;

 private:
  std::vector<Tensor> w_ih_, w_hh_, b_ih_, b_hh_;
};

}  // namespace kiln::nn
