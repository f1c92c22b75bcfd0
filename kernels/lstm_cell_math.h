#pragma once
// The LSTM cell's pointwise part, shared by the CPU kernel (kernels/cpu/lstm_cell.h) and the CUDA
// kernel (kernels/cuda/lstm_cell.h).
//
// Note [Fused LSTM cell]
// gates [B, 4H] = x W_ih^T + b_ih + h W_hh^T + b_hh holds, per row, the pre-activations of the
// input, forget, cell and output gates in that order (PyTorch's layout). For column j < H:
//   i = sigmoid(gates[:, j]), f = sigmoid(gates[:, H + j]), g = tanh(gates[:, 2H + j]),
//   o = sigmoid(gates[:, 3H + j])
//   c = f c_prev + i g,  h = o tanh(c)
// Backward, from dh and dc (either absent = zero):
//   dc_total = dc + dh o (1 - tanh(c)^2),  dc_prev = dc_total f
//   d gates = [dc_total g i (1 - i), dc_total c_prev f (1 - f), dc_total i (1 - g^2),
//              dh tanh(c) o (1 - o)]
// Backward recomputes i, f, g, o and c from gates and c_prev instead of reading saved
// activations: the inputs are what the autograd node keeps anyway, the recomputation is a few
// flops per value in a memory-bound kernel, and recomputing with the same function as the
// forward gives exactly the forward's values. Arithmetic is in the compute type (f32 for
// f32/f16/bf16, f64 for f64) with kiln's own sigmoid / tanh (kernels/scalar_ops.h).
#include "kiln/kernels/scalar_ops.h"

namespace kiln::lstm_cell {

template <class C>
struct Gates {
  C i, f, g, o;
};

template <class C>
KILN_HD Gates<C> activate(C gi, C gf, C gg, C go) {
  return {ops::m_sigmoid(gi), ops::m_sigmoid(gf), ops::m_tanh(gg), ops::m_sigmoid(go)};
}

template <class C>
KILN_HD C cell(const Gates<C>& a, C c_prev) {
  return a.f * c_prev + a.i * a.g;
}

template <class C>
struct Backward {
  C dgi, dgf, dgg, dgo, dc_prev;
};

// dh, dc: incoming gradients (0 where absent).
template <class C>
KILN_HD Backward<C> backward(const Gates<C>& a, C c_prev, C c, C dh, C dc) {
  const C tc = ops::m_tanh(c);
  const C dct = dc + dh * a.o * (C(1) - tc * tc);
  Backward<C> r;
  r.dgi = dct * a.g * a.i * (C(1) - a.i);
  r.dgf = dct * c_prev * a.f * (C(1) - a.f);
  r.dgg = dct * a.i * (C(1) - a.g * a.g);
  r.dgo = dh * tc * a.o * (C(1) - a.o);
  r.dc_prev = dct * a.f;
  return r;
}

}  // namespace kiln::lstm_cell
