#pragma once
// The fused LSTM cell as one differentiable op (Note [Fused LSTM cell] in
// kernels/lstm_cell_math.h): from the gate pre-activations and the previous cell state to the new
// hidden and cell states, recorded as ONE autograd node with two outputs.
#include "kiln/autograd/node.h"

namespace kiln::ag {

struct LSTMCellOutput {
  Tensor h;  // [B, H]
  Tensor c;  // [B, H]
};

// gates [B, 4H] (= x W_ih^T + b_ih + h W_hh^T + b_hh, gate order i, f, g, o) and c_prev [B, H], both
// floating of the same dtype and device: c = sigmoid(f) c_prev + sigmoid(i) tanh(g),
// h = sigmoid(o) tanh(c). Gradients reach gates and c_prev; either output may be unused.
LSTMCellOutput lstm_cell(const Tensor& gates, const Tensor& c_prev);

}  // namespace kiln::ag
