// Gradient checks of the fused LSTM cell (ag::lstm_cell), and its agreement with the same cell
// composed from ag ops (sigmoid, tanh, mul, add), in values and gradients.
#include "grad_table.h"

namespace kiln::test {
namespace {

using V = std::vector<Tensor>;

// Cases are {gates [B, 4H], c_prev [B, H]}: B and H include 0, 1 and primes.
const std::vector<std::vector<Shape>> kCases = {{{1, 4}, {1, 1}},  {{2, 8}, {2, 2}},  {{3, 20}, {3, 5}},
                                                {{0, 12}, {0, 3}}, {{5, 28}, {5, 7}}, {{2, 0}, {2, 0}}};

static GradRegistrar lstm_cell_rows({
    // Both outputs used.
    GradRow{"lstm_cell", kCases,
            [](const V& x) {
              ag::LSTMCellOutput r = ag::lstm_cell(x[0], x[1]);
              return ag::cat({r.h, r.c}, 1);
            }},
    // Only h: the c output receives no gradient.
    GradRow{"lstm_cell", {{{2, 8}, {2, 2}}, {{3, 12}, {3, 3}}}, [](const V& x) { return ag::lstm_cell(x[0], x[1]).h; }},
    // Only c.
    GradRow{"lstm_cell", {{{2, 8}, {2, 2}}, {{4, 20}, {4, 5}}}, [](const V& x) { return ag::lstm_cell(x[0], x[1]).c; }},
    // Gradient to gates only (c_prev a constant), large pre-activations (saturated gates).
    GradRow{"lstm_cell",
            {{{3, 12}, {3, 3}}, {{1, 44}, {1, 11}}},
            [](const V& x) {
              ag::LSTMCellOutput r = ag::lstm_cell(ag::mul(x[0], 2.0), x[1]);
              return ag::add(r.h, ag::mul(r.c, 0.5));
            },
            {},
            nullptr,
            {0}},
});

// The cell composed from ag ops, as nn::LSTM computed it before the fused cell.
ag::LSTMCellOutput composed_cell(const Tensor& gates, const Tensor& c_prev) {
  std::vector<Tensor> g4 = ag::chunk(gates, 4, 1);
  Tensor i = ag::sigmoid(g4[0]), f = ag::sigmoid(g4[1]), g = ag::tanh(g4[2]), o = ag::sigmoid(g4[3]);
  Tensor c = ag::add(ag::mul(f, c_prev), ag::mul(i, g));
  return {ag::mul(o, ag::tanh(c)), c};
}

TEST(LstmCell, MatchesComposedCellValuesAndGradients) {
  for (DType dt : {DType::f64, DType::f32}) {
    for (auto [B, H] : std::vector<std::pair<int64_t, int64_t>>{{1, 1}, {3, 5}, {7, 13}, {0, 4}, {16, 64}}) {
      SCOPED_TRACE(std::string(dtype_name(dt)) + " B=" + std::to_string(B) + " H=" + std::to_string(H));
      Tensor gates = random_tensor({B, 4 * H}, dt, Domain::any, 11 + B), c0 = random_tensor({B, H}, dt, Domain::any, 5);
      Tensor wh = random_tensor({B, H}, dt, Domain::any, 7), wc = random_tensor({B, H}, dt, Domain::any, 8);
      Tensor g1 = gates.clone(), c1 = c0.clone(), g2 = gates.clone(), c2 = c0.clone();
      for (auto* t : {&g1, &c1, &g2, &c2}) ag::set_requires_grad(*t);
      ag::LSTMCellOutput fused = ag::lstm_cell(g1, c1), ref = composed_cell(g2, c2);
      const double tol = dt == DType::f64 ? 1e-12 : 2e-6;
      EXPECT_TRUE(tensors_close(fused.h, ref.h, tol, tol));
      EXPECT_TRUE(tensors_close(fused.c, ref.c, tol, tol));
      if (B == 0) continue;
      ag::backward(ag::sum(ag::add(ag::mul(fused.h, wh), ag::mul(fused.c, wc))));
      ag::backward(ag::sum(ag::add(ag::mul(ref.h, wh), ag::mul(ref.c, wc))));
      EXPECT_TRUE(tensors_close(ag::grad(g1), ag::grad(g2), tol, tol));
      EXPECT_TRUE(tensors_close(ag::grad(c1), ag::grad(c2), tol, tol));
    }
  }
}

TEST(LstmCell, HalfPrecisionComputesInFloat) {
  Tensor gates = random_tensor({3, 20}, DType::f32, Domain::any, 3),
         c0 = random_tensor({3, 5}, DType::f32, Domain::any, 4);
  for (DType dt : {DType::f16, DType::bf16}) {
    // Inputs rounded to dt first, so the only difference left is the rounding of the outputs.
    ag::LSTMCellOutput r = ag::lstm_cell(gates.to(dt), c0.to(dt));
    ag::LSTMCellOutput r32 = ag::lstm_cell(gates.to(dt).to(DType::f32), c0.to(dt).to(DType::f32));
    EXPECT_EQ(r.h.dtype(), dt);
    EXPECT_TRUE(tensors_equal(r.h, r32.h.to(dt)));
    EXPECT_TRUE(tensors_equal(r.c, r32.c.to(dt)));
  }
}

TEST(LstmCell, ChecksArguments) {
  Tensor g = kiln::zeros({2, 8}), c = kiln::zeros({2, 2});
  EXPECT_KILN_ERROR(ag::lstm_cell(kiln::zeros({2, 7}), c), "[B, 4H]");
  EXPECT_KILN_ERROR(ag::lstm_cell(g, kiln::zeros({2, 3})), "c_prev has shape");
  EXPECT_KILN_ERROR(ag::lstm_cell(g, kiln::zeros({2, 2}, DType::f64)), "dtype");
  EXPECT_KILN_ERROR(ag::lstm_cell(kiln::zeros({2, 8}, DType::i64), c), "floating");
  EXPECT_KILN_ERROR(ag::lstm_cell(g, Tensor()), "c_prev");
}

TEST(LstmCell, OneNodeWithTwoOutputs) {
  Tensor g = random_tensor({2, 8}, DType::f64, Domain::any, 1), c = random_tensor({2, 2}, DType::f64, Domain::any, 2);
  ag::set_requires_grad(g);
  ag::LSTMCellOutput r = ag::lstm_cell(g, c);
  ASSERT_TRUE(ag::grad_fn(r.h) != nullptr);
  EXPECT_EQ(ag::grad_fn(r.h), ag::grad_fn(r.c));
  EXPECT_EQ(ag::grad_fn(r.h)->name, "lstm_cell");
  EXPECT_FALSE(ag::requires_grad(ag::lstm_cell(kiln::repeat(c, {1, 4}), c).h));
}

}  // namespace
}  // namespace kiln::test
