// The CUDA dispatch of the fused LSTM cell node (autograd/lstm_cell.cpp -> kernels/cuda/lstm_cell.h):
// values and gradients of ag::lstm_cell on the GPU against the same node on the CPU, including a
// non-contiguous gates tensor and B or H = 0. The kernel itself is tested in
// tests/kernels/test_fused_layers_cuda.cpp; this checks the wiring. Skips without a usable GPU.
#if KILN_HAVE_CUDA
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "kiln/autograd/backward.h"
#include "kiln/autograd/lstm_cell.h"
#include "kiln/tensor/ops.h"
#include "support/cuda_parity.h"
#include "support/op_table.h"

namespace kiln::test {
namespace {

TEST(LstmCellCuda, ValuesAndGradientsMatchTheCpu) {
  KILN_REQUIRE_GPU();
  GuardScope guard;
  struct Case {
    int64_t B, H;
    bool transposed_gates;
  };
  for (DType d : {DType::f32, DType::f64, DType::f16, DType::bf16})
    for (Case c : {Case{1, 1, false}, Case{7, 13, false}, Case{5, 33, true}, Case{0, 3, false}, Case{2, 0, false}}) {
      // This test's own per-element tolerance, kept as it was (looser than default_tol): values
      // and gradients chain sigmoid / tanh of the gates, each device with its own math library.
      const Tol tol{d == DType::f16 ? 2e-3 : d == DType::bf16 ? 2e-2 : 1e-5, 1e-5};
      Tensor gates = random_tensor({c.B, 4 * c.H}, d, Domain::any, 1);
      if (c.transposed_gates) gates = random_tensor({4 * c.H, c.B}, d, Domain::any, 1).t();
      const Tensor c_prev = random_tensor({c.B, c.H}, d, Domain::any, 2);
      const Tensor dh = random_tensor({c.B, c.H}, d, Domain::any, 3), dc = random_tensor({c.B, c.H}, d, Domain::any, 4);
      const std::string what = std::string(dtype_name(d)) + " B=" + std::to_string(c.B) + " H=" + std::to_string(c.H);

      std::vector<Tensor> res[2];
      for (int dev = 0; dev < 2; ++dev) {
        const Device where = dev == 0 ? kCPU : kCUDA;
        Tensor g = gates.to(where), cp = c_prev.to(where);
        ag::set_requires_grad(g);
        ag::set_requires_grad(cp);
        ag::LSTMCellOutput out = ag::lstm_cell(g, cp);
        std::vector<Tensor> grads = ag::grad({out.h, out.c}, {g, cp}, {dh.to(where), dc.to(where)});
        res[dev] = {out.h, out.c, grads[0], grads[1]};
      }
      const char* names[] = {"h", "c", "dgates", "dc_prev"};
      for (int k = 0; k < 4; ++k) EXPECT_TRUE(parity_within(res[1][k], res[0][k], tol)) << what << " " << names[k];
      EXPECT_TRUE(guards_intact()) << what;
    }
}

}  // namespace
}  // namespace kiln::test
#endif
