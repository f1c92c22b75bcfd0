// sort, argsort, topk, unique: op-table rows (float64 loop references), PyTorch golden fixtures
// (ties, NaN, descending, stable), examples and misuse errors.
#include <algorithm>
#include <cmath>

#include "support/op_table.h"

namespace kiln {
namespace {
using test::OpRow;
using test::Ref;
using test::tensors_equal;

using test::kAllDTypes;

// Stable sort of each line along d (NaN largest), keeping the first k (all when k < 0):
// values or positions.
Ref ref_sort(const Ref& x, int d, bool desc, bool indices, int64_t k = -1) {
  Shape s = x.shape;
  int64_t n = s[d];
  if (k < 0) k = n;
  Shape o = s;
  o[d] = k;
  Ref out(o);
  Shape lines = s;
  lines[d] = 1;
  if (lines.numel() == 0 || x.numel() == 0) return out;
  std::vector<int64_t> i(size_t(s.size()), 0);
  for (int64_t line = 0; line < lines.numel(); ++line) {
    int64_t rem = line;
    for (int a = s.size() - 1; a >= 0; --a) {
      i[size_t(a)] = a == d ? 0 : rem % lines[a];
      rem /= lines[a];
    }
    std::vector<std::pair<double, int64_t>> v;
    for (int64_t j = 0; j < n; ++j) {
      i[size_t(d)] = j;
      v.push_back({x.v[size_t(x.index(i))], j});
    }
    auto less = [](double a, double b) { return !std::isnan(a) && (std::isnan(b) || a < b); };
    std::stable_sort(v.begin(), v.end(), [&](const auto& a, const auto& b) {
      return desc ? less(b.first, a.first) : less(a.first, b.first);
    });
    for (int64_t j = 0; j < k; ++j) {
      i[size_t(d)] = j;
      out.v[size_t(out.index(i))] = indices ? double(v[size_t(j)].second) : v[size_t(j)].first;
    }
  }
  return out;
}

std::vector<OpRow> rows() {
  std::vector<OpRow> r;
  struct SortCase {
    const char* name;
    int64_t dim;
    bool desc, indices;
  };
  for (const SortCase& c : {SortCase{"sort_values", -1, false, false}, SortCase{"sort_indices", -1, false, true},
                            SortCase{"sort_dim0_desc_values", 0, true, false},
                            SortCase{"argsort_dim0_desc", 0, true, true}}) {
    OpRow row;
    row.name = c.name;
    row.cases = {{{0, 3}}, {{1}}, {{1, 7}}, {{5, 3}}, {{4, 13, 17}}, {{3, 1000}}, {{1000, 3}}};
    row.dtypes = kAllDTypes;  // integer and bool inputs have many ties: checks stability
    SortCase cc = c;
    row.run = [cc](const std::vector<Tensor>& in) {
      if (cc.indices && cc.dim == 0) return argsort(in[0], cc.dim, cc.desc);
      auto vi = sort(in[0], cc.dim, cc.desc);
      return cc.indices ? vi.indices : vi.values;
    };
    row.ref = [cc](const std::vector<Ref>& in) {
      return ref_sort(in[0], wrap_dim(cc.dim, in[0].shape.size(), "ref"), cc.desc, cc.indices);
    };
    row.differentiable = !c.indices;
    r.push_back(row);
  }
  for (int which = 0; which < 4; ++which) {  // values / indices, largest / smallest
    bool largest = which < 2, indices = which % 2 == 1;
    OpRow row;
    row.name = std::string("topk_") + (largest ? "largest_" : "smallest_") + (indices ? "indices" : "values");
    row.cases = {{{0, 5}}, {{1, 5}}, {{7, 5}}, {{3, 4, 13}}, {{4, 1001}}};
    row.dtypes = kAllDTypes;
    row.run = [largest, indices](const std::vector<Tensor>& in) {
      auto vi = topk(in[0], std::min<int64_t>(3, in[0].size(-1)), -1, largest);
      return indices ? vi.indices : vi.values;
    };
    row.ref = [largest, indices](const std::vector<Ref>& in) {
      int d = in[0].shape.size() - 1;
      return ref_sort(in[0], d, largest, indices, std::min<int64_t>(3, in[0].shape[d]));
    };
    row.differentiable = !indices;
    r.push_back(row);
  }
  for (int part = 0; part < 3; ++part) {
    OpRow row;
    row.name = part == 0 ? "unique_values" : part == 1 ? "unique_inverse" : "unique_counts";
    row.cases = {{{0}}, {{1}}, {{7}}, {{5, 3}}, {{40, 50}}};
    row.dtypes = kAllDTypes;
    row.run = [part](const std::vector<Tensor>& in) {
      auto u = unique(in[0], true, part == 1, part == 2);
      return part == 0 ? u.values : part == 1 ? u.inverse : u.counts;
    };
    row.ref = [part](const std::vector<Ref>& in) {
      std::vector<double> vals = in[0].v;
      std::sort(vals.begin(), vals.end());
      vals.erase(std::unique(vals.begin(), vals.end()), vals.end());
      if (part == 0) return Ref(Shape{int64_t(vals.size())}, vals);
      if (part == 1) {
        Ref o(in[0].shape);
        for (size_t i = 0; i < o.v.size(); ++i)
          o.v[i] = double(std::lower_bound(vals.begin(), vals.end(), in[0].v[i]) - vals.begin());
        return o;
      }
      Ref o(Shape{int64_t(vals.size())});
      for (double v : in[0].v) o.v[size_t(std::lower_bound(vals.begin(), vals.end(), v) - vals.begin())] += 1;
      return o;
    };
    r.push_back(row);
  }
  return r;
}

test::OpRegistrar reg(rows());

TEST(Sort, MatchesPyTorchGolden) {
  auto f = test::load_fixture("sort");
  Tensor ties = f.at("ties");
  for (std::string tag : {"asc", "desc"}) {
    SCOPED_TRACE(tag);
    auto vi = sort(ties, -1, tag == "desc", true);
    EXPECT_TRUE(tensors_equal(vi.values, f.at("sort_" + tag + "_values")));
    EXPECT_TRUE(tensors_equal(vi.indices, f.at("sort_" + tag + "_indices")));
    auto v0 = sort(ties, 0, tag == "desc", true);
    EXPECT_TRUE(tensors_equal(v0.values, f.at("sort0_" + tag + "_values")));
    EXPECT_TRUE(tensors_equal(v0.indices, f.at("sort0_" + tag + "_indices")));
  }
  auto iv = sort(f.at("ints"), 1, true);
  EXPECT_TRUE(tensors_equal(iv.values, f.at("ints_desc_values")));
  EXPECT_TRUE(tensors_equal(iv.indices, f.at("ints_desc_indices")));
  auto hv = sort(f.at("halfs"), 1);
  EXPECT_EQ(hv.values.dtype(), DType::f16);
  EXPECT_TRUE(tensors_equal(hv.values, f.at("halfs_values")));
  EXPECT_TRUE(tensors_equal(hv.indices, f.at("halfs_indices")));
}

TEST(Sort, TopkMatchesPyTorchGolden) {
  auto f = test::load_fixture("sort");
  for (bool largest : {true, false}) {
    std::string tag = largest ? "largest" : "smallest";
    SCOPED_TRACE(tag);
    auto vi = topk(f.at("distinct"), 7, 1, largest);
    EXPECT_TRUE(tensors_equal(vi.values, f.at("topk_" + tag + "_values")));
    EXPECT_TRUE(tensors_equal(vi.indices, f.at("topk_" + tag + "_indices")));
    // With ties PyTorch picks any of the tied elements; the values agree, and ours are the
    // first k of a stable sort.
    auto tv = topk(f.at("ties"), 6, 1, largest);
    EXPECT_TRUE(tensors_equal(tv.values, f.at("topk_ties_" + tag + "_values")));
    EXPECT_TRUE(tensors_equal(tv.indices, sort(f.at("ties"), 1, largest).indices.narrow(1, 0, 6)));
  }
  auto v0 = topk(f.at("distinct"), 2, 0);
  EXPECT_TRUE(tensors_equal(v0.values, f.at("topk0_values")));
  EXPECT_TRUE(tensors_equal(v0.indices, f.at("topk0_indices")));
}

TEST(Sort, UniqueMatchesPyTorchGolden) {
  auto f = test::load_fixture("sort");
  for (std::string p : {"", "f"}) {
    auto u = unique(f.at(p + "labels"), true, true, true);
    EXPECT_TRUE(tensors_equal(u.values, f.at(p + "unique_values")));
    EXPECT_TRUE(tensors_equal(u.inverse, f.at(p + "unique_inverse")));
    EXPECT_TRUE(tensors_equal(u.counts, f.at(p + "unique_counts")));
  }
}

TEST(Sort, Examples) {
  const double nan = std::nan("");
  // NaN sorts as the largest; stable keeps equal values in input order, also descending.
  auto vi = sort(tensor({2, nan, 1, 2, -0.0, 0.0}));
  EXPECT_TRUE(tensors_equal(vi.indices, tensor({4, 5, 2, 0, 3, 1}, DType::i64)));
  auto vd = sort(tensor({2, nan, 1, 2}), -1, true);
  EXPECT_TRUE(tensors_equal(vd.indices, tensor({1, 0, 3, 2}, DType::i64)));
  auto tk = topk(tensor({1, 3, 3, nan, 3}), 3);
  EXPECT_TRUE(tensors_equal(tk.indices, tensor({3, 1, 2}, DType::i64)));
  EXPECT_TRUE(tensors_equal(topk(tensor({5, 1, 1, 0}), 2, -1, false).indices, tensor({3, 1}, DType::i64)));
  auto s0 = sort(scalar_tensor(3.0, DType::f32));
  EXPECT_EQ(s0.values.dim(), 0);
  EXPECT_EQ(s0.indices.item<int64_t>(), 0);
  // unique as "categories": labels -> dense ids; each NaN is its own value.
  auto u = unique(tensor({30, 10, 30, 20, 10}, DType::i64), true, true, true);
  EXPECT_TRUE(tensors_equal(u.values, tensor({10, 20, 30}, DType::i64)));
  EXPECT_TRUE(tensors_equal(u.inverse, tensor({2, 0, 2, 1, 0}, DType::i64)));
  EXPECT_TRUE(tensors_equal(u.counts, tensor({2, 1, 2}, DType::i64)));
  auto un = unique(tensor({1, nan, 2, nan, 1}), true, true, true);
  EXPECT_EQ(un.values.numel(), 4);
  EXPECT_TRUE(tensors_equal(un.counts, tensor({2, 1, 1, 1}, DType::i64)));
  EXPECT_FALSE(unique(tensor({1})).inverse.defined());
  EXPECT_TRUE(tensors_equal(unique(tensor({1, 0, 1}, DType::b8)).values, tensor({0, 1}, DType::b8)));
}

TEST(Sort, MisuseIsAClearError) {
  EXPECT_KILN_ERROR(topk(zeros({2, 3}), 4), "k 4 is out of range for dimension 1 of size 3");
  EXPECT_KILN_ERROR(topk(zeros({2, 3}), -1), "k -1 is out of range");
  EXPECT_KILN_ERROR(sort(zeros({2, 3}), 2), "dimension 2 out of range");
  EXPECT_KILN_ERROR(topk(zeros({2, 3}), 1, -3), "dimension -3 out of range");
}

}  // namespace
}  // namespace kiln
