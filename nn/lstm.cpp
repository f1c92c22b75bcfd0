#include "kiln/nn/lstm.h"

#include <cmath>
#include <sstream>

#include "kiln/autograd/dropout.h"
#include "kiln/autograd/elementwise.h"
#include "kiln/autograd/linalg.h"
#include "kiln/autograd/lstm_cell.h"
#include "kiln/autograd/shape_ops.h"
#include "kiln/autograd/view.h"
#include "kiln/nn/layer_init.h"
#include "kiln/tensor/creation.h"

namespace kiln::nn {

LSTM::LSTM(int64_t in, int64_t hidden, int64_t layers, bool bias, bool bf, double p, Generator* g)
    : Module("LSTM"), input_size(in), hidden_size(hidden), num_layers(layers), has_bias(bias), batch_first(bf),
      dropout(p), gen(g) {
  KILN_CHECK(in > 0 && hidden > 0 && layers > 0, "LSTM: input_size=", in, ", hidden_size=", hidden,
             ", num_layers=", layers, " must all be positive");
  KILN_CHECK(p >= 0 && p <= 1, "LSTM: dropout must be in [0, 1], got ", p);
  double bound = 1.0 / std::sqrt(double(hidden));
  auto make = [&](const Shape& s) {
    Tensor t = empty(s);
    detail::uniform_bound(t, bound);
    return t;
  };
  for (int64_t k = 0; k < layers; ++k) {
    std::string sfx = "_l" + std::to_string(k);
    int64_t in_k = k == 0 ? in : hidden;
    w_ih_.push_back(register_parameter("weight_ih" + sfx, make({4 * hidden, in_k})));
    w_hh_.push_back(register_parameter("weight_hh" + sfx, make({4 * hidden, hidden})));
    if (bias) {
      b_ih_.push_back(register_parameter("bias_ih" + sfx, make({4 * hidden})));
      b_hh_.push_back(register_parameter("bias_hh" + sfx, make({4 * hidden})));
    } else {
      b_ih_.emplace_back();
      b_hh_.emplace_back();
    }
  }
}

void LSTM::set_weight_hh(int64_t k, const Tensor& w) {
  KILN_CHECK(k >= 0 && k < num_layers, "LSTM::set_weight_hh: layer ", k, " out of range for ", num_layers, " layers");
  KILN_CHECK(w.defined() && w.shape() == w_hh_[size_t(k)].shape(), "LSTM::set_weight_hh: weight must have shape ",
             w_hh_[size_t(k)].shape());
  w_hh_[size_t(k)] = w;
}

LSTMOutput LSTM::forward(const Tensor& x_in, const LSTMState& state) {
  KILN_CHECK(x_in.dim() == 3 && x_in.size(2) == input_size, "LSTM: expected input [", batch_first ? "B, T" : "T, B",
             ", ", input_size, "], got ", x_in.shape());
  // Work time-major: x [T, B, in].
  Tensor x = batch_first ? ag::transpose(x_in, 0, 1) : x_in;
  const int64_t T = x.size(0), B = x.size(1), H = hidden_size;
  const Shape state_shape{num_layers, B, H};
  KILN_CHECK(state.h.defined() == state.c.defined(), "LSTM: give both h and c of the state, or neither");
  if (state.h.defined())
    KILN_CHECK(state.h.shape() == state_shape && state.c.shape() == state_shape, "LSTM: state h ", state.h.shape(),
               " and c ", state.c.shape(), " must both be ", state_shape);
  std::vector<Tensor> h_n, c_n;
  Tensor layer_in = x;
  for (int64_t k = 0; k < num_layers; ++k) {
    Tensor h = state.h.defined() ? ag::select(state.h, 0, k) : zeros({B, H}, x.dtype(), x.device());
    Tensor c = state.c.defined() ? ag::select(state.c, 0, k) : zeros({B, H}, x.dtype(), x.device());
    // The input projection of every step at once: [T, B, 4H].
    Tensor xw = ag::linear(layer_in, w_ih_[k], b_ih_[k]);
    std::vector<Tensor> outs;
    outs.reserve(T);
    for (int64_t t = 0; t < T; ++t) {
      Tensor gates = ag::add(ag::select(xw, 0, t), ag::linear(h, w_hh_[k], b_hh_[k]));
      ag::LSTMCellOutput hc = ag::lstm_cell(gates, c);
      h = hc.h;
      c = hc.c;
      outs.push_back(h);
    }
    h_n.push_back(h);
    c_n.push_back(c);
    layer_in = T > 0 ? ag::stack(outs, 0) : zeros({0, B, H}, x.dtype(), x.device());
    if (k + 1 < num_layers && dropout > 0) layer_in = ag::dropout(layer_in, dropout, is_training(), gen);
  }
  LSTMOutput out;
  out.output = batch_first ? ag::transpose(layer_in, 0, 1) : layer_in;
  out.state.h = ag::stack(h_n, 0);
  out.state.c = ag::stack(c_n, 0);
  return out;
}

Tensor LSTM::forward_impl(const Tensor& x) { return forward(x).output; }

std::string LSTM::extra_repr() const {
  std::ostringstream s;
  s << input_size << ", " << hidden_size;
  if (num_layers != 1) s << ", num_layers=" << num_layers;
  if (!has_bias) s << ", bias=False";
  if (batch_first) s << ", batch_first=True";
  if (dropout > 0) s << ", dropout=" << dropout;
  return s.str();
}

}  // namespace kiln::nn
