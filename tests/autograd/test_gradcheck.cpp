// Drives every row of the gradient table (grad_table.h) and checks that every differentiable op
// has a row.
#include <map>
#include <set>

#include "grad_table.h"
#include "kiln/autograd/registry.h"

namespace kiln::test {

std::vector<GradRow>& grad_table() {
  static std::vector<GradRow> rows;
  return rows;
}
GradRegistrar::GradRegistrar(std::vector<GradRow> rows) {
  for (auto& r : rows) grad_table().push_back(std::move(r));
}

namespace {

std::vector<Tensor> inputs_for(const GradRow& row, size_t c, uint64_t seed) {
  std::vector<Tensor> xs;
  if (row.make) {
    xs = row.make(row.cases[c], seed);
  } else {
    for (size_t i = 0; i < row.cases[c].size(); ++i) {
      Domain d = i < row.domains.size() ? row.domains[i] : Domain::any;
      xs.push_back(random_tensor(row.cases[c][i], DType::f64, d, seed * 31 + i));
    }
  }
  return xs;
}

void mark(const GradRow& row, std::vector<Tensor>& xs) {
  for (size_t i = 0; i < xs.size(); ++i) {
    if (!xs[i].defined() || !xs[i].is_floating_point()) continue;
    bool want = row.wrt.empty();
    for (int w : row.wrt) want |= size_t(w) == i;
    if (want) ag::set_requires_grad(xs[i]);
  }
}

struct RowParam {
  size_t row;
  std::string name;
};
void PrintTo(const RowParam& p, std::ostream* os) { *os << p.name; }

class Gradcheck : public ::testing::TestWithParam<RowParam> {};

TEST_P(Gradcheck, MatchesFiniteDifferences) {
  const GradRow& row = grad_table()[GetParam().row];
  ASSERT_FALSE(row.cases.empty()) << row.name << " has no cases";
  for (size_t c = 0; c < row.cases.size(); ++c) {
    for (int nc = 0; nc < (row.check_noncontiguous ? 2 : 1); ++nc) {
      SCOPED_TRACE(row.name + " case " + std::to_string(c) + (nc ? " non-contiguous" : " contiguous"));
      auto xs = inputs_for(row, c, 77 + c);
      if (nc)
        for (auto& x : xs)
          if (x.defined() && x.is_floating_point()) x = make_noncontiguous(x);
      mark(row, xs);
      auto opt = row.opt;
      opt.seed = c;
      auto r = ag::gradcheck(row.run, xs, opt);
      ASSERT_TRUE(r.ok) << r.message;
    }
  }
}

std::vector<RowParam> all_rows() {
  std::vector<RowParam> p;
  for (size_t i = 0; i < grad_table().size(); ++i) p.push_back({i, grad_table()[i].name});
  return p;
}

std::string row_name(const ::testing::TestParamInfo<RowParam>& info) {
  std::string s = info.param.name;
  for (char& ch : s)
    if (!isalnum(static_cast<unsigned char>(ch))) ch = '_';
  return s + "_" + std::to_string(info.param.row);
}

INSTANTIATE_TEST_SUITE_P(Ops, Gradcheck, ::testing::ValuesIn(all_rows()), row_name);
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(Gradcheck);

// The meta-test: every differentiable op has rows with >= 5 cases in total, and every row names a
// listed op (a typo would otherwise hide a missing check).
TEST(GradcheckCoverage, EveryDifferentiableOpHasRows) {
  std::map<std::string, size_t> cases;
  for (auto& r : grad_table()) cases[r.name] += r.cases.size();
  std::set<std::string> listed;
  for (auto& n : ag::differentiable_ops()) {
    listed.insert(n);
    EXPECT_GE(cases[n], 5u) << "differentiable op '" << n << "' has " << cases[n]
                            << " gradcheck cases; add rows to tests/autograd";
  }
  for (auto& [n, k] : cases) EXPECT_TRUE(listed.count(n)) << "gradcheck row '" << n << "' names no listed op";
}

}  // namespace
}  // namespace kiln::test
