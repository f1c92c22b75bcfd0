#include <gtest/gtest.h>

#include "kiln/autograd/ops.h"
#include "kiln/nn/lstm.h"
#include "layer_fixture.h"

namespace kiln::nn {
namespace {

using test::fx;
using test::tensors_close;

TEST(LSTMGolden, TwoLayersBatchFirstWithState) {
  LSTM m(3, 5, 2, true, true);
  auto names = m.state_dict();
  ASSERT_EQ(names.size(), 8u);
  EXPECT_EQ(names[0].first, "weight_ih_l0");
  EXPECT_EQ(names[3].first, "bias_hh_l0");
  EXPECT_EQ(names[4].first, "weight_ih_l1");
  m.load_state_dict(test::fx_state("lstm"));
  Tensor x = fx("lstm", "x").clone(), h0 = fx("lstm", "h0").clone(), c0 = fx("lstm", "c0").clone();
  for (auto* t : {&x, &h0, &c0}) ag::set_requires_grad(*t);
  LSTMOutput out = m.forward(x, {h0, c0});
  EXPECT_TRUE(tensors_close(out.output, fx("lstm", "y"), 1e-5, 1e-5));
  EXPECT_TRUE(tensors_close(out.state.h, fx("lstm", "hn"), 1e-5, 1e-5));
  EXPECT_TRUE(tensors_close(out.state.c, fx("lstm", "cn"), 1e-5, 1e-5));
  Tensor obj = ag::add(ag::add(ag::sum(ag::mul(out.output, fx("lstm", "r"))), ag::sum(ag::mul(out.state.h, fx("lstm", "rh")))),
                       ag::sum(ag::mul(out.state.c, fx("lstm", "rc"))));
  ag::backward(obj);
  EXPECT_TRUE(tensors_close(ag::grad(x), fx("lstm", "dx"), 1e-5, 1e-5));
  EXPECT_TRUE(tensors_close(ag::grad(h0), fx("lstm", "dh0"), 1e-5, 1e-5));
  EXPECT_TRUE(tensors_close(ag::grad(c0), fx("lstm", "dc0"), 1e-5, 1e-5));
  for (const auto& [n, p] : m.named_parameters()) EXPECT_TRUE(tensors_close(ag::grad(p), fx("lstm", "g/" + n), 1e-5, 1e-5)) << n;
}

TEST(LSTMGolden, OneLayerSequenceFirstZeroStateNoBias) {
  LSTM m(4, 3, 1, false);
  EXPECT_EQ(m.parameters().size(), 2u);
  test::check_module_case(m, "lstm1");
}

TEST(LSTM, DefaultInitBoundAndShapes) {
  LSTM m(6, 10, 2);
  for (const auto& [n, p] : m.named_parameters()) {
    EXPECT_LE(kiln::amax(kiln::abs(p)).item<double>(), 1.0 / std::sqrt(10.0) + 1e-7) << n;
  }
  EXPECT_EQ(m.weight_ih(0).shape(), Shape({40, 6}));
  EXPECT_EQ(m.weight_ih(1).shape(), Shape({40, 10}));
  LSTMOutput o = m.forward(randn({7, 2, 6}));
  EXPECT_EQ(o.output.shape(), Shape({7, 2, 10}));
  EXPECT_EQ(o.state.h.shape(), Shape({2, 2, 10}));
  EXPECT_KILN_ERROR(m.forward(randn({7, 2, 5})), "LSTM");
}

TEST(LSTM, DropoutBetweenLayersOnlyInTraining) {
  Generator g(3);
  LSTM m(3, 4, 2, true, false, 0.5, &g);
  Tensor x = randn({5, 2, 3});
  m.eval();
  Tensor a = m(x), b = m(x);
  EXPECT_TRUE(test::tensors_equal(a, b));
  m.train();
  Tensor c = m(x);
  EXPECT_FALSE(test::tensors_close(c, a, 1e-6, 1e-6));
}

}  // namespace
}  // namespace kiln::nn
