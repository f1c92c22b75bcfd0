// CPU-vs-CUDA parity over every row of the op table (DESIGN.md section 6, issue 3).
//
// Note [CUDA parity]
// For each row, shape case and dtype, the inputs are made on the CPU (the row's `make` or
// random_tensor), copied to the GPU, and the row's `run` executes on both devices. The CUDA result
// must live on the GPU and equal the CPU result by the row's parity metric (op_table.h), judged by
// parity() of tests/support/cuda_parity.h (Note [Parity tolerances]: elementwise per element with
// default_tol, accumulated by normalised squared error <= nse_bound, integers and bools exactly).
// Dtypes: the row's own, plus f16 and bf16 when the row takes f32 and the CPU accepts them (a
// dtype the CPU refuses is skipped on both devices; one the CPU accepts must work on CUDA).
// Every row is run again with non-contiguous GPU inputs (when the row allows it). Guard mode is
// on throughout: every CUDA allocation gets 256-byte guard regions, checked after each run, so a
// kernel that writes outside any buffer (output or scratch) fails its row.
#include "support/op_table.h"

#if KILN_HAVE_CUDA
#include "support/cuda_parity.h"

namespace kiln::test {
namespace {

std::vector<DType> parity_dtypes(const OpRow& row) {
  std::vector<DType> d = row.dtypes;
  bool has_f32 = std::find(d.begin(), d.end(), DType::f32) != d.end();
  for (DType h : {DType::f16, DType::bf16})
    if (has_f32 && std::find(d.begin(), d.end(), h) == d.end()) d.push_back(h);
  return d;
}

std::vector<Tensor> to_device(const std::vector<Tensor>& xs, Device dev, bool noncontiguous) {
  std::vector<Tensor> out;
  for (const Tensor& x : xs) {
    Tensor y = x.to(dev);
    out.push_back(noncontiguous ? make_noncontiguous(y) : y);
  }
  return out;
}

class OpCuda : public ::testing::TestWithParam<RowParam> {};

TEST_P(OpCuda, MatchesCpu) {
  KILN_REQUIRE_GPU();
  GuardScope guards;
  const OpRow& row = op_table()[GetParam().row];
  bool any_run = false;
  for (size_t c = 0; c < row.cases.size(); ++c) {
    for (DType dt : parity_dtypes(row)) {
      SCOPED_TRACE(row.name + " case " + std::to_string(c) + " dtype " + dtype_name(dt));
      std::vector<Tensor> inputs;
      Tensor expected;
      const bool extra = std::find(row.dtypes.begin(), row.dtypes.end(), dt) == row.dtypes.end();
      try {
        inputs = make_inputs(row, c, dt, 2000 + c);
        expected = row.run(inputs);
      } catch (const Error& e) {
        if (extra) continue;  // an added 16-bit dtype the CPU op does not take
        FAIL() << "the CPU run failed: " << e.what();
      }
      any_run = true;
      for (bool nc : {false, true}) {
        if (nc && !row.check_noncontiguous) continue;
        SCOPED_TRACE(nc ? "non-contiguous GPU inputs" : "contiguous GPU inputs");
        Tensor got;
        try {
          got = row.run(to_device(inputs, kCUDA, nc));
        } catch (const Error& e) {
          FAIL() << "the CUDA run failed: " << e.what();
        }
        ASSERT_TRUE(parity(got, expected, row.parity == Parity::accumulated));
        ASSERT_TRUE(guards_intact());
      }
    }
  }
  ASSERT_TRUE(any_run) << row.name << ": no case ran";
}

INSTANTIATE_TEST_SUITE_P(Ops, OpCuda, ::testing::ValuesIn(all_row_params()), row_param_name);
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(OpCuda);

}  // namespace
}  // namespace kiln::test
#endif  // KILN_HAVE_CUDA
