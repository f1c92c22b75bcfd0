// Op-table rows for every reduction of tensor/reduce.h (tests/support/op_table.h): each op over many
// dims layouts (all, last, first, middle, several, adjacent, negative, per-channel, keepdim), shapes
// with 0, 1, primes and large sizes, every supported dtype, against float64 loops.
// Semantics, goldens, misuse and determinism are in test_reduce.cpp.
#include <cmath>
#include <limits>

#include "support/op_table.h"

namespace kiln::test {
namespace {

using Values = std::vector<double>;
const double kNaN = std::numeric_limits<double>::quiet_NaN();
const double kInf = std::numeric_limits<double>::infinity();

const std::vector<DType> kFloat = {DType::f32, DType::f64, DType::f16, DType::bf16};
using test::kAllDTypes;

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
      {"first", {0}, false, {{1}, {7}, {13, 17}, {3, 1, 5}, {2, 0, 3}, {1031, 67}, {1031, 7}}},
      {"middle", {1}, false, {{13, 17}, {3, 1, 5}, {2, 0, 3}, {4, 5, 6}, {6, 29, 7}, {3, 401, 5}}},
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
  // [4099, 257] over dim 0: few columns, so R is cut into 16 row chunks (partials combined per column).
  return {{"big_all", {}, false, {{257, 4099}}}, {"big_last", {-1}, false, {{257, 4099}, {3, 20011}}},
          {"big_first", {0}, false, {{257, 4099}, {4099, 257}}}};
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

static OpRegistrar reg(with_parity(reduce_rows(), Parity::accumulated));

}  // namespace
}  // namespace kiln::test
