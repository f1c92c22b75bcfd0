// Reductions (tensor/reduce.h): op-table rows for every reduction over many dims layouts, golden
// values from PyTorch (var/std, logsumexp, norm), edge cases, misuse and determinism.
#include <cmath>
#include <limits>

#include "kiln/kernels/cpu/isa.h"
#include "kiln/kernels/cpu/parallel.h"
#include "support/op_table.h"

namespace kiln::test {
namespace {

using Values = std::vector<double>;
const double kNaN = std::numeric_limits<double>::quiet_NaN();
const double kInf = std::numeric_limits<double>::infinity();

const std::vector<DType> kFloat = {DType::f32, DType::f64, DType::f16, DType::bf16};
const std::vector<DType> kAllDTypes = {DType::f32, DType::f64, DType::f16, DType::bf16,
                                       DType::i64, DType::i32, DType::u8,  DType::b8};

// One way of choosing the reduced dims, with the input shapes it is tried on.
struct DimsCase {
  std::string name;
  std::vector<int64_t> dims;
  bool keepdim;
  std::vector<Shape> shapes;
};

std::vector<DimsCase> dims_cases() {
  return {
      {"all", {}, false, {{}, {1}, {7}, {13, 17}, {3, 1, 5}, {2, 0, 3}, {1031, 67}}},
      {"all_keep", {}, true, {{1}, {13, 17}, {2, 0, 3}}},
      {"last", {-1}, false, {{1}, {7}, {13, 17}, {3, 1, 5}, {2, 0, 3}, {1031, 67}}},
      {"last_keep", {-1}, true, {{7}, {13, 17}, {3, 1, 5}, {2, 0, 3}}},
      {"first", {0}, false, {{1}, {7}, {13, 17}, {3, 1, 5}, {2, 0, 3}, {1031, 67}}},
      {"middle", {1}, false, {{13, 17}, {3, 1, 5}, {2, 0, 3}, {4, 5, 6}, {6, 29, 7}}},
      {"several", {0, 2}, false, {{3, 1, 5}, {2, 0, 3}, {4, 5, 6}, {5, 3, 4, 2}}},
      {"several_keep", {0, 2}, true, {{3, 1, 5}, {4, 5, 6}, {5, 3, 4, 2}}},
      {"adjacent", {1, 2}, false, {{3, 1, 5}, {2, 0, 3}, {4, 5, 6}, {5, 3, 4, 2}}},
      {"negative", {-1, -3}, false, {{3, 1, 5}, {4, 5, 6}, {5, 3, 4, 2}}},
      // Per-channel statistics of [N, C, H, W]: leading and trailing reduced runs (split reduce).
      {"channels", {0, 2, 3}, false, {{8, 3, 5, 7}, {2, 0, 3, 4}, {1, 3, 1, 1}, {16, 4, 33, 65}}},
      {"channels_keep", {0, -1, -2}, true, {{8, 3, 5, 7}, {3, 2, 1, 9}}},
  };
}

// Large cases, run for the hot ops only (f32/f64) to keep the suite fast.
std::vector<DimsCase> big_cases() {
  // [3, 20011]: rows longer than one kReduceChunk (chunk partials combined per row).
  return {{"big_all", {}, false, {{257, 4099}}}, {"big_last", {-1}, false, {{257, 4099}, {3, 20011}}},
          {"big_first", {0}, false, {{257, 4099}}}};
}

// Number of elements reduced into each output element, and the output size.
void reduce_sizes(const Shape& s, const std::vector<int64_t>& dims, int64_t& r, int64_t& out) {
  r = 1;
  out = 1;
  for (int d = 0; d < s.size(); ++d) {
    bool red = dims.empty();
    for (int64_t q : dims)
      if (wrap_dim(q, s.size(), "test") == d) red = true;
    (red ? r : out) *= s[d];
  }
}

using Fold = std::function<double(const Values&)>;
using Run = std::function<Tensor(const Tensor&, const Shape&, bool)>;

// Registers one row per dims case: run(x, dims, keepdim) against fold over each output's values.
void add_rows(std::vector<OpRow>& rows, const std::string& op, const std::vector<DimsCase>& cases, Run run,
              Fold fold, std::vector<DType> dtypes, bool differentiable, bool needs_nonempty = false,
              std::vector<Domain> domains = {}, std::optional<Tol> tol = std::nullopt) {
  if (tol) {
    // A custom tolerance is meant for f32/f64 (and exact integers); 16-bit floats keep the default
    // tolerance of their dtype, in rows of their own.
    std::vector<DType> wide, half;
    for (DType d : dtypes) (d == DType::f16 || d == DType::bf16 ? half : wide).push_back(d);
    if (!half.empty() && !wide.empty()) {
      add_rows(rows, op, cases, run, fold, wide, differentiable, needs_nonempty, domains, tol);
      add_rows(rows, op + "_half", cases, run, fold, half, differentiable, needs_nonempty, domains, std::nullopt);
      return;
    }
    if (wide.empty()) tol = std::nullopt;
  }
  for (const DimsCase& dc : cases) {
    OpRow row;
    row.name = op + "_" + dc.name;
    for (const Shape& s : dc.shapes) {
      int64_t r, out;
      reduce_sizes(s, dc.dims, r, out);
      if (needs_nonempty && r == 0 && out > 0) continue;
      row.cases.push_back({s});
    }
    if (row.cases.empty()) continue;
    Shape dims(dc.dims);
    bool keep = dc.keepdim;
    std::vector<int64_t> dv = dc.dims;
    row.run = [run, dims, keep](const std::vector<Tensor>& in) { return run(in[0], dims, keep); };
    row.ref = [fold, dv, keep](const std::vector<Ref>& in) { return ref_reduce(in[0], dv, keep, fold); };
    row.dtypes = dtypes;
    row.domains = domains;
    row.tol = tol;
    row.differentiable = differentiable;
    rows.push_back(row);
  }
}

double fold_sum(const Values& v) {
  double s = 0;
  for (double x : v) s += x;
  return s;
}
double fold_max(const Values& v) {
  double m = -kInf;
  for (double x : v) m = std::isnan(x) || x > m ? x : m;
  return m;
}
double fold_min(const Values& v) {
  double m = kInf;
  for (double x : v) m = std::isnan(x) || x < m ? x : m;
  return m;
}
Fold fold_var(double correction, bool take_sqrt) {
  return [=](const Values& v) {
    double n = double(v.size());
    double m = fold_sum(v) / n, ss = 0;
    for (double x : v) ss += (x - m) * (x - m);
    double r = ss / (n - correction);
    return take_sqrt ? std::sqrt(r) : r;
  };
}
Fold fold_norm(double p) {
  return [=](const Values& v) {
    double a = 0;
    for (double x : v) a = std::isinf(p) ? std::max(a, std::fabs(x)) : a + std::pow(std::fabs(x), p);
    return std::isinf(p) ? a : std::pow(a, 1.0 / p);
  };
}
double fold_lse(const Values& v) {
  double m = fold_max(v);
  if (std::isinf(m)) m = 0;
  double s = 0;
  for (double x : v) s += std::exp(x - m);
  return std::log(s) + m;
}
Fold fold_arg(bool is_max) {
  return [=](const Values& v) {
    size_t best = 0;
    for (size_t i = 1; i < v.size(); ++i)
      if (is_max ? v[i] > v[best] : v[i] < v[best]) best = i;
    return double(best);
  };
}

// Inclusive scan reference along dim.
Ref ref_scan(const Ref& a, int64_t dim, bool prod) {
  Ref o(a.shape);
  if (a.numel() == 0) return o;
  int d = wrap_dim(dim, a.shape.size(), "ref_scan");
  int64_t outer = 1, n = a.shape.size() ? a.shape[d] : 1, inner = 1;
  for (int i = 0; i < d; ++i) outer *= a.shape[i];
  for (int i = d + 1; i < a.shape.size(); ++i) inner *= a.shape[i];
  for (int64_t o1 = 0; o1 < outer; ++o1)
    for (int64_t i = 0; i < inner; ++i) {
      double acc = prod ? 1 : 0;
      for (int64_t r = 0; r < n; ++r) {
        size_t k = size_t((o1 * n + r) * inner + i);
        acc = prod ? acc * a.v[k] : acc + a.v[k];
        o.v[k] = acc;
      }
    }
  return o;
}

std::vector<OpRow> reduce_rows() {
  std::vector<OpRow> rows;
  auto all = dims_cases(), big = big_cases();
  const std::vector<DType> f32f64 = {DType::f32, DType::f64};
  // f32 sums of thousands of values: allow for the f32 accumulation (rtol 1e-5).
  const Tol sum_tol32{1e-5, 1e-4};

  Run sum_run = [](const Tensor& x, const Shape& d, bool k) { return sum(x, d, k); };
  add_rows(rows, "sum", all, sum_run, fold_sum, {DType::f64, DType::f16, DType::bf16, DType::i64, DType::i32, DType::u8, DType::b8}, true);
  add_rows(rows, "sum_f32", all, sum_run, fold_sum, {DType::f32}, true, false, {}, sum_tol32);
  add_rows(rows, "sum_big", big, sum_run, fold_sum, f32f64, true, false, {}, sum_tol32);

  Run mean_run = [](const Tensor& x, const Shape& d, bool k) { return mean(x, d, k); };
  Fold mean_fold = [](const Values& v) { return fold_sum(v) / double(v.size()); };
  add_rows(rows, "mean", all, mean_run, mean_fold, {DType::f64, DType::f16, DType::bf16}, true);
  add_rows(rows, "mean_f32", all, mean_run, mean_fold, {DType::f32}, true, false, {}, sum_tol32);
  add_rows(rows, "mean_big", big, mean_run, mean_fold, f32f64, true, false, {}, sum_tol32);

  // prod over few elements per output, values away from 0 (|x| in 0.5..3).
  std::vector<DimsCase> small = {
      {"all", {}, false, {{}, {1}, {7}, {3, 1, 5}, {2, 0, 3}}},
      {"last", {-1}, false, {{7}, {13, 5}, {2, 0, 3}, {1031, 7}}},
      {"first_keep", {0}, true, {{7}, {5, 13}, {2, 0, 3}}},
      {"several", {0, 2}, false, {{3, 1, 5}, {4, 5, 3}}},
  };
  add_rows(rows, "prod", small, [](const Tensor& x, const Shape& d, bool k) { return prod(x, d, k); },
           [](const Values& v) {
             double p = 1;
             for (double x : v) p *= x;
             return p;
           },
           {DType::f32, DType::f64, DType::f16, DType::bf16, DType::i64, DType::i32}, true, false, {Domain::nonzero},
           Tol{2e-3, 1e-5});
  add_rows(rows, "prod_bool", {{"all", {}, false, {{7}, {13, 17}}}},
           [](const Tensor& x, const Shape& d, bool k) { return prod(x, d, k); },
           [](const Values& v) {
             double p = 1;
             for (double x : v) p *= x;
             return p;
           },
           {DType::b8, DType::u8}, false);

  add_rows(rows, "amax", all, [](const Tensor& x, const Shape& d, bool k) { return amax(x, d, k); }, fold_max,
           kAllDTypes, true, true);
  add_rows(rows, "amin", all, [](const Tensor& x, const Shape& d, bool k) { return amin(x, d, k); }, fold_min,
           kAllDTypes, true, true);
  add_rows(rows, "amax_big", big, [](const Tensor& x, const Shape& d, bool k) { return amax(x, d, k); }, fold_max,
           f32f64, true, true);

  // max/min over one dim: values and indices (first extreme).
  std::vector<DimsCase> one_dim;
  for (auto& dc : all)
    if (dc.dims.size() == 1) one_dim.push_back(dc);
  add_rows(rows, "max_dim_values", one_dim,
           [](const Tensor& x, const Shape& d, bool k) { return max(x, d[0], k).values; }, fold_max, kAllDTypes, true,
           true);
  add_rows(rows, "max_dim_indices", one_dim,
           [](const Tensor& x, const Shape& d, bool k) { return max(x, d[0], k).indices; }, fold_arg(true),
           kAllDTypes, false, true);
  add_rows(rows, "min_dim_values", one_dim,
           [](const Tensor& x, const Shape& d, bool k) { return min(x, d[0], k).values; }, fold_min, kAllDTypes, true,
           true);
  add_rows(rows, "min_dim_indices", one_dim,
           [](const Tensor& x, const Shape& d, bool k) { return min(x, d[0], k).indices; }, fold_arg(false),
           kAllDTypes, false, true);
  add_rows(rows, "argmax", one_dim, [](const Tensor& x, const Shape& d, bool k) { return argmax(x, d[0], k); },
           fold_arg(true), kAllDTypes, false, true);
  add_rows(rows, "argmin", one_dim, [](const Tensor& x, const Shape& d, bool k) { return argmin(x, d[0], k); },
           fold_arg(false), kAllDTypes, false, true);
  std::vector<DimsCase> flat = {{"all", {}, false, {{}, {1}, {7}, {13, 17}, {3, 1, 5}, {1031, 67}}}};
  add_rows(rows, "argmax_flat", flat, [](const Tensor& x, const Shape&, bool) { return argmax(x); },
           fold_arg(true), kAllDTypes, false, true);
  add_rows(rows, "argmin_flat", flat, [](const Tensor& x, const Shape&, bool) { return argmin(x); },
           fold_arg(false), kAllDTypes, false, true);
  add_rows(rows, "argmax_big", big, [](const Tensor& x, const Shape& d, bool k) {
             return d.empty() ? argmax(x) : argmax(x, d[0], k); }, fold_arg(true), f32f64, false, true);

  for (double c : {0.0, 1.0}) {
    std::string cs = c == 0 ? "_c0" : "_c1";
    add_rows(rows, "var" + cs, all,
             [c](const Tensor& x, const Shape& d, bool k) { return var(x, d, c, k); }, fold_var(c, false), kFloat,
             true, false, {}, std::nullopt);
    add_rows(rows, "std" + cs, all,
             [c](const Tensor& x, const Shape& d, bool k) { return kiln::std(x, d, c, k); }, fold_var(c, true),
             kFloat, true);
  }
  add_rows(rows, "var_mean_mean", all,
           [](const Tensor& x, const Shape& d, bool k) { return var_mean(x, d, 1, k).mean; },
           [](const Values& v) { return fold_sum(v) / double(v.size()); }, {DType::f64, DType::bf16}, false);

  for (double p : {1.0, 2.0, 3.0, 0.5, kInf}) {
    std::string ps = std::isinf(p) ? "inf" : p == 0.5 ? "0_5" : std::to_string(int(p));
    add_rows(rows, "norm_p" + ps, all,
             [p](const Tensor& x, const Shape& d, bool k) { return norm(x, p, d, k); }, fold_norm(p),
             {DType::f32, DType::f64, DType::bf16}, true, false, {}, Tol{1e-5, 1e-5});
    add_rows(rows, "norm_f16_p" + ps, small,
             [p](const Tensor& x, const Shape& d, bool k) { return norm(x, p, d, k); }, fold_norm(p),
             {DType::f16}, true);
  }

  add_rows(rows, "logsumexp", all, [](const Tensor& x, const Shape& d, bool k) { return logsumexp(x, d, k); },
           fold_lse, kFloat, true);
  add_rows(rows, "any", all, [](const Tensor& x, const Shape& d, bool k) { return any(x, d, k); },
           [](const Values& v) {
             for (double x : v)
               if (x != 0) return 1.0;
             return 0.0;
           },
           kAllDTypes, false);
  add_rows(rows, "all", all, [](const Tensor& x, const Shape& d, bool k) { return kiln::all(x, d, k); },
           [](const Values& v) {
             for (double x : v)
               if (x == 0) return 0.0;
             return 1.0;
           },
           kAllDTypes, false);

  // cumsum / cumprod along one dim.
  struct ScanCase {
    std::string name;
    int64_t dim;
    std::vector<Shape> shapes;
  };
  std::vector<ScanCase> scans = {{"last", -1, {{}, {1}, {7}, {13, 17}, {2, 0, 3}, {1031, 67}}},
                                 {"first", 0, {{7}, {13, 17}, {3, 1, 5}, {2, 0, 3}, {67, 1031}}},
                                 {"middle", 1, {{3, 1, 5}, {4, 5, 6}, {2, 0, 3}}}};
  for (auto& sc : scans)
    for (bool is_prod : {false, true}) {
      OpRow row;
      row.name = std::string(is_prod ? "cumprod_" : "cumsum_") + sc.name;
      for (auto& s : sc.shapes)
        if (!is_prod || s.numel() < 1000) row.cases.push_back({s});
      int64_t dim = sc.dim;
      row.run = [dim, is_prod](const std::vector<Tensor>& in) {
        return is_prod ? cumprod(in[0], dim) : cumsum(in[0], dim);
      };
      row.ref = [dim, is_prod](const std::vector<Ref>& in) { return ref_scan(in[0], dim, is_prod); };
      row.dtypes = {DType::f32, DType::f64, DType::i64, DType::i32, DType::u8, DType::b8};
      row.domains = {is_prod ? Domain::unit : Domain::any};
      row.tol = Tol{1e-5, 1e-5};
      row.differentiable = true;
      rows.push_back(row);
      row.name += "_half";
      row.dtypes = {DType::f16, DType::bf16};
      row.tol = std::nullopt;
      rows.push_back(row);
    }
  return rows;
}

static OpRegistrar reg(reduce_rows());

// ---- semantics and edge cases

TEST(Reduce, EmptyReductions) {
  Tensor e = zeros({2, 0, 3});
  EXPECT_TRUE(tensors_equal(sum(e), scalar_tensor(0.0, DType::f32)));
  EXPECT_TRUE(tensors_equal(prod(e), scalar_tensor(1.0, DType::f32)));
  EXPECT_TRUE(tensors_equal(sum(e, {1}), zeros({2, 3})));
  EXPECT_TRUE(tensors_equal(prod(e, {1}, true), ones({2, 1, 3})));
  EXPECT_TRUE(std::isnan(mean(e).item<double>()));
  EXPECT_EQ(any(e).item<bool>(), false);
  EXPECT_EQ(kiln::all(e).item<bool>(), true);
  EXPECT_EQ(logsumexp(e, {1}).select(0, 0).select(0, 0).item<double>(), -kInf);
  // Max over a non-empty dim of an empty tensor is fine (empty result).
  EXPECT_EQ(amax(e, {0}).shape(), Shape({0, 3}));
  EXPECT_EQ(max(e, 2).indices.shape(), Shape({2, 0}));
}

TEST(Reduce, DTypes) {
  Tensor i = tensor({1, 2, 3}, DType::i32);
  EXPECT_EQ(sum(i).dtype(), DType::i64);
  EXPECT_EQ(sum(i).item<int64_t>(), 6);
  EXPECT_EQ(sum(i, {}, false, DType::i32).dtype(), DType::i32);
  EXPECT_EQ(prod(tensor({2, 3}, DType::u8)).dtype(), DType::i64);
  Tensor b = tensor({1, 0, 1, 1}, DType::b8);
  EXPECT_EQ(sum(b).item<int64_t>(), 3);
  EXPECT_EQ(any(b).dtype(), DType::b8);
  EXPECT_EQ(sum(tensor({1.5, 2.25}, DType::f16)).dtype(), DType::f16);
  EXPECT_EQ(sum(tensor({1.5, 2.25}, DType::f16), {}, false, DType::f64).dtype(), DType::f64);
  EXPECT_DOUBLE_EQ(mean(i, {}, false, DType::f64).item<double>(), 2.0);
  EXPECT_EQ(amax(i).dtype(), DType::i32);
  EXPECT_EQ(cumsum(i, 0).dtype(), DType::i64);
  EXPECT_EQ(cumsum(i, 0, DType::f32).dtype(), DType::f32);
  EXPECT_EQ(argmax(i).dtype(), DType::i64);
  // f16 inputs accumulate in f32: in f16, 2048 + 1 would round back to 2048.
  Tensor h = full({4096}, 1.0, DType::f16);
  EXPECT_EQ(sum(h).item<float>(), 4096.0f);
}

// Every f16 bit pattern goes through the kernels' f16 load and back unchanged (NaN stays NaN).
TEST(Reduce, HalfLoadIsExact) {
  std::vector<Half> all(65536);
  for (uint32_t b = 0; b < 65536; ++b) all[b] = Half::from_bits(uint16_t(b));
  Tensor x = from_vector(all, {65536, 1});
  Tensor cols = x.view({1, 65536}).expand({2, 65536});  // column reduce of two equal rows
  for (const Tensor& y : {amax(x, {1}), amin(cols, {0}), max(cols, 0).values}) {
    auto v = y.to_vector<Half>();
    for (uint32_t b = 0; b < 65536; ++b) {
      bool nan = (b & 0x7c00u) == 0x7c00u && (b & 0x3ffu) != 0;
      if (nan)
        ASSERT_TRUE(std::isnan(float(v[b]))) << b;
      else
        ASSERT_EQ(v[b].bits, b) << "bits " << b;
    }
  }
}

TEST(Reduce, ArgTieBreakingAndNaN) {
  EXPECT_EQ(argmax(tensor({1, 3, 3, 2})).item<int64_t>(), 1);
  EXPECT_EQ(argmin(tensor({2, 1, 5, 1})).item<int64_t>(), 1);
  EXPECT_EQ(argmax(tensor({1, kNaN, 5, kNaN})).item<int64_t>(), 1);
  EXPECT_EQ(argmin(tensor({1, 5, kNaN})).item<int64_t>(), 2);
  EXPECT_TRUE(std::isnan(amax(tensor({1, kNaN, 5})).item<double>()));
  EXPECT_TRUE(std::isnan(max(tensor({kNaN, 1, 5}), 0).values.item<double>()));
  // Columns (reduce dim 0 of a [4, 3]): ties keep the first row, NaN wins.
  Tensor c = tensor({{1, 7, 0}, {3, 7, kNaN}, {3, 9, 4}, {0, 9, kNaN}});
  auto r = max(c, 0);
  EXPECT_TRUE(tensors_equal(r.indices, from_vector<int64_t>({1, 2, 1}, {3})));
  EXPECT_TRUE(tensors_equal(argmin(c, 0), from_vector<int64_t>({3, 0, 1}, {3})));
  EXPECT_EQ(argmax(c, 0, true).shape(), Shape({1, 3}));
  EXPECT_EQ(argmax(c, std::nullopt, true).shape(), Shape({1, 1}));
  EXPECT_EQ(argmax(c).item<int64_t>(), 5);
  // Ties across chunks of a long row: the first occurrence wins.
  Tensor longrow = zeros({50000});
  longrow.narrow(0, 20000, 1).copy_(full({1}, 2.0));
  longrow.narrow(0, 45000, 1).copy_(full({1}, 2.0));
  EXPECT_EQ(argmax(longrow).item<int64_t>(), 20000);
  EXPECT_EQ(argmin(longrow).item<int64_t>(), 0);
}

TEST(Reduce, VarCorrection) {
  Tensor x = tensor({1, 2, 3, 4});
  EXPECT_NEAR(var(x).item<double>(), 5.0 / 3.0, 1e-6);
  EXPECT_NEAR(var(x, {}, 0).item<double>(), 1.25, 1e-6);
  EXPECT_NEAR(kiln::std(x, {}, 0).item<double>(), std::sqrt(1.25), 1e-6);
  EXPECT_TRUE(std::isnan(var(tensor({3})).item<double>()));  // N - correction = 0
  auto vm = var_mean(x, {0}, 1);
  EXPECT_NEAR(vm.mean.item<double>(), 2.5, 1e-6);
  // Two-pass: a large offset does not destroy the variance.
  Tensor big = tensor({1e4 + 1, 1e4 + 2, 1e4 + 3, 1e4 + 4});
  EXPECT_NEAR(var(big).item<double>(), 5.0 / 3.0, 1e-3);
}

TEST(Reduce, LogSumExpStable) {
  EXPECT_NEAR(logsumexp(tensor({1000, 1000}), {0}).item<double>(), 1000 + std::log(2.0), 1e-3);
  EXPECT_EQ(logsumexp(tensor({-kInf, -kInf}), {0}).item<double>(), -kInf);
  EXPECT_EQ(logsumexp(tensor({kInf, 1}), {0}).item<double>(), kInf);
  EXPECT_NEAR(logsumexp(tensor({-1000, -1000}, DType::f64), {0}).item<double>(), -1000 + std::log(2.0), 1e-9);
}

// f32 logsumexp (vectorised exp) against the f64 one over a wide range of magnitudes and offsets.
TEST(Reduce, LogSumExpF32Accuracy) {
  Tensor x = random_tensor({64, 257}, DType::f64, Domain::any, 5);
  std::vector<double> v = x.to_vector<double>();
  for (size_t i = 0; i < v.size(); ++i) v[i] = v[i] * 30.0 + double(int64_t(i / 257) - 32) * 10.0;  // |x| up to ~400
  Tensor w = from_vector(v, {64, 257});
  Tensor w32 = w.to(DType::f32);
  EXPECT_TRUE(tensors_close(logsumexp(w32, {1}), logsumexp(w32.to(DType::f64), {1}), 2e-6, 1e-5));
  EXPECT_TRUE(tensors_close(logsumexp(w32, {0}), logsumexp(w32.to(DType::f64), {0}), 2e-6, 1e-5));
  Tensor small = random_tensor({1000}, DType::f32, Domain::unit, 6);
  EXPECT_TRUE(tensors_close(logsumexp(small, {0}), logsumexp(small.to(DType::f64), {0}), 1e-6, 1e-6));
  EXPECT_TRUE(std::isnan(logsumexp(tensor({1, kNaN, 3}), {0}).item<double>()));
}

TEST(Reduce, NonContiguousLayouts) {
  Tensor x = arange(60, DType::f64).reshape({3, 4, 5});
  Tensor t = x.permute({2, 0, 1});  // [5, 3, 4]
  Ref r = to_ref(t);
  EXPECT_TRUE(tensors_close(sum(t, {1}), from_ref(ref_reduce(r, {1}, false, fold_sum), DType::f64)));
  EXPECT_TRUE(tensors_close(sum(t, {0, 2}, true), from_ref(ref_reduce(r, {0, 2}, true, fold_sum), DType::f64)));
  EXPECT_TRUE(tensors_close(var(t, {2, 0}), from_ref(ref_reduce(r, {2, 0}, false, fold_var(1, false)), DType::f64)));
  // A transpose is reduced in memory order without a copy (a column reduce here).
  Tensor m = random_tensor({37, 11}, DType::f32, Domain::any, 3).t();  // [11, 37], strides [1, 11]
  Ref mr = to_ref(m);
  EXPECT_TRUE(tensors_close(sum(m, {1}), from_ref(ref_reduce(mr, {1}, false, fold_sum), DType::f64)));
  EXPECT_TRUE(tensors_close(amax(m, {0}, true), from_ref(ref_reduce(mr, {0}, true, fold_max), DType::f64)));
  EXPECT_TRUE(tensors_equal(argmax(m, 1), from_ref(ref_reduce(mr, {1}, false, fold_arg(true)), DType::f64)));
  EXPECT_TRUE(tensors_equal(argmin(m), from_ref(ref_reduce(mr, {}, false, fold_arg(false)), DType::f64)));
  Tensor e = tensor({1, 2, 3}).reshape({3, 1}).expand({3, 4});
  EXPECT_TRUE(tensors_equal(sum(e, {1}), tensor({4, 8, 12})));
  EXPECT_TRUE(tensors_equal(cumsum(x.transpose(0, 2), 0).contiguous(), cumsum(x, 2).transpose(0, 2).contiguous()));
}

// ---- goldens (tools/golden/gen_reduce.py, PyTorch in float64)

TEST(Reduce, GoldenVarStd) {
  auto f = load_fixture("reduce");
  Tensor x = f.at("x");
  for (int c = 0; c < 3; ++c) {
    std::string cs = std::to_string(c);
    EXPECT_TRUE(tensors_close(var(x, {}, c), f.at("var_all_c" + cs))) << c;
    EXPECT_TRUE(tensors_close(var(x, {1}, c), f.at("var_d1_c" + cs))) << c;
    EXPECT_TRUE(tensors_close(kiln::std(x, {0, 2}, c, true), f.at("std_d02_c" + cs))) << c;
    EXPECT_TRUE(tensors_close(var(x.to(DType::f32), {1}, c), f.at("var_d1_c" + cs).to(DType::f32))) << c;
  }
  auto vm = var_mean(x, {2}, 1);
  EXPECT_TRUE(tensors_close(vm.var, f.at("var_mean_d2_var")));
  EXPECT_TRUE(tensors_close(vm.mean, f.at("var_mean_d2_mean")));
}

TEST(Reduce, GoldenLogSumExp) {
  auto f = load_fixture("reduce");
  Tensor l = f.at("lse_x");
  EXPECT_TRUE(tensors_close(logsumexp(l, {1}), f.at("lse_d1")));
  EXPECT_TRUE(tensors_close(logsumexp(l.narrow(0, 0, 3), {0}), f.at("lse_d0")));
  EXPECT_TRUE(tensors_close(logsumexp(f.at("lse_pinf_x"), {1}), f.at("lse_pinf_d1")));
  EXPECT_TRUE(tensors_close(logsumexp(l.to(DType::f32), {1}), f.at("lse_d1").to(DType::f32)));
}

TEST(Reduce, GoldenNorm) {
  auto f = load_fixture("reduce");
  Tensor x = f.at("x");
  std::vector<std::pair<double, std::string>> ps = {{1, "p1"}, {2, "p2"}, {3, "p3"}, {0.5, "p0_5"}, {kInf, "pinf"}};
  for (auto& [p, name] : ps) {
    EXPECT_TRUE(tensors_close(norm(x, p), f.at("norm_" + name + "_all"))) << name;
    EXPECT_TRUE(tensors_close(norm(x, p, {1}), f.at("norm_" + name + "_d1"))) << name;
    EXPECT_TRUE(tensors_close(norm(x, p, {0, 2}, true), f.at("norm_" + name + "_d02"))) << name;
  }
}

// ---- misuse

TEST(Reduce, Misuse) {
  Tensor x = ones({2, 3});
  EXPECT_KILN_ERROR(sum(x, {2}), "out of range");
  EXPECT_KILN_ERROR(sum(x, {-3}), "out of range");
  EXPECT_KILN_ERROR(sum(x, {1, -1}), "more than once");
  EXPECT_KILN_ERROR(amax(zeros({2, 0}), {1}), "empty dimension");
  EXPECT_KILN_ERROR(max(zeros({0})), "empty dimension");
  EXPECT_KILN_ERROR(max(zeros({3, 0}), 1), "empty dimension");
  EXPECT_KILN_ERROR(argmax(zeros({0})), "empty dimension");
  EXPECT_KILN_ERROR(mean(ones({3}, DType::i64)), "floating");
  EXPECT_KILN_ERROR(var(ones({3}, DType::i32)), "floating");
  EXPECT_KILN_ERROR(logsumexp(ones({3}, DType::i32), {0}), "floating");
  EXPECT_KILN_ERROR(norm(x, 0), "p must be > 0");
  EXPECT_KILN_ERROR(norm(x, -1), "p must be > 0");
  EXPECT_KILN_ERROR(cumsum(x, 2), "out of range");
  EXPECT_KILN_ERROR(max(x, 5), "out of range");
  EXPECT_KILN_ERROR(sum(Tensor()), "undefined");
}

// ---- determinism: bit-identical whatever the thread count; ISA copies agree within tolerance.

std::vector<Tensor> hot_results(const Tensor& x) {
  return {sum(x),           sum(x, {1}),        sum(x, {0}),        mean(x, {1}),   amax(x), amax(x, {0}),
          argmax(x),        var(x, {1}),        norm(x, 2, {0}),    logsumexp(x, {1}), sum(x.to(DType::bf16), {0}),
          max(x, 0).indices, cumsum(x, 1),      var(x)};
}

TEST(Reduce, DeterministicAcrossThreadCounts) {
  const int saved = cpu::num_threads();
  // [3, 100003]: long rows take the chunked path; [100003, 3] column with few columns is chunked too.
  for (Shape s : {Shape{3, 100003}, Shape{100003, 3}, Shape{517, 1031}}) {
    Tensor x = random_tensor(s, DType::f32, Domain::any, 7);
    cpu::set_num_threads(1);
    auto ref = hot_results(x);
    for (int nt : {2, 3}) {
      cpu::set_num_threads(nt);
      auto got = hot_results(x);
      for (size_t i = 0; i < ref.size(); ++i) EXPECT_TRUE(tensors_equal(got[i], ref[i])) << "result " << i << " threads " << nt << " shape " << s;
    }
  }
  // Split reduce ([N, C, H, W] over {0, 2, 3}).
  Tensor img = random_tensor({16, 8, 61, 67}, DType::f32, Domain::any, 9);
  auto split_results = [&] {
    return std::vector<Tensor>{sum(img, {0, 2, 3}), var(img, {0, 2, 3}), amax(img, {0, 2, 3}), logsumexp(img, {0, 2, 3})};
  };
  cpu::set_num_threads(1);
  auto sref = split_results();
  for (int nt : {2, 3}) {
    cpu::set_num_threads(nt);
    auto got = split_results();
    for (size_t i = 0; i < sref.size(); ++i) EXPECT_TRUE(tensors_equal(got[i], sref[i])) << "split result " << i << " threads " << nt;
  }
  cpu::set_num_threads(saved);
}

TEST(Reduce, IsaCopiesAgree) {
  Tensor x = random_tensor({301, 1031}, DType::f32, Domain::any, 11);
  cpu::Isa saved = cpu::cpu_isa();
  cpu::set_cpu_isa(cpu::Isa::baseline);
  auto ref = hot_results(x);
  for (cpu::Isa isa : {cpu::Isa::avx2, cpu::Isa::avx512}) {
    cpu::set_cpu_isa(isa);
    auto got = hot_results(x);
    for (size_t i = 0; i < ref.size(); ++i) {
      if (ref[i].dtype() == DType::i64)
        EXPECT_TRUE(tensors_equal(got[i], ref[i])) << i << " " << cpu::isa_name(isa);
      else
        EXPECT_TRUE(tensors_close(got[i], ref[i], 1e-5, 1e-4)) << i << " " << cpu::isa_name(isa);
    }
  }
  cpu::set_cpu_isa(saved);
}

}  // namespace
}  // namespace kiln::test
