// Shape ops: op-table rows (float64 loop references), PyTorch golden fixtures for pad, examples
// and misuse errors.
#include "support/op_table.h"

namespace kiln {
namespace {
using test::OpRow;
using test::Ref;
using test::tensors_close;
using test::tensors_equal;

using test::kAllDTypes;

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

// Builds out of `shape` by looking each output element up in `in`: src(i) returns the input
// multi-index of output index i, or an empty vector for `fill`.
Ref ref_lookup(const Shape& shape, const Ref& in, const std::function<std::vector<int64_t>(std::vector<int64_t>)>& src,
               double fill = 0) {
  Ref o(shape);
  int64_t k = 0;
  each_index(shape, [&](const std::vector<int64_t>& i) {
    auto j = src(i);
    o.v[size_t(k++)] = j.empty() ? fill : in.v[size_t(in.index(j))];
  });
  return o;
}

Ref ref_cat(const std::vector<Ref>& in, int d) {
  Shape s = in[0].shape;
  s[d] = 0;
  for (auto& r : in) s[d] += r.shape[d];
  Ref o(s);
  int64_t k = 0;
  each_index(s, [&](const std::vector<int64_t>& i) {
    auto j = i;
    size_t t = 0;
    while (j[size_t(d)] >= in[t].shape[d]) j[size_t(d)] -= in[t++].shape[d];
    o.v[size_t(k++)] = in[t].v[size_t(in[t].index(j))];
  });
  return o;
}

Ref ref_pad(const Ref& x, const std::vector<int64_t>& pads, PadMode mode, double value) {
  Shape s = x.shape;
  int nd = s.size();
  for (size_t j = 0; j < pads.size() / 2; ++j) s[nd - 1 - int(j)] += pads[2 * j] + pads[2 * j + 1];
  return ref_lookup(s, x, [&](std::vector<int64_t> i) {
    for (size_t j = 0; j < pads.size() / 2; ++j) {
      int a = nd - 1 - int(j);
      int64_t n = x.shape[a], c = i[size_t(a)] - pads[2 * j];
      if (c < 0 || c >= n) {
        if (mode == PadMode::constant) return std::vector<int64_t>{};
        if (mode == PadMode::reflect) c = c < 0 ? -c : 2 * (n - 1) - c;
        if (mode == PadMode::replicate) c = c < 0 ? 0 : n - 1;
        if (mode == PadMode::circular) c = c < 0 ? c + n : c - n;
      }
      i[size_t(a)] = c;
    }
    return i;
  }, value);
}

std::vector<OpRow> rows() {
  std::vector<OpRow> r;
  {
    OpRow row;
    row.name = "cat_dim0";
    row.cases = {{{0, 3}, {2, 3}}, {{1}, {1}}, {{2, 3}, {5, 3}}, {{7, 3, 2}, {0, 3, 2}}, {{40, 50}, {31, 50}}};
    row.dtypes = kAllDTypes;
    row.run = [](const std::vector<Tensor>& in) { return cat({in[0], in[1]}, 0); };
    row.ref = [](const std::vector<Ref>& in) { return ref_cat(in, 0); };
    row.differentiable = true;
    r.push_back(row);
  }
  {
    OpRow row;
    row.name = "cat3_dim_neg1";
    row.cases = {{{3, 2}, {3, 5}, {3, 0}}, {{1}, {1}, {1}}, {{2, 7, 13}, {2, 7, 1}, {2, 7, 3}}, {{30, 17}, {30, 41}, {30, 9}}};
    row.dtypes = kAllDTypes;
    row.run = [](const std::vector<Tensor>& in) { return cat(in, -1); };
    row.ref = [](const std::vector<Ref>& in) { return ref_cat(in, int(in[0].shape.size()) - 1); };
    row.differentiable = true;
    r.push_back(row);
  }
  {
    OpRow row;
    row.name = "stack_dim1";
    row.cases = {{{0, 3}, {0, 3}}, {{1}, {1}}, {{5, 3}, {5, 3}}, {{7, 11, 2}, {7, 11, 2}}, {{40, 50}, {40, 50}}};
    row.dtypes = kAllDTypes;
    row.run = [](const std::vector<Tensor>& in) { return stack({in[0], in[1]}, 1); };
    row.ref = [](const std::vector<Ref>& in) {
      Shape s = in[0].shape;
      s.insert(1, 2);
      Ref o(s);
      int64_t k = 0;
      each_index(s, [&](const std::vector<int64_t>& i) {
        auto j = i;
        j.erase(j.begin() + 1);
        o.v[size_t(k++)] = in[size_t(i[1])].v[size_t(in[0].index(j))];
      });
      return o;
    };
    row.differentiable = true;
    r.push_back(row);
  }
  {
    OpRow row;  // the middle piece of split(x, 3, -1) and of chunk(x, 3, 0)
    row.name = "split_chunk_pieces";
    row.cases = {{{3, 6}}, {{4, 7}}, {{9, 13}}, {{60, 100}}};
    row.dtypes = kAllDTypes;
    row.run = [](const std::vector<Tensor>& in) {
      return cat({split(in[0], 3, -1)[1], chunk(in[0], 3, 0)[1].narrow(1, 0, 3)}, 0);
    };
    row.ref = [](const std::vector<Ref>& in) {
      int64_t n0 = in[0].shape[0], c = (n0 + 2) / 3;
      Ref a = ref_lookup({n0, 3}, in[0], [](std::vector<int64_t> i) { return std::vector<int64_t>{i[0], i[1] + 3}; });
      Ref b = ref_lookup({std::min<int64_t>(c, n0 - c), 3}, in[0], [&](std::vector<int64_t> i) {
        return std::vector<int64_t>{i[0] + c, i[1]};
      });
      return ref_cat({a, b}, 0);
    };
    r.push_back(row);
  }
  struct PadCase {
    const char* name;
    PadMode mode;
    std::vector<int64_t> pads;
  };
  for (const PadCase& pc : {PadCase{"pad_constant", PadMode::constant, {2, -1, 0, 3}},
                            PadCase{"pad_reflect_1d", PadMode::reflect, {2, 3}},
                            PadCase{"pad_reflect_2d", PadMode::reflect, {1, 2, 2, 0}},
                            PadCase{"pad_replicate_3d", PadMode::replicate, {1, 2, 0, 3, 2, 1}},
                            PadCase{"pad_circular_2d", PadMode::circular, {3, 1, 0, 2}}}) {
    OpRow row;
    row.name = pc.name;
    bool three = pc.pads.size() == 6;
    row.cases = three ? std::vector<std::vector<Shape>>{{{4, 3, 5}}, {{2, 5, 7, 11}}, {{2, 3, 20, 30}}}
                      : std::vector<std::vector<Shape>>{{{0, 4, 5}}, {{1, 4, 4}}, {{3, 5, 7}}, {{2, 3, 13, 11}}, {{4, 40, 50}}};
    row.dtypes = kAllDTypes;
    PadMode mode = pc.mode;
    std::vector<int64_t> pads = pc.pads;
    row.run = [mode, pads](const std::vector<Tensor>& in) { return pad(in[0], pads, mode, 1.0); };
    row.ref = [mode, pads](const std::vector<Ref>& in) { return ref_pad(in[0], pads, mode, 1.0); };
    row.differentiable = true;
    r.push_back(row);
  }
  {
    OpRow row;
    row.name = "flip_0_neg1";
    row.cases = {{{0, 3}}, {{1, 1}}, {{5, 3}}, {{7, 2, 13}}, {{40, 51}}};
    row.dtypes = kAllDTypes;
    row.run = [](const std::vector<Tensor>& in) { return flip(in[0], {0, -1}); };
    row.ref = [](const std::vector<Ref>& in) {
      const Shape& s = in[0].shape;
      return ref_lookup(s, in[0], [&](std::vector<int64_t> i) {
        i[0] = s[0] - 1 - i[0];
        i.back() = s.back() - 1 - i.back();
        return i;
      });
    };
    row.differentiable = true;
    r.push_back(row);
  }
  {
    OpRow row;
    row.name = "roll_dims";
    row.cases = {{{0, 3}}, {{1, 1}}, {{5, 3}}, {{7, 2, 13}}, {{40, 51}}};
    row.dtypes = kAllDTypes;
    row.run = [](const std::vector<Tensor>& in) { return roll(in[0], {2, -4}, {0, -1}); };
    row.ref = [](const std::vector<Ref>& in) {
      const Shape& s = in[0].shape;
      return ref_lookup(s, in[0], [&](std::vector<int64_t> i) {
        auto m = [](int64_t a, int64_t n) { return ((a % n) + n) % n; };
        i[0] = m(i[0] - 2, s[0]);
        i.back() = m(i.back() + 4, s.back());
        return i;
      });
    };
    row.differentiable = true;
    r.push_back(row);
  }
  {
    OpRow row;
    row.name = "roll_flat";
    row.cases = {{{0}}, {{1}}, {{5, 3}}, {{7, 2, 13}}};
    row.dtypes = kAllDTypes;
    row.run = [](const std::vector<Tensor>& in) { return roll(in[0], {5}); };
    row.ref = [](const std::vector<Ref>& in) {
      Ref o(in[0].shape);
      int64_t n = in[0].numel();
      for (int64_t i = 0; i < n; ++i) o.v[size_t((i + 5) % n)] = in[0].v[size_t(i)];
      return o;
    };
    row.differentiable = true;
    r.push_back(row);
  }
  for (int64_t k : {0, 2, -1}) {
    for (bool lower : {true, false}) {
      OpRow row;
      row.name = std::string(lower ? "tril_k" : "triu_k") + std::to_string(k);
      row.cases = {{{0, 3}}, {{1, 1}}, {{5, 3}}, {{3, 5}}, {{2, 7, 13}}, {{60, 70}}};
      row.dtypes = kAllDTypes;
      row.run = [k, lower](const std::vector<Tensor>& in) { return lower ? tril(in[0], k) : triu(in[0], k); };
      row.ref = [k, lower](const std::vector<Ref>& in) {
        Ref o = in[0];
        int64_t q = 0;
        each_index(o.shape, [&](const std::vector<int64_t>& i) {
          int64_t d = i.back() - i[i.size() - 2];
          if (lower ? d > k : d < k) o.v[size_t(q)] = 0;
          ++q;
        });
        return o;
      };
      row.differentiable = true;
      r.push_back(row);
    }
  }
  {
    OpRow row;
    row.name = "repeat_2_1_3";
    row.cases = {{{0, 3}}, {{1, 1}}, {{5, 3}}, {{7, 13}}, {{40, 51}}};
    row.dtypes = kAllDTypes;
    row.run = [](const std::vector<Tensor>& in) { return repeat(in[0], {2, 1, 3}); };
    row.ref = [](const std::vector<Ref>& in) {
      const Shape& s = in[0].shape;
      return ref_lookup({2, s[0], s[1] * 3}, in[0], [&](std::vector<int64_t> i) {
        return std::vector<int64_t>{i[1], i[2] % s[1]};
      });
    };
    row.differentiable = true;
    r.push_back(row);
  }
  {
    OpRow row;
    row.name = "tile_2";
    row.cases = {{{0, 3}}, {{1, 1}}, {{5, 3}}, {{7, 3, 13}}};
    row.dtypes = kAllDTypes;
    row.run = [](const std::vector<Tensor>& in) { return tile(in[0], {2}); };
    row.ref = [](const std::vector<Ref>& in) {
      Shape s = in[0].shape;
      Shape o = s;
      o.back() *= 2;
      return ref_lookup(o, in[0], [&](std::vector<int64_t> i) {
        i.back() %= s.back();
        return i;
      });
    };
    row.differentiable = true;
    r.push_back(row);
  }
  return r;
}

test::OpRegistrar reg(rows());

TEST(ShapeOps, SplitChunkStackExamples) {
  Tensor x = arange(10);
  auto p = split(x, 4);
  ASSERT_EQ(p.size(), 3u);
  EXPECT_TRUE(tensors_equal(p[2], tensor({8, 9})));
  EXPECT_TRUE(p[1].shares_storage(x));
  auto q = split(x, std::vector<int64_t>{1, 0, 9});
  ASSERT_EQ(q.size(), 3u);
  EXPECT_EQ(q[1].numel(), 0);
  EXPECT_EQ(q[2].numel(), 9);
  // torch.chunk(arange(6), 4) gives 3 chunks of 2.
  EXPECT_EQ(chunk(arange(6), 4).size(), 3u);
  EXPECT_EQ(chunk(arange(5), 2)[1].numel(), 2);
  EXPECT_EQ(chunk(zeros({0}), 3).size(), 3u);
  EXPECT_EQ(stack({zeros({2, 3}), ones({2, 3})}, -1).shape(), Shape({2, 3, 2}));
  EXPECT_TRUE(tensors_equal(stack({tensor({1, 2}), tensor({3, 4})}), tensor({{1, 2}, {3, 4}})));
  // PyTorch's legacy rule: 1-d empty tensors are skipped.
  EXPECT_TRUE(tensors_equal(cat({zeros({0}), ones({1, 2})}), ones({1, 2})));
  EXPECT_TRUE(tensors_equal(roll(arange(12).reshape({3, 4}), {1, 1}, {1, 1}), roll(arange(12).reshape({3, 4}), {2}, {1})));
  EXPECT_TRUE(tensors_equal(tril(ones({2, 3})), tensor({{1, 0, 0}, {1, 1, 0}})));
  EXPECT_TRUE(tensors_equal(triu(ones({2, 3}), 1), tensor({{0, 1, 1}, {0, 0, 1}})));
  EXPECT_TRUE(tensors_equal(pad(tensor({1, 2, 3}), {2, 1}, PadMode::reflect), tensor({3, 2, 1, 2, 3, 2})));
  EXPECT_TRUE(tensors_equal(pad(tensor({1, 2, 3}), {-1, 2}, PadMode::constant, 9), tensor({2, 3, 9, 9})));
}

// Golden: torch.nn.functional.pad (reflect / replicate / circular) and repeat on small tensors.
TEST(ShapeOps, PadMatchesPyTorchGolden) {
  auto f = test::load_fixture("shape_ops");
  Tensor x3 = f.at("x3"), x4 = f.at("x4"), x5 = f.at("x5");
  EXPECT_TRUE(tensors_equal(pad(x3, {3, 2}, PadMode::reflect), f.at("reflect1d")));
  EXPECT_TRUE(tensors_equal(pad(x4, {1, 2, 3, 0}, PadMode::reflect), f.at("reflect2d")));
  EXPECT_TRUE(tensors_equal(pad(x3, {4, 1}, PadMode::replicate), f.at("replicate1d")));
  EXPECT_TRUE(tensors_equal(pad(x4, {2, 0, 1, 3}, PadMode::replicate), f.at("replicate2d")));
  EXPECT_TRUE(tensors_equal(pad(x5, {1, 1, 2, 0, 0, 1}, PadMode::replicate), f.at("replicate3d")));
  EXPECT_TRUE(tensors_equal(pad(x5, {1, 1, 2, 0, 1, 1}, PadMode::reflect), f.at("reflect3d")));
  EXPECT_TRUE(tensors_equal(pad(x4, {2, 1, 1, 2}, PadMode::circular), f.at("circular2d")));
  EXPECT_TRUE(tensors_equal(pad(x4, {1, -1, 2, 0}, PadMode::constant, 0.5), f.at("constant2d")));
  EXPECT_TRUE(tensors_equal(repeat(x3, {2, 1, 3}), f.at("repeat")));
}

TEST(ShapeOps, MisuseIsAClearError) {
  EXPECT_KILN_ERROR(cat({zeros({2, 3}), zeros({2, 3}, DType::f64)}), "tensor 1 has dtype f64 but tensor 0 has dtype f32");
  EXPECT_KILN_ERROR(cat({zeros({2, 3}), zeros({2, 3, 1})}), "tensor 1 has 3 dimensions");
  EXPECT_KILN_ERROR(cat({zeros({2, 3}), zeros({2, 4})}, 0), "tensor 1 has size 4 in dimension 1");
  EXPECT_KILN_ERROR(cat({}), "non-empty list");
  EXPECT_KILN_ERROR(cat({zeros({})}), "0-d");
  EXPECT_KILN_ERROR(stack({zeros({2}), zeros({3})}), "tensor 1 has shape [3]");
  EXPECT_KILN_ERROR(split(zeros({5}), std::vector<int64_t>{2, 2}), "sum to 4 but dimension 0 has size 5");
  EXPECT_KILN_ERROR(split(zeros({5}), 0), "split_size must be positive");
  EXPECT_KILN_ERROR(chunk(zeros({5}), 0), "must be positive");
  EXPECT_KILN_ERROR(pad(zeros({2, 3}), {3, 0}, PadMode::reflect), "reflect pads (3, 0) of dimension 1 must be smaller than its size 3");
  EXPECT_KILN_ERROR(pad(zeros({2, 3}), {1}, PadMode::constant), "even number");
  EXPECT_KILN_ERROR(pad(zeros({3}), {1, 1, 1, 1}), "x has only 1");
  EXPECT_KILN_ERROR(pad(zeros({3}), {-1, 0}, PadMode::replicate), "non-negative pads");
  EXPECT_KILN_ERROR(pad(zeros({0}), {1, 0}, PadMode::replicate), "non-empty input");
  EXPECT_KILN_ERROR(pad(zeros({3}), {-2, -2}), "negative size");
  EXPECT_KILN_ERROR(flip(zeros({2, 3}), {1, -1}), "appears more than once");
  EXPECT_KILN_ERROR(roll(zeros({2, 3}), {1, 2}, {0}), "2 shifts for 1 dims");
  EXPECT_KILN_ERROR(tril(zeros({3})), "at least 2 dimensions");
  EXPECT_KILN_ERROR(repeat(zeros({2, 3}), {2}), "1 repeat sizes for a tensor with 2 dimensions");
}

}  // namespace
}  // namespace kiln
