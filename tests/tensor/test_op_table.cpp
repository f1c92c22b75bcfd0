// Drives every row of the op table (tests/support/op_table.h): forward against the float64
// reference, for contiguous and non-contiguous inputs, at every listed shape case and dtype.
#include "support/op_table.h"

namespace kiln::test {
namespace {

class OpForward : public ::testing::TestWithParam<RowParam> {};

TEST_P(OpForward, MatchesReference) {
  const OpRow& row = op_table()[GetParam().row];
  ASSERT_FALSE(row.cases.empty()) << row.name << " has no shape cases";
  for (size_t c = 0; c < row.cases.size(); ++c) {
    for (DType dt : row.dtypes) {
      SCOPED_TRACE(row.name + " case " + std::to_string(c) + " dtype " + dtype_name(dt));
      auto inputs = make_inputs(row, c, dt, 1000 + c);
      std::vector<Ref> refs;
      for (auto& t : inputs) refs.push_back(to_ref(t));
      Tensor out = row.run(inputs);
      Ref expected = row.ref(refs);
      Tol tol = row.tol ? *row.tol : default_tol(out.dtype());
      ASSERT_TRUE(tensors_close(out, from_ref(expected, DType::f64), tol.rtol, tol.atol));
      if (row.check_noncontiguous) {
        std::vector<Tensor> nc;
        for (auto& t : inputs) nc.push_back(make_noncontiguous(t));
        Tensor out2 = row.run(nc);
        ASSERT_TRUE(tensors_close(out2, from_ref(expected, DType::f64), tol.rtol, tol.atol)) << "non-contiguous inputs";
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Ops, OpForward, ::testing::ValuesIn(all_row_params()), row_param_name);
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(OpForward);

}  // namespace
}  // namespace kiln::test
