// softmax, log_softmax and their backward ops: op-table rows (f64 loop references), golden
// fixtures from torch (large values, -inf, strided dims, autograd gradients), misuse.
#include <cmath>
#include <limits>

#include "kiln/kernels/cpu/parallel.h"
#include "support/op_table.h"

namespace kiln::test {
namespace {

constexpr DType kAllFloat[] = {DType::f32, DType::f64, DType::f16, DType::bf16};

// [outer, D, inner] view of a shape around dim.
void split(const Shape& s, int64_t dim, int64_t& outer, int64_t& D, int64_t& inner) {
  outer = 1, D = 1, inner = 1;
  if (s.size() == 0) return;
  const int d = wrap_dim(dim, s.size(), "ref");
  for (int i = 0; i < d; ++i) outer *= s[i];
  D = s[d];
  for (int i = d + 1; i < s.size(); ++i) inner *= s[i];
}

Ref ref_softmax(const Ref& x, int64_t dim, bool log) {
  int64_t outer, D, inner;
  split(x.shape, dim, outer, D, inner);
  Ref y(x.shape);
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t j = 0; j < inner; ++j) {
      auto at = [&](int64_t d) { return size_t((o * D + d) * inner + j); };
      double m = -INFINITY;
      for (int64_t d = 0; d < D; ++d) m = std::max(m, x.v[at(d)]);
      double s = 0;
      for (int64_t d = 0; d < D; ++d) s += std::exp(x.v[at(d)] - m);
      for (int64_t d = 0; d < D; ++d) y.v[at(d)] = log ? x.v[at(d)] - m - std::log(s) : std::exp(x.v[at(d)] - m) / s;
    }
  return y;
}

Ref ref_softmax_backward(const Ref& dy, const Ref& y, int64_t dim, bool log) {
  int64_t outer, D, inner;
  split(y.shape, dim, outer, D, inner);
  Ref dx(y.shape);
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t j = 0; j < inner; ++j) {
      auto at = [&](int64_t d) { return size_t((o * D + d) * inner + j); };
      double s = 0;
      for (int64_t d = 0; d < D; ++d) s += log ? dy.v[at(d)] : dy.v[at(d)] * y.v[at(d)];
      for (int64_t d = 0; d < D; ++d)
        dx.v[at(d)] = log ? dy.v[at(d)] - std::exp(y.v[at(d)]) * s : y.v[at(d)] * (dy.v[at(d)] - s);
    }
  return dx;
}

std::vector<std::vector<Shape>> inner_cases() {
  return {{{0}}, {{1}}, {{7}}, {{3, 13}}, {{4, 0}}, {{5, 17}}, {{2, 3, 31}}, {{3, 1031}}};
}
// Forward only: [2, 5003] has rows of several kernel blocks (Note [Softmax blocks]), the last one
// partial. (The backward ops take y as given; for random y their f32 sums over 5003 values are not
// within the table tolerance of the f64 reference, whatever the kernel.)
std::vector<std::vector<Shape>> inner_cases_fwd() {
  auto c = inner_cases();
  c.push_back({{2, 5003}});
  return c;
}
std::vector<std::vector<Shape>> strided_cases() {  // softmax over dim 1
  return {{{3, 1}}, {{2, 5, 3}}, {{13, 7, 3}}, {{0, 4, 2}}, {{3, 5, 300}}, {{2, 11, 1, 17}}};
}

OpRow fwd_row(const std::string& name, int64_t dim, bool log, std::vector<std::vector<Shape>> cases) {
  OpRow r;
  r.name = name;
  r.cases = std::move(cases);
  r.run = [dim, log](const std::vector<Tensor>& in) { return log ? log_softmax(in[0], dim) : softmax(in[0], dim); };
  r.ref = [dim, log](const std::vector<Ref>& in) { return ref_softmax(in[0], dim, log); };
  r.dtypes = {std::begin(kAllFloat), std::end(kAllFloat)};
  r.differentiable = true;
  return r;
}

OpRow bwd_row(const std::string& name, int64_t dim, bool log, std::vector<std::vector<Shape>> cases) {
  OpRow r;
  r.name = name;
  for (auto& c : cases) r.cases.push_back({c[0], c[0]});
  r.run = [dim, log](const std::vector<Tensor>& in) {
    return log ? log_softmax_backward(in[0], in[1], dim) : softmax_backward(in[0], in[1], dim);
  };
  r.ref = [dim, log](const std::vector<Ref>& in) { return ref_softmax_backward(in[0], in[1], dim, log); };
  r.domains = {Domain::any, Domain::unit};
  r.differentiable = true;
  return r;
}

static OpRegistrar reg({
    fwd_row("softmax_lastdim", -1, false, inner_cases_fwd()),
    fwd_row("log_softmax_lastdim", -1, true, inner_cases_fwd()),
    fwd_row("softmax_dim1", 1, false, strided_cases()),
    fwd_row("log_softmax_dim1", 1, true, strided_cases()),
    fwd_row("softmax_0d", 0, false, {{Shape{}}}),
    bwd_row("softmax_backward_lastdim", -1, false, inner_cases()),
    bwd_row("log_softmax_backward_lastdim", -1, true, inner_cases()),
    bwd_row("softmax_backward_dim1", 1, false, strided_cases()),
    bwd_row("log_softmax_backward_dim1", 1, true, strided_cases()),
});

TEST(Softmax, GoldenTorch) {
  auto f = load_fixture("nn_softmax");
  for (std::string c : {"rows", "strided", "first"}) {
    SCOPED_TRACE(c);
    const Tensor x = f.at(c + "_x");
    const int64_t dim = int64_t(fixture_scalar(f, c + "_dim"));
    const Tensor y = softmax(x, dim), ly = log_softmax(x, dim);
    EXPECT_TRUE(tensors_close(y, f.at(c + "_softmax")));
    EXPECT_TRUE(tensors_close(ly, f.at(c + "_log_softmax")));
    EXPECT_TRUE(tensors_close(softmax_backward(f.at(c + "_softmax_dy"), y, dim), f.at(c + "_softmax_dx")));
    EXPECT_TRUE(tensors_close(log_softmax_backward(f.at(c + "_log_softmax_dy"), ly, dim), f.at(c + "_log_softmax_dx")));
    // The same in f32 (the vectorised exp path), against the f64 loop on the rounded inputs (x - 5000
    // loses digits in f32 whatever the kernel does).
    const Tensor x32 = x.to(DType::f32);
    EXPECT_TRUE(tensors_close(softmax(x32, dim), from_ref(ref_softmax(to_ref(x32), dim, false), DType::f64)));
    EXPECT_TRUE(tensors_close(log_softmax(x32, dim), from_ref(ref_softmax(to_ref(x32), dim, true), DType::f64)));
  }
}

TEST(Softmax, InfinityAndNaNRows) {
  const double inf = std::numeric_limits<double>::infinity();
  for (DType dt : {DType::f32, DType::f64}) {
    Tensor x = tensor({{-inf, -inf, -inf}, {0.0, -inf, 0.0}, {1e30, 1.0, -1e30}}, dt);
    auto y = softmax(x, 1).to_vector<double>();
    for (int i = 0; i < 3; ++i) EXPECT_TRUE(std::isnan(y[size_t(i)]));  // all -inf: NaN, as torch
    EXPECT_DOUBLE_EQ(y[3], 0.5);
    EXPECT_EQ(y[4], 0.0);
    EXPECT_EQ(y[6], 1.0);
    EXPECT_EQ(y[7], 0.0);
    auto ly = log_softmax(x, 1).to_vector<double>();
    EXPECT_EQ(ly[4], -inf);
    EXPECT_NEAR(ly[3], -std::log(2.0), 1e-6);
  }
}

// Long rows (more blocks than the kernel keeps on its stack), blocks made only of -inf, and a NaN
// far from the start of its row.
TEST(Softmax, LongRowsAndSpecialBlocks) {
  const double inf = std::numeric_limits<double>::infinity();
  const int64_t D = 70001;
  for (DType dt : {DType::f32, DType::f64}) {
    SCOPED_TRACE(dtype_name(dt));
    Tensor x = random_tensor({3, D}, dt, Domain::any, 11);
    std::vector<double> v = x.to_vector<double>();
    for (int64_t i = 0; i < 5000; ++i) v[size_t(D + i)] = -inf;        // row 1: first blocks all -inf
    for (int64_t i = 30000; i < 34096; ++i) v[size_t(D + i)] = -inf;  // and two more in the middle
    v[size_t(2 * D + 6000)] = std::nan("");                            // row 2: NaN in its third block
    x = from_vector(v, Shape{3, D}).to(dt);
    const Ref r = ref_softmax(to_ref(x), 1, false);
    const std::vector<double> y = softmax(x, 1).to_vector<double>();
    const double rel = dt == DType::f32 ? 2e-5 : 1e-12;
    for (int64_t i = 0; i < 2 * D; ++i) {
      const double e = r.v[size_t(i)];
      ASSERT_NEAR(y[size_t(i)], e, rel * std::abs(e)) << "at " << i;
    }
    for (int64_t i = 0; i < 5000; ++i) ASSERT_EQ(y[size_t(D + i)], 0.0);
    for (int64_t i = 2 * D; i < 3 * D; ++i) ASSERT_TRUE(std::isnan(y[size_t(i)])) << "at " << i;
    double s = 0;
    for (int64_t i = 0; i < D; ++i) s += y[size_t(i)];
    EXPECT_NEAR(s, 1.0, dt == DType::f32 ? 1e-4 : 1e-10);
  }
}

TEST(Softmax, DeterministicAcrossThreadCounts) {
  Tensor x = random_tensor({64, 777}, DType::f32, Domain::any, 7);
  const int saved = cpu::num_threads();
  cpu::set_num_threads(1);
  Tensor a = softmax(x, 1), b = softmax(x, 0);
  cpu::set_num_threads(4);
  Tensor c = softmax(x, 1), d = softmax(x, 0);
  cpu::set_num_threads(saved);
  EXPECT_TRUE(tensors_equal(a, c));
  EXPECT_TRUE(tensors_equal(b, d));
}

TEST(Softmax, Misuse) {
  Tensor x = zeros({2, 3});
  EXPECT_KILN_ERROR(softmax(x, 2), "softmax: dimension 2 out of range");
  EXPECT_KILN_ERROR(log_softmax(zeros({2}, DType::i64), 0), "must be a floating tensor");
  EXPECT_KILN_ERROR(softmax(Tensor(), 0), "undefined");
  EXPECT_KILN_ERROR(softmax_backward(zeros({2, 3}), zeros({3, 2}), 1), "dy has shape [2, 3] but y has shape [3, 2]");
  EXPECT_KILN_ERROR(log_softmax_backward(zeros({2, 3}), zeros({2, 3}, DType::f64), 1), "dtype");
}

}  // namespace
}  // namespace kiln::test
