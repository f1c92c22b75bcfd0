// Indexing ops: op-table rows (float64 loop references), PyTorch-checked examples, determinism
// of the accumulating ops across thread counts, and misuse errors.
#include <cstring>
#include <random>

#include "kiln/kernels/cpu/parallel.h"
#include "support/op_table.h"

namespace kiln {
namespace {
using test::from_ref;
using test::OpRow;
using test::random_tensor;
using test::Ref;
using test::tensors_equal;

using test::kAllDTypes;

// Random indices valid for a dim of size n: in [-n, n) when negative, else [0, n).
Tensor rand_index(const Shape& s, int64_t n, uint64_t seed, bool negative = true, DType dt = DType::i64) {
  std::mt19937_64 g(seed);
  std::vector<int64_t> v(size_t(s.numel()));
  for (auto& x : v) {
    x = n > 0 ? int64_t(g() % uint64_t(n)) : 0;
    if (negative && (g() & 1)) x -= n;
  }
  return from_vector(v, s).to(dt);
}

// Calls f(idx) for every multi-index of s in row-major order.
void each_index(const Shape& s, const std::function<void(const std::vector<int64_t>&)>& f) {
  if (s.numel() == 0) return;
  std::vector<int64_t> i(size_t(s.size()), 0);
  for (;;) {
    f(i);
    int d = s.size() - 1;
    for (; d >= 0; --d) {
      if (++i[size_t(d)] < s[d]) break;
      i[size_t(d)] = 0;
    }
    if (d < 0) return;
  }
}

int64_t wrap(double i, int64_t n) { return i < 0 ? int64_t(i) + n : int64_t(i); }

// ---- references
Ref ref_index_select(const Ref& x, int d, const Ref& idx) {
  Shape s = x.shape;
  s[d] = idx.numel();
  Ref o(s);
  int64_t k = 0;
  each_index(s, [&](const std::vector<int64_t>& i) {
    auto j = i;
    j[size_t(d)] = wrap(idx.v[size_t(i[size_t(d)])], x.shape[d]);
    o.v[size_t(k++)] = x.v[size_t(x.index(j))];
  });
  return o;
}

Ref ref_gather(const Ref& x, int d, const Ref& idx) {
  Ref o(idx.shape);
  int64_t k = 0;
  each_index(idx.shape, [&](const std::vector<int64_t>& i) {
    auto j = i;
    j[size_t(d)] = wrap(idx.v[size_t(k)], x.shape[d]);
    o.v[size_t(k++)] = x.v[size_t(x.index(j))];
  });
  return o;
}

// scatter (add = false, last write wins in row-major index order) and scatter_add.
Ref ref_scatter(const Ref& x, int d, const Ref& idx, const Ref& src, bool add) {
  Ref o = x;
  int64_t k = 0;
  each_index(idx.shape, [&](const std::vector<int64_t>& i) {
    auto j = i;
    j[size_t(d)] = wrap(idx.v[size_t(k++)], x.shape[d]);
    double v = src.v[size_t(src.index(i))];
    double& t = o.v[size_t(o.index(j))];
    t = add ? t + v : v;
  });
  return o;
}

Ref ref_index_add(const Ref& x, int d, const Ref& idx, const Ref& src, double alpha) {
  Ref o = x;
  each_index(src.shape, [&](const std::vector<int64_t>& i) {
    auto j = i;
    j[size_t(d)] = wrap(idx.v[size_t(i[size_t(d)])], x.shape[d]);
    o.v[size_t(o.index(j))] += alpha * src.v[size_t(src.index(i))];
  });
  return o;
}

// ---- op-table rows
std::vector<OpRow> rows() {
  std::vector<OpRow> r;
  for (int64_t dim : {0, -1}) {
    OpRow row;
    row.name = "index_select_dim" + std::to_string(dim);
    row.cases = {{{dim == 0 ? 5 : 0, dim == 0 ? 0 : 5}, {3}}, {{1}, {1}}, {{7, 3}, {0}}, {{13, 17}, {11}}, {{3, 7, 5}, {9}}, {{40, 50}, {64}}};
    row.dtypes = kAllDTypes;
    row.make = [dim](const std::vector<Shape>& s, DType dt, uint64_t seed) {
      Tensor x = random_tensor(s[0], dt, test::Domain::any, seed);
      int d = wrap_dim(dim, s[0].size(), "test");
      return std::vector<Tensor>{x, rand_index(s[1], s[0][d], seed + 1)};
    };
    row.run = [dim](const std::vector<Tensor>& in) { return index_select(in[0], dim, in[1]); };
    row.ref = [dim](const std::vector<Ref>& in) {
      return ref_index_select(in[0], wrap_dim(dim, in[0].shape.size(), "ref"), in[1]);
    };
    row.differentiable = true;
    r.push_back(row);
  }
  {
    OpRow row;
    row.name = "gather_dim1";
    row.cases = {{{4, 0}, {4, 0}}, {{1, 1}, {1, 1}}, {{5, 7}, {3, 11}}, {{6, 5, 3}, {6, 13, 2}}, {{30, 50}, {30, 70}}};
    row.dtypes = kAllDTypes;
    row.make = [](const std::vector<Shape>& s, DType dt, uint64_t seed) {
      Tensor x = random_tensor(s[0], dt, test::Domain::any, seed);
      return std::vector<Tensor>{x, rand_index(s[1], s[0][1], seed + 1)};
    };
    row.run = [](const std::vector<Tensor>& in) { return gather(in[0], 1, in[1]); };
    row.ref = [](const std::vector<Ref>& in) { return ref_gather(in[0], 1, in[1]); };
    row.differentiable = true;
    r.push_back(row);
  }
  {
    OpRow row;
    row.name = "take_along_dim_broadcast";
    row.cases = {{{1, 7}, {5, 3}}, {{4, 6}, {1, 2}}, {{3, 1, 5}, {1, 4, 2}}};
    row.make = [](const std::vector<Shape>& s, DType dt, uint64_t seed) {
      Tensor x = random_tensor(s[0], dt, test::Domain::any, seed);
      return std::vector<Tensor>{x, rand_index(s[1], s[0].back(), seed + 1)};
    };
    row.run = [](const std::vector<Tensor>& in) { return take_along_dim(in[0], in[1], -1); };
    row.ref = [](const std::vector<Ref>& in) {
      // Broadcast all dims but the last, then gather.
      Shape b = in[0].shape, xi = in[1].shape;
      Shape o = b;
      for (int a = 0; a + 1 < b.size(); ++a) o[a] = std::max(b[a], xi[a]);
      o.back() = xi.back();
      Ref out(o);
      int64_t k = 0;
      each_index(o, [&](const std::vector<int64_t>& i) {
        auto ii = i, xx = i;
        for (int a = 0; a + 1 < o.size(); ++a) {
          ii[size_t(a)] = xi[a] == 1 ? 0 : i[size_t(a)];
          xx[size_t(a)] = b[a] == 1 ? 0 : i[size_t(a)];
        }
        xx.back() = wrap(in[1].v[size_t(in[1].index(ii))], b.back());
        out.v[size_t(k++)] = in[0].v[size_t(in[0].index(xx))];
      });
      return out;
    };
    row.differentiable = true;
    r.push_back(row);
  }
  for (int kind = 0; kind < 3; ++kind) {  // scatter src, scatter value, scatter_add
    OpRow row;
    row.name = kind == 0 ? "scatter_src" : kind == 1 ? "scatter_value" : "scatter_add";
    row.cases = {{{3, 0}, {2, 0}, {2, 0}},     {{1, 1}, {1, 1}, {1, 1}},      {{7, 5}, {11, 5}, {11, 6}},
                 {{4, 9, 3}, {13, 2, 3}, {13, 2, 3}}, {{50, 40}, {200, 40}, {200, 40}}};
    row.dtypes = kind == 2 ? std::vector<DType>{DType::f32, DType::f64, DType::i64, DType::i32} : kAllDTypes;
    row.make = [](const std::vector<Shape>& s, DType dt, uint64_t seed) {
      return std::vector<Tensor>{random_tensor(s[0], dt, test::Domain::any, seed), rand_index(s[1], s[0][0], seed + 1),
                                 random_tensor(s[2], dt, test::Domain::any, seed + 2)};
    };
    row.run = [kind](const std::vector<Tensor>& in) {
      if (kind == 0) return scatter(in[0], 0, in[1], in[2]);
      if (kind == 1) return scatter(in[0], 0, in[1], Scalar(1.0));
      return scatter_add(in[0], 0, in[1], in[2]);
    };
    row.ref = [kind](const std::vector<Ref>& in) {
      if (kind == 1) return ref_scatter(in[0], 0, in[1], Ref(in[1].shape, std::vector<double>(in[1].v.size(), 1.0)), false);
      return ref_scatter(in[0], 0, in[1], in[2], kind == 2);
    };
    row.differentiable = kind != 1;
    r.push_back(row);
  }
  for (double alpha : {1.0, 2.5}) {
    OpRow row;
    row.name = alpha == 1.0 ? "index_add_dim1" : "index_add_alpha";
    row.cases = {{{3, 0}, {0}, {3, 0}}, {{1, 1}, {1}, {1, 1}}, {{5, 7, 3}, {13}, {5, 13, 3}},
                 {{4, 31}, {100}, {4, 100}}, {{20, 60, 17}, {90}, {20, 90, 17}}};
    row.dtypes = alpha == 1.0 ? std::vector<DType>{DType::f32, DType::f64, DType::i64, DType::i32, DType::f16, DType::bf16}
                              : std::vector<DType>{DType::f32, DType::f64};
    if (alpha == 1.0) row.tol = test::Tol{2e-2, 2e-2};  // 16-bit floats round once per destination
    row.make = [](const std::vector<Shape>& s, DType dt, uint64_t seed) {
      return std::vector<Tensor>{random_tensor(s[0], dt, test::Domain::any, seed), rand_index(s[1], s[0][1], seed + 1),
                                 random_tensor(s[2], dt, test::Domain::any, seed + 2)};
    };
    row.run = [alpha](const std::vector<Tensor>& in) {
      return alpha == 1.0 ? index_add(in[0], 1, in[1], in[2]) : index_add(in[0], 1, in[1], in[2], alpha);
    };
    row.ref = [alpha](const std::vector<Ref>& in) { return ref_index_add(in[0], 1, in[1], in[2], alpha); };
    row.differentiable = true;
    r.push_back(row);
  }
  for (bool acc : {false, true}) {
    OpRow row;
    row.name = acc ? "index_put_accumulate" : "index_put";
    // x, index 0, index 1 (broadcast with index 0), values
    row.cases = {{{4, 5}, {0}, {1}, {0}},       {{1, 1}, {1}, {1}, {1}},          {{6, 7}, {9}, {9}, {9}},
                 {{5, 6, 3}, {4, 1}, {1, 7}, {7, 3}}, {{40, 30, 2}, {500}, {1}, {500, 2}}};
    row.dtypes = acc ? std::vector<DType>{DType::f32, DType::f64, DType::i64, DType::i32} : kAllDTypes;
    row.make = [](const std::vector<Shape>& s, DType dt, uint64_t seed) {
      return std::vector<Tensor>{random_tensor(s[0], dt, test::Domain::any, seed), rand_index(s[1], s[0][0], seed + 1),
                                 rand_index(s[2], s[0][1], seed + 2), random_tensor(s[3], dt, test::Domain::any, seed + 3)};
    };
    row.run = [acc](const std::vector<Tensor>& in) { return index_put(in[0], {in[1], in[2]}, in[3], acc); };
    row.ref = [acc](const std::vector<Ref>& in) {
      Ref o = in[0];
      Shape b = broadcast_shapes(in[1].shape, in[2].shape, "ref");
      Shape rest;
      for (int a = 2; a < o.shape.size(); ++a) rest.push_back(o.shape[a]);
      Shape vs = b;
      for (int64_t s : rest) vs.push_back(s);
      each_index(vs, [&](const std::vector<int64_t>& i) {
        std::vector<int64_t> bi(i.begin(), i.begin() + b.size());
        auto pick = [&](const Ref& t) {
          std::vector<int64_t> ti;
          for (int a = 0; a < t.shape.size(); ++a) {
            int off = b.size() - t.shape.size();
            ti.push_back(t.shape[a] == 1 ? 0 : bi[size_t(a + off)]);
          }
          return t.v[size_t(t.index(ti))];
        };
        std::vector<int64_t> xi{wrap(pick(in[1]), o.shape[0]), wrap(pick(in[2]), o.shape[1])};
        xi.insert(xi.end(), i.begin() + b.size(), i.end());
        std::vector<int64_t> vi;
        int off = vs.size() - in[3].shape.size();
        for (int a = 0; a < in[3].shape.size(); ++a) vi.push_back(in[3].shape[a] == 1 ? 0 : i[size_t(a + off)]);
        double v = in[3].v[size_t(in[3].index(vi))];
        double& t = o.v[size_t(o.index(xi))];
        t = acc ? t + v : v;
      });
      return o;
    };
    row.differentiable = true;
    r.push_back(row);
  }
  {
    OpRow row;
    row.name = "masked_fill_broadcast";
    row.cases = {{{0, 3}, {3}}, {{1}, {1}}, {{7, 5}, {7, 5}}, {{4, 5}, {5}}, {{3, 1}, {3, 4}}, {{37, 41}, {37, 41}}};
    row.dtypes = kAllDTypes;
    row.make = [](const std::vector<Shape>& s, DType dt, uint64_t seed) {
      return std::vector<Tensor>{random_tensor(s[0], dt, test::Domain::any, seed),
                                 random_tensor(s[1], DType::b8, test::Domain::any, seed + 1)};
    };
    row.run = [](const std::vector<Tensor>& in) { return masked_fill(in[0], in[1], Scalar(1.0)); };
    row.ref = [](const std::vector<Ref>& in) {
      return test::ref_zip(in[0], in[1], [](double x, double m) { return m != 0 ? 1.0 : x; });
    };
    row.differentiable = true;
    r.push_back(row);
  }
  {
    OpRow row;
    row.name = "masked_select";
    row.cases = {{{0, 3}, {3}}, {{1}, {1}}, {{7, 5}, {7, 5}}, {{4, 5}, {5}}, {{3, 1}, {3, 4}}, {{300, 401}, {300, 401}}};
    row.dtypes = kAllDTypes;
    row.make = [](const std::vector<Shape>& s, DType dt, uint64_t seed) {
      return std::vector<Tensor>{random_tensor(s[0], dt, test::Domain::any, seed),
                                 random_tensor(s[1], DType::b8, test::Domain::any, seed + 1)};
    };
    row.run = [](const std::vector<Tensor>& in) { return masked_select(in[0], in[1]); };
    row.ref = [](const std::vector<Ref>& in) {
      Ref x = test::ref_zip(in[0], in[1], [](double x, double) { return x; });
      Ref m = test::ref_zip(in[0], in[1], [](double, double m) { return m; });
      std::vector<double> v;
      for (size_t i = 0; i < x.v.size(); ++i)
        if (m.v[i] != 0) v.push_back(x.v[i]);
      return Ref(Shape{int64_t(v.size())}, v);
    };
    row.differentiable = true;
    r.push_back(row);
  }
  {
    OpRow row;
    row.name = "nonzero";
    row.cases = {{{0}}, {{1}}, {{7}}, {{5, 3}}, {{2, 3, 5}}, {{300, 700}}};
    row.dtypes = kAllDTypes;
    row.make = [](const std::vector<Shape>& s, DType dt, uint64_t seed) {
      // About half zeros, in every dtype.
      Tensor m = random_tensor(s[0], DType::b8, test::Domain::any, seed);
      Tensor x = random_tensor(s[0], dt, test::Domain::nonzero, seed + 1);
      return std::vector<Tensor>{masked_fill(x, m, Scalar(0))};
    };
    row.run = [](const std::vector<Tensor>& in) { return nonzero(in[0]); };
    row.ref = [](const std::vector<Ref>& in) {
      std::vector<double> v;
      int64_t k = 0, count = 0;
      each_index(in[0].shape, [&](const std::vector<int64_t>& i) {
        if (in[0].v[size_t(k++)] != 0) {
          for (int64_t c : i) v.push_back(double(c));
          ++count;
        }
      });
      return Ref(Shape{count, int64_t(in[0].shape.size())}, v);
    };
    r.push_back(row);
  }
  {
    OpRow row;
    row.name = "one_hot";
    row.cases = {{{0}}, {{1}}, {{7}}, {{5, 3}}, {{1000}}};
    row.dtypes = {DType::i64, DType::i32};
    row.make = [](const std::vector<Shape>& s, DType dt, uint64_t seed) {
      return std::vector<Tensor>{rand_index(s[0], 6, seed, false, dt)};
    };
    row.run = [](const std::vector<Tensor>& in) { return one_hot(in[0], 6); };
    row.ref = [](const std::vector<Ref>& in) {
      Shape s = in[0].shape;
      s.push_back(6);
      Ref o(s);
      for (size_t i = 0; i < in[0].v.size(); ++i) o.v[i * 6 + size_t(in[0].v[i])] = 1;
      return o;
    };
    r.push_back(row);
  }
  {
    OpRow row;
    row.name = "embedding";
    row.cases = {{{5, 3}, {0}}, {{1, 1}, {1}}, {{11, 7}, {4, 3}}, {{50, 33}, {2, 5, 7}}, {{100, 64}, {300}}};
    row.dtypes = {DType::f32, DType::f64, DType::f16, DType::bf16};
    row.make = [](const std::vector<Shape>& s, DType dt, uint64_t seed) {
      return std::vector<Tensor>{random_tensor(s[0], dt, test::Domain::any, seed), rand_index(s[1], s[0][0], seed + 1, false)};
    };
    row.run = [](const std::vector<Tensor>& in) { return embedding(in[0], in[1]); };
    row.ref = [](const std::vector<Ref>& in) {
      int64_t D = in[0].shape[1];
      Shape s = in[1].shape;
      s.push_back(D);
      Ref o(s);
      for (size_t i = 0; i < in[1].v.size(); ++i)
        for (int64_t k = 0; k < D; ++k) o.v[i * size_t(D) + size_t(k)] = in[0].v[size_t(in[1].v[i]) * size_t(D) + size_t(k)];
      return o;
    };
    row.differentiable = true;
    r.push_back(row);
  }
  for (int64_t pad_idx : {-1, 2}) {
    OpRow row;
    row.name = pad_idx < 0 ? "embedding_backward" : "embedding_backward_padding";
    // dout, index; V = 7
    row.cases = {{{0, 3}, {0}}, {{1, 1}, {1}}, {{4, 3, 5}, {4, 3}}, {{300, 17}, {300}}};
    row.make = [](const std::vector<Shape>& s, DType dt, uint64_t seed) {
      return std::vector<Tensor>{random_tensor(s[0], dt, test::Domain::any, seed), rand_index(s[1], 7, seed + 1, false)};
    };
    row.run = [pad_idx](const std::vector<Tensor>& in) { return embedding_backward(in[0], in[1], 7, pad_idx); };
    row.ref = [pad_idx](const std::vector<Ref>& in) {
      int64_t D = in[0].shape.back();
      Ref o(Shape{7, D});
      for (size_t i = 0; i < in[1].v.size(); ++i)
        for (int64_t k = 0; k < D; ++k)
          if (int64_t(in[1].v[i]) != pad_idx) o.v[size_t(in[1].v[i]) * size_t(D) + size_t(k)] += in[0].v[i * size_t(D) + size_t(k)];
      return o;
    };
    r.push_back(row);
  }
  return r;
}

test::OpRegistrar reg(rows());

// ---- examples checked against PyTorch by hand
TEST(Indexing, ExamplesMatchPyTorch) {
  Tensor x = arange(12).reshape({3, 4});
  EXPECT_TRUE(tensors_equal(index_select(x, 1, tensor({3, 0}, DType::i64)), tensor({{3, 0}, {7, 4}, {11, 8}})));
  EXPECT_TRUE(tensors_equal(index_select(x, 0, tensor({-1}, DType::i32)), tensor({{8, 9, 10, 11}})));
  EXPECT_TRUE(tensors_equal(gather(x, 1, tensor({{0, 0}, {1, 0}, {3, 2}}, DType::i64)),
                            tensor({{0, 0}, {5, 4}, {11, 10}})));
  // scatter with repeated indices: the last write wins.
  Tensor s = scatter(zeros({2, 3}), 1, tensor({{0, 0}, {2, 1}}, DType::i64), tensor({{1, 2}, {3, 4}}));
  EXPECT_TRUE(tensors_equal(s, tensor({{2, 0, 0}, {0, 4, 3}})));
  Tensor sa = scatter_add(zeros({2, 3}), 1, tensor({{0, 0}, {2, 1}}, DType::i64), tensor({{1, 2}, {3, 4}}));
  EXPECT_TRUE(tensors_equal(sa, tensor({{3, 0, 0}, {0, 4, 3}})));
  Tensor ia = index_add(ones({3, 2}), 0, tensor({2, 0, 2}, DType::i64), tensor({{1, 1}, {2, 2}, {3, 3}}), 2);
  EXPECT_TRUE(tensors_equal(ia, tensor({{5, 5}, {1, 1}, {9, 9}})));
  Tensor ip = index_put(zeros({3, 3}), {tensor({0, 2, 0}, DType::i64), tensor({1, 1, 1}, DType::i64)}, tensor({1, 2, 3}), true);
  EXPECT_TRUE(tensors_equal(ip, tensor({{0, 4, 0}, {0, 0, 0}, {0, 2, 0}})));
  // A bool mask as an index: x[mask] = v.
  Tensor masked = index_put(arange(4).reshape({2, 2}), {tensor({{1, 0}, {0, 1}}, DType::b8)}, scalar_tensor(-1.0, DType::f32));
  EXPECT_TRUE(tensors_equal(masked, tensor({{-1, 1}, {2, -1}})));
  EXPECT_TRUE(tensors_equal(index(x, {tensor({2, 0}, DType::i64)}), tensor({{8, 9, 10, 11}, {0, 1, 2, 3}})));
  EXPECT_TRUE(tensors_equal(index(x, {tensor({2, 0}, DType::i64), tensor({-1, 1}, DType::i64)}), tensor({11, 1})));
  EXPECT_TRUE(tensors_equal(nonzero(tensor({{0, 1}, {2, 0}})), tensor({{0, 1}, {1, 0}}, DType::i64)));
  EXPECT_EQ(nonzero(scalar_tensor(3.0, DType::f32)).shape(), Shape({1, 0}));
  EXPECT_TRUE(tensors_equal(one_hot(tensor({2, 0}, DType::i64)), tensor({{0, 0, 1}, {1, 0, 0}}, DType::i64)));
  EXPECT_TRUE(tensors_equal(masked_select(x, tensor({1, 0, 0, 1}, DType::b8)), tensor({0, 3, 4, 7, 8, 11})));
  EXPECT_TRUE(tensors_equal(masked_fill(tensor({1, 2, 3}, DType::i32), tensor({0, 1, 0}, DType::b8), Scalar(7.9)),
                            tensor({1, 7, 3}, DType::i32)));
}

TEST(Indexing, InPlaceVariantsWriteThroughViews) {
  Tensor base = zeros({3, 4});
  Tensor v = base.t();  // non-contiguous [4, 3]
  scatter_(v, 0, tensor({{1, 2, 3}}, DType::i64), Scalar(5.0));
  EXPECT_TRUE(tensors_equal(base, tensor({{0, 5, 0, 0}, {0, 0, 5, 0}, {0, 0, 0, 5}})));
  uint64_t ver = base.version();
  index_add_(v, 1, tensor({0}, DType::i64), ones({4, 1}));
  EXPECT_GT(base.version(), ver);
  EXPECT_TRUE(tensors_equal(base.select(0, 0), tensor({1, 6, 1, 1})));
  masked_fill_(v, tensor({1, 0, 0}, DType::b8), Scalar(-1.0));
  EXPECT_TRUE(tensors_equal(base.select(0, 0), tensor({-1, -1, -1, -1})));
  index_put_(v, {tensor({3}, DType::i64), tensor({2}, DType::i64)}, scalar_tensor(9.0, DType::f32));
  EXPECT_EQ(base.select(0, 2).select(0, 3).item<float>(), 9.0f);
  scatter_add_(v, 1, full({1, 1}, Scalar(2), DType::i64), full({1, 1}, Scalar(10.0)));
  EXPECT_EQ(base.select(0, 2).select(0, 0).item<float>(), 10.0f);
}

// ---- determinism: bit-identical results for 1, 2 and 3 threads
template <class F>
void expect_same_for_thread_counts(F&& f) {
  int saved = cpu::num_threads();
  std::vector<std::vector<float>> results;
  for (int t : {1, 2, 3}) {
    cpu::set_num_threads(t);
    results.push_back(f().template to_vector<float>());
  }
  cpu::set_num_threads(saved);
  for (size_t i = 1; i < results.size(); ++i) {
    ASSERT_EQ(results[i].size(), results[0].size());
    EXPECT_EQ(std::memcmp(results[i].data(), results[0].data(), results[0].size() * sizeof(float)), 0)
        << "thread count " << i + 1 << " differs from 1 thread";
  }
}

TEST(Indexing, AccumulationIsDeterministicAcrossThreadCounts) {
  // Many sources per destination and values of very different magnitudes, so that any change of
  // summation order would change the float result.
  std::mt19937_64 g(7);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  const float scales[3] = {1e-4f, 1.0f, 1e4f};
  std::vector<float> v(20000 * 24);
  for (auto& e : v) e = u(g) * scales[g() % 3];
  Tensor src = from_vector(v, {20000, 24});
  Tensor idx = rand_index({20000}, 50, 10, false);
  expect_same_for_thread_counts([&] { return index_add(zeros({50, 24}), 0, idx, src); });
  expect_same_for_thread_counts([&] { return embedding_backward(src.reshape({100, 200, 24}), idx.reshape({100, 200}), 50); });
  Tensor sidx = rand_index({20000, 24}, 50, 11, false);
  expect_same_for_thread_counts([&] { return scatter_add(zeros({50, 24}), 0, sidx, src); });
  expect_same_for_thread_counts([&] {
    return index_put(zeros({50, 24}), {idx}, src, true);
  });
  // and the sums are right
  Tensor e = embedding_backward(ones({6, 2}), tensor({1, 3, 1, 1, 0, 3}, DType::i64), 5);
  EXPECT_TRUE(tensors_equal(e, tensor({{1, 1}, {3, 3}, {0, 0}, {2, 2}, {0, 0}})));
}

// ---- misuse
TEST(Indexing, MisuseIsAClearError) {
  Tensor x = zeros({3, 4});
  EXPECT_KILN_ERROR(index_select(x, 0, tensor({0, 3}, DType::i64)),
                    "index 3 at position [1] is out of range for dimension 0 of size 3 (valid range [-3, 2])");
  EXPECT_KILN_ERROR(index_select(x, 1, tensor({-5}, DType::i64)), "index -5 at position [0]");
  EXPECT_KILN_ERROR(index_select(x, 0, tensor({0.0})), "must be an integer tensor of dtype i64 or i32, got f32");
  EXPECT_KILN_ERROR(index_select(x, 2, tensor({0}, DType::i64)), "dimension 2 out of range");
  EXPECT_KILN_ERROR(gather(x, 1, tensor({0, 1}, DType::i64)), "index has 1 dimensions");
  EXPECT_KILN_ERROR(gather(x, 1, zeros({4, 1}, DType::i64)), "index has size 4 in dimension 0 but x has only 3");
  EXPECT_KILN_ERROR(gather(x, 1, full({1, 2}, Scalar(4), DType::i64)), "index 4 at position [0, 0]");
  EXPECT_KILN_ERROR(scatter(x, 0, zeros({1, 4}, DType::i64), zeros({1, 4}, DType::f64)), "src has dtype f64");
  EXPECT_KILN_ERROR(scatter_add(x, 0, full({1, 4}, Scalar(-4), DType::i64), zeros({1, 4})), "index -4 at position [0, 0]");
  EXPECT_KILN_ERROR(scatter_(zeros({3}).expand({2, 3}), 0, zeros({1, 3}, DType::i64), Scalar(1.0)), "expanded view");
  EXPECT_KILN_ERROR(index_add(x, 0, tensor({0}, DType::i64), zeros({2, 4})), "does not match x of shape [3, 4]");
  EXPECT_KILN_ERROR(index_add(zeros({3}, DType::i64), 0, tensor({0}, DType::i64), zeros({1}, DType::i64), 0.5),
                    "floating-point");
  EXPECT_KILN_ERROR(index_put(x, {tensor({0, 1}, DType::i64), tensor({0, 1, 2}, DType::i64)}, zeros({})),
                    "cannot be broadcast");
  EXPECT_KILN_ERROR(index_put(x, {tensor({7}, DType::i64)}, zeros({})), "index 7 at position [0]");
  EXPECT_KILN_ERROR(masked_fill(x, zeros({4}), Scalar(1.0)), "mask must have dtype bool");
  EXPECT_KILN_ERROR(masked_fill_(zeros({4}), zeros({3, 4}, DType::b8), Scalar(1.0)), "does not broadcast");
  EXPECT_KILN_ERROR(one_hot(tensor({0, 3}, DType::i64), 3), "index 3 at position [1] is out of range for 3 classes");
  EXPECT_KILN_ERROR(one_hot(tensor({-1}, DType::i64), 3), "valid range [0, 2]");
  EXPECT_KILN_ERROR(one_hot(zeros({0}, DType::i64)), "cannot infer");
  EXPECT_KILN_ERROR(embedding(zeros({5, 2}), tensor({5}, DType::i64)), "index 5 at position [0]");
  EXPECT_KILN_ERROR(embedding(zeros({5, 2}), tensor({-1}, DType::i64)), "valid range [0, 4]");
  EXPECT_KILN_ERROR(embedding(zeros({5}), tensor({0}, DType::i64)), "weight must be 2-d");
  EXPECT_KILN_ERROR(embedding_backward(zeros({2, 3}), tensor({0, 1, 2}, DType::i64), 4), "must be the index shape");
  EXPECT_KILN_ERROR(index_select(zeros({0, 2}), 0, tensor({0}, DType::i64)), "is empty, no index is valid");
}

}  // namespace
}  // namespace kiln
