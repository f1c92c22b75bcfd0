// Pooling ops: op-table rows against f64 loop references (values, indices, backward), golden
// fixtures from torch (ceil_mode, padding, dilation, count_include_pad, divisor_override,
// non-divisible adaptive sizes, autograd gradients), misuse.
#include <cmath>

#include "kiln/kernels/cpu/isa.h"
#include "support/op_table.h"

namespace kiln::test {
namespace {

using I2 = std::array<int64_t, 2>;

struct PoolCfg {
  I2 k, s, p, d;
  bool ceil = false, cip = true;
  int64_t div = 0;
};

int64_t out_size(int64_t in, int64_t k, int64_t s, int64_t p, int64_t d, bool ceil) {
  const int64_t num = in + 2 * p - d * (k - 1) - 1;
  int64_t o = (ceil ? (num + s - 1) / s : num / s) + 1;
  if (ceil && (o - 1) * s >= in + p) --o;
  return o;
}

Shape pooled(const Shape& in, int64_t oh, int64_t ow) {
  Shape s = in;
  s[s.size() - 2] = oh;
  s[s.size() - 1] = ow;
  return s;
}
Shape pooled(const Shape& in, const PoolCfg& c) {
  return pooled(in, out_size(in[in.size() - 2], c.k[0], c.s[0], c.p[0], c.d[0], c.ceil),
                out_size(in[in.size() - 1], c.k[1], c.s[1], c.p[1], c.d[1], c.ceil));
}

// A window visitor over the planes of an NCHW / CHW reference: fn(plane, oh, ow, list of flat
// in-plane positions) for every output.
template <class Fn>
void for_windows(const Shape& in, int64_t OH, int64_t OW, const std::function<std::vector<int64_t>(int64_t, int64_t)>& win,
                 Fn&& fn) {
  const int64_t H = in[in.size() - 2], W = in[in.size() - 1];
  const int64_t P = H * W > 0 ? in.numel() / (H * W) : 0;
  for (int64_t p = 0; p < P; ++p)
    for (int64_t oh = 0; oh < OH; ++oh)
      for (int64_t ow = 0; ow < OW; ++ow) fn(p, oh, ow, win(oh, ow));
}

std::function<std::vector<int64_t>(int64_t, int64_t)> sliding(const Shape& in, const PoolCfg& c) {
  const int64_t H = in[in.size() - 2], W = in[in.size() - 1];
  return [=](int64_t oh, int64_t ow) {
    std::vector<int64_t> pos;
    for (int64_t i = 0; i < c.k[0]; ++i)
      for (int64_t j = 0; j < c.k[1]; ++j) {
        const int64_t ih = oh * c.s[0] - c.p[0] + i * c.d[0], iw = ow * c.s[1] - c.p[1] + j * c.d[1];
        if (ih >= 0 && ih < H && iw >= 0 && iw < W) pos.push_back(ih * W + iw);
      }
    return pos;
  };
}

std::function<std::vector<int64_t>(int64_t, int64_t)> adaptive(const Shape& in, int64_t OH, int64_t OW) {
  const int64_t H = in[in.size() - 2], W = in[in.size() - 1];
  return [=](int64_t oh, int64_t ow) {
    std::vector<int64_t> pos;
    const int64_t h0 = int64_t(std::floor(double(oh * H) / OH)), h1 = int64_t(std::ceil(double((oh + 1) * H) / OH));
    const int64_t w0 = int64_t(std::floor(double(ow * W) / OW)), w1 = int64_t(std::ceil(double((ow + 1) * W) / OW));
    for (int64_t ih = h0; ih < h1; ++ih)
      for (int64_t iw = w0; iw < w1; ++iw) pos.push_back(ih * W + iw);
    return pos;
  };
}

// Max values (want_idx = false) or argmax positions of every window.
Ref ref_max(const Ref& x, int64_t OH, int64_t OW, const std::function<std::vector<int64_t>(int64_t, int64_t)>& win,
            bool want_idx) {
  Ref y(pooled(x.shape, OH, OW));
  const int64_t HW = x.shape[x.shape.size() - 2] * x.shape[x.shape.size() - 1];
  for_windows(x.shape, OH, OW, win, [&](int64_t p, int64_t oh, int64_t ow, const std::vector<int64_t>& pos) {
    double best = -INFINITY;
    int64_t bi = pos.empty() ? 0 : pos[0];
    for (int64_t q : pos) {
      const double v = x.v[size_t(p * HW + q)];
      if (v > best || std::isnan(v)) best = v, bi = q;
    }
    y.v[size_t((p * OH + oh) * OW + ow)] = want_idx ? double(bi) : best;
  });
  return y;
}

// dx of a max pool: dy added at the argmax of each window.
Ref ref_max_backward(const Ref& x, const Ref& dy, const std::function<std::vector<int64_t>(int64_t, int64_t)>& win) {
  const int64_t OH = dy.shape[dy.shape.size() - 2], OW = dy.shape[dy.shape.size() - 1];
  Ref idx = ref_max(x, OH, OW, win, true);
  Ref dx(x.shape);
  const int64_t HW = x.shape[x.shape.size() - 2] * x.shape[x.shape.size() - 1];
  for (int64_t i = 0; i < dy.numel(); ++i) {
    const int64_t p = i / (OH * OW);
    dx.v[size_t(p * HW + int64_t(idx.v[size_t(i)]))] += dy.v[size_t(i)];
  }
  return dx;
}

// avg_pool2d divisor of window (oh, ow) (PyTorch: padded window clipped to the padded input).
double avg_divisor(const Shape& in, const PoolCfg& c, int64_t oh, int64_t ow, size_t n_valid) {
  if (c.div) return double(c.div);
  if (!c.cip) return double(n_valid);
  const int64_t H = in[in.size() - 2], W = in[in.size() - 1];
  const int64_t hs = oh * c.s[0] - c.p[0], ws = ow * c.s[1] - c.p[1];
  const int64_t he = std::min(hs + c.k[0], H + c.p[0]), we = std::min(ws + c.k[1], W + c.p[1]);
  return double((he - hs) * (we - ws));
}

Ref ref_avg(const Ref& x, const PoolCfg& c) {
  Ref y(pooled(x.shape, c));
  const int64_t OH = y.shape[y.shape.size() - 2], OW = y.shape[y.shape.size() - 1];
  const int64_t HW = x.shape[x.shape.size() - 2] * x.shape[x.shape.size() - 1];
  for_windows(x.shape, OH, OW, sliding(x.shape, c), [&](int64_t p, int64_t oh, int64_t ow, const std::vector<int64_t>& pos) {
    double s = 0;
    for (int64_t q : pos) s += x.v[size_t(p * HW + q)];
    y.v[size_t((p * OH + oh) * OW + ow)] = pos.empty() ? 0.0 : s / avg_divisor(x.shape, c, oh, ow, pos.size());
  });
  return y;
}

Ref ref_avg_backward(const Shape& in, const Ref& dy, const PoolCfg& c) {
  Ref dx(in);
  const int64_t OH = dy.shape[dy.shape.size() - 2], OW = dy.shape[dy.shape.size() - 1];
  const int64_t HW = in[in.size() - 2] * in[in.size() - 1];
  for_windows(in, OH, OW, sliding(in, c), [&](int64_t p, int64_t oh, int64_t ow, const std::vector<int64_t>& pos) {
    const double g = dy.v[size_t((p * OH + oh) * OW + ow)];
    for (int64_t q : pos) dx.v[size_t(p * HW + q)] += g / avg_divisor(in, c, oh, ow, pos.size());
  });
  return dx;
}

Ref ref_adaptive_avg(const Ref& x, int64_t OH, int64_t OW) {
  Ref y(pooled(x.shape, OH, OW));
  const int64_t HW = x.shape[x.shape.size() - 2] * x.shape[x.shape.size() - 1];
  for_windows(x.shape, OH, OW, adaptive(x.shape, OH, OW), [&](int64_t p, int64_t oh, int64_t ow, const std::vector<int64_t>& pos) {
    double s = 0;
    for (int64_t q : pos) s += x.v[size_t(p * HW + q)];
    y.v[size_t((p * OH + oh) * OW + ow)] = s / double(pos.size());
  });
  return y;
}

Ref ref_adaptive_avg_backward(const Shape& in, const Ref& dy) {
  Ref dx(in);
  const int64_t OH = dy.shape[dy.shape.size() - 2], OW = dy.shape[dy.shape.size() - 1];
  const int64_t HW = in[in.size() - 2] * in[in.size() - 1];
  for_windows(in, OH, OW, adaptive(in, OH, OW), [&](int64_t p, int64_t oh, int64_t ow, const std::vector<int64_t>& pos) {
    for (int64_t q : pos) dx.v[size_t(p * HW + q)] += dy.v[size_t((p * OH + oh) * OW + ow)] / double(pos.size());
  });
  return dx;
}

const std::vector<Shape> kInputs = {{0, 2, 5, 5}, {1, 1, 1, 1}, {2, 3, 7, 5}, {3, 11, 13}, {2, 3, 37, 41}};
const std::vector<PoolCfg> kMaxCfgs = {
    {{1, 1}, {1, 1}, {0, 0}, {1, 1}},
    {{3, 3}, {2, 2}, {1, 1}, {1, 1}},
    {{2, 3}, {1, 2}, {0, 1}, {1, 1}, true},
    {{3, 2}, {2, 1}, {1, 0}, {2, 1}, true},
};
const std::vector<PoolCfg> kAvgCfgs = {
    {{1, 1}, {1, 1}, {0, 0}, {1, 1}},
    {{3, 3}, {2, 2}, {1, 1}, {1, 1}, false, true},
    {{3, 3}, {2, 2}, {1, 1}, {1, 1}, true, false},
    {{2, 3}, {3, 1}, {1, 1}, {1, 1}, true, true, 4},
};
const std::vector<I2> kAdaptiveSizes = {{1, 1}, {3, 3}, {2, 5}};

bool fits(const Shape& in, const PoolCfg& c) {
  const int64_t H = in[in.size() - 2], W = in[in.size() - 1];
  return H + 2 * c.p[0] >= c.d[0] * (c.k[0] - 1) + 1 && W + 2 * c.p[1] >= c.d[1] * (c.k[1] - 1) + 1;
}

std::vector<OpRow> make_rows() {
  std::vector<OpRow> rows;
  for (size_t i = 0; i < kMaxCfgs.size(); ++i) {
    const PoolCfg c = kMaxCfgs[i];
    OpRow v, idx, bwd;
    for (const Shape& s : kInputs)
      if (fits(s, c)) {
        v.cases.push_back({s});
        bwd.cases.push_back({s, pooled(s, c)});
      }
    idx.cases = v.cases;
    v.name = "max_pool2d_" + std::to_string(i);
    v.run = [c](const std::vector<Tensor>& in) { return max_pool2d(in[0], c.k, c.s, c.p, c.d, c.ceil).values; };
    v.ref = [c](const std::vector<Ref>& in) {
      const Shape o = pooled(in[0].shape, c);
      return ref_max(in[0], o[o.size() - 2], o[o.size() - 1], sliding(in[0].shape, c), false);
    };
    v.dtypes = {DType::f32, DType::f64, DType::f16, DType::bf16};
    v.differentiable = true;
    idx.name = "max_pool2d_indices_" + std::to_string(i);
    idx.run = [c](const std::vector<Tensor>& in) { return max_pool2d(in[0], c.k, c.s, c.p, c.d, c.ceil).indices; };
    idx.ref = [c](const std::vector<Ref>& in) {
      const Shape o = pooled(in[0].shape, c);
      return ref_max(in[0], o[o.size() - 2], o[o.size() - 1], sliding(in[0].shape, c), true);
    };
    bwd.name = "max_pool2d_backward_" + std::to_string(i);
    bwd.run = [c](const std::vector<Tensor>& in) {
      return max_pool2d_backward(in[1], max_pool2d(in[0], c.k, c.s, c.p, c.d, c.ceil).indices, in[0].shape());
    };
    bwd.ref = [c](const std::vector<Ref>& in) { return ref_max_backward(in[0], in[1], sliding(in[0].shape, c)); };
    bwd.differentiable = true;
    rows.insert(rows.end(), {v, idx, bwd});
  }
  for (size_t i = 0; i < kAvgCfgs.size(); ++i) {
    const PoolCfg c = kAvgCfgs[i];
    OpRow f, b;
    for (const Shape& s : kInputs)
      if (fits(s, c)) {
        f.cases.push_back({s});
        b.cases.push_back({pooled(s, c), s});  // dy, and an input whose shape names input_shape
      }
    const std::optional<int64_t> div = c.div ? std::optional<int64_t>(c.div) : std::nullopt;
    f.name = "avg_pool2d_" + std::to_string(i);
    f.run = [c, div](const std::vector<Tensor>& in) { return avg_pool2d(in[0], c.k, c.s, c.p, c.ceil, c.cip, div); };
    f.ref = [c](const std::vector<Ref>& in) { return ref_avg(in[0], c); };
    f.dtypes = {DType::f32, DType::f64, DType::f16, DType::bf16};
    f.tol = Tol{2e-2, 1e-3};  // bf16 sums of up to 9 rounded values; f32/f64 are far tighter anyway
    f.differentiable = true;
    b.name = "avg_pool2d_backward_" + std::to_string(i);
    b.run = [c, div](const std::vector<Tensor>& in) {
      return avg_pool2d_backward(in[0], in[1].shape(), c.k, c.s, c.p, c.ceil, c.cip, div);
    };
    b.ref = [c](const std::vector<Ref>& in) { return ref_avg_backward(in[1].shape, in[0], c); };
    b.differentiable = true;
    rows.insert(rows.end(), {f, b});
  }
  for (size_t i = 0; i < kAdaptiveSizes.size(); ++i) {
    const I2 o = kAdaptiveSizes[i];
    OpRow aa, aab, am, ami, amb;
    for (const Shape& s : kInputs) {
      aa.cases.push_back({s});
      aab.cases.push_back({pooled(s, o[0], o[1]), s});
      amb.cases.push_back({s, pooled(s, o[0], o[1])});
    }
    am.cases = ami.cases = aa.cases;
    aa.name = "adaptive_avg_pool2d_" + std::to_string(i);
    aa.run = [o](const std::vector<Tensor>& in) { return adaptive_avg_pool2d(in[0], o); };
    aa.ref = [o](const std::vector<Ref>& in) { return ref_adaptive_avg(in[0], o[0], o[1]); };
    aa.dtypes = {DType::f32, DType::f64, DType::f16, DType::bf16};
    aa.tol = Tol{2e-2, 1e-3};
    aa.differentiable = true;
    aab.name = "adaptive_avg_pool2d_backward_" + std::to_string(i);
    aab.run = [](const std::vector<Tensor>& in) { return adaptive_avg_pool2d_backward(in[0], in[1].shape()); };
    aab.ref = [](const std::vector<Ref>& in) { return ref_adaptive_avg_backward(in[1].shape, in[0]); };
    aab.differentiable = true;
    am.name = "adaptive_max_pool2d_" + std::to_string(i);
    am.run = [o](const std::vector<Tensor>& in) { return adaptive_max_pool2d(in[0], o).values; };
    am.ref = [o](const std::vector<Ref>& in) { return ref_max(in[0], o[0], o[1], adaptive(in[0].shape, o[0], o[1]), false); };
    am.dtypes = {DType::f32, DType::f64, DType::f16, DType::bf16};
    am.differentiable = true;
    ami.name = "adaptive_max_pool2d_indices_" + std::to_string(i);
    ami.run = [o](const std::vector<Tensor>& in) { return adaptive_max_pool2d(in[0], o).indices; };
    ami.ref = [o](const std::vector<Ref>& in) { return ref_max(in[0], o[0], o[1], adaptive(in[0].shape, o[0], o[1]), true); };
    amb.name = "adaptive_max_pool2d_backward_" + std::to_string(i);
    amb.run = [o](const std::vector<Tensor>& in) {
      return adaptive_max_pool2d_backward(in[1], adaptive_max_pool2d(in[0], o).indices, in[0].shape());
    };
    amb.ref = [o](const std::vector<Ref>& in) { return ref_max_backward(in[0], in[1], adaptive(in[0].shape, o[0], o[1])); };
    amb.differentiable = true;
    rows.insert(rows.end(), {aa, aab, am, ami, amb});
  }
  return rows;
}

static OpRegistrar reg(with_parity(make_rows(), Parity::accumulated));

I2 pair(const Tensor& t) {
  auto v = t.to_vector<int64_t>();
  return {v[0], v[1]};
}

TEST(Pool, GoldenMaxPool) {
  auto f = load_fixture("nn_pool");
  const Tensor x = f.at("x");
  for (int i = 0; i < 4; ++i) {
    const std::string p = "max" + std::to_string(i) + "_";
    SCOPED_TRACE(p);
    const bool ceil = fixture_scalar(f, p + "ceil") != 0;
    auto r = max_pool2d(x, pair(f.at(p + "k")), pair(f.at(p + "s")), pair(f.at(p + "p")), pair(f.at(p + "d")), ceil);
    EXPECT_TRUE(tensors_close(r.values, f.at(p + "values")));
    EXPECT_TRUE(tensors_equal(r.indices, f.at(p + "indices")));
    EXPECT_TRUE(tensors_close(max_pool2d_backward(f.at(p + "dy"), r.indices, x.shape()), f.at(p + "dx")));
  }
}

TEST(Pool, GoldenAvgPool) {
  auto f = load_fixture("nn_pool");
  const Tensor x = f.at("x");
  for (int i = 0; i < 4; ++i) {
    const std::string p = "avg" + std::to_string(i) + "_";
    SCOPED_TRACE(p);
    const bool ceil = fixture_scalar(f, p + "ceil") != 0, cip = fixture_scalar(f, p + "cip") != 0;
    const int64_t dv = int64_t(fixture_scalar(f, p + "div"));
    const std::optional<int64_t> div = dv ? std::optional<int64_t>(dv) : std::nullopt;
    const I2 k = pair(f.at(p + "k")), s = pair(f.at(p + "s")), pd = pair(f.at(p + "p"));
    EXPECT_TRUE(tensors_close(avg_pool2d(x, k, s, pd, ceil, cip, div), f.at(p + "y")));
    EXPECT_TRUE(tensors_close(avg_pool2d_backward(f.at(p + "dy"), x.shape(), k, s, pd, ceil, cip, div), f.at(p + "dx")));
  }
}

TEST(Pool, GoldenAdaptive) {
  auto f = load_fixture("nn_pool");
  const Tensor x = f.at("ax");
  for (int i = 0; i < 4; ++i) {
    const std::string a = "aavg" + std::to_string(i) + "_", m = "amax" + std::to_string(i) + "_";
    SCOPED_TRACE(a);
    const I2 o = pair(f.at(a + "size"));
    EXPECT_TRUE(tensors_close(adaptive_avg_pool2d(x, o), f.at(a + "y")));
    EXPECT_TRUE(tensors_close(adaptive_avg_pool2d_backward(f.at(a + "dy"), x.shape()), f.at(a + "dx")));
    auto r = adaptive_max_pool2d(x, o);
    EXPECT_TRUE(tensors_close(r.values, f.at(m + "values")));
    EXPECT_TRUE(tensors_equal(r.indices, f.at(m + "indices")));
    EXPECT_TRUE(tensors_close(adaptive_max_pool2d_backward(f.at(a + "dy"), r.indices, x.shape()), f.at(m + "dx")));
  }
}

TEST(Pool, MaxPoolPropagatesNaN) {
  Tensor x = tensor({{1.0, NAN}, {3.0, 2.0}}).reshape({1, 1, 2, 2});
  auto r = max_pool2d(x, {2, 2});
  EXPECT_TRUE(std::isnan(r.values.item<double>()));
  EXPECT_EQ(r.indices.item<int64_t>(), 1);
}

// Every compiled ISA copy of the max pool (Note [ISA dispatch]; the vector path takes the columns
// whose windows lie inside the input, the scan the border columns) against the in-order window
// scan: small integers make ties common (the first maximum must win) and NaNs are sprinkled in
// (the last NaN wins). Strides 1, 2 (the unrolled cases) and 3, dilation, padding, odd widths.
TEST(Pool, MaxPoolEveryIsaMatchesWindowScan) {
  const std::vector<std::pair<Shape, PoolCfg>> cases = {
      {{2, 3, 17, 37}, {{3, 3}, {2, 2}, {1, 1}, {1, 1}}},  // xresnet's stem pool
      {{1, 2, 16, 40}, {{2, 2}, {2, 2}, {0, 0}, {1, 1}}},
      {{1, 2, 9, 33}, {{3, 3}, {1, 1}, {1, 1}, {1, 1}}},
      {{1, 2, 11, 45}, {{3, 2}, {3, 3}, {1, 1}, {2, 2}, true}},
      {{1, 1, 7, 8}, {{5, 5}, {1, 2}, {2, 2}, {1, 1}}},  // windows wider than the interior
  };
  const cpu::Isa best = cpu::detected_isa();
  for (const auto& [shape, c] : cases) {
    Generator g(7);
    Tensor x = randint(0, 5, shape, DType::f64, &g);
    std::vector<double> v = x.to_vector<double>();
    for (size_t i = 3; i < v.size(); i += 97) v[i] = NAN;
    for (DType dt : {DType::f32, DType::f64}) {
      const Tensor xt = from_vector(v, shape).to(dt);
      const Ref xr = to_ref(xt);
      const Shape out = pooled(shape, c);
      const int64_t OH = out[2], OW = out[3];
      const Ref want_v = ref_max(xr, OH, OW, sliding(shape, c), false);
      const Ref want_i = ref_max(xr, OH, OW, sliding(shape, c), true);
      for (cpu::Isa isa : {cpu::Isa::baseline, cpu::Isa::avx2, cpu::Isa::avx512}) {
        if (int(isa) > int(best)) continue;
        cpu::set_cpu_isa(isa);
        SCOPED_TRACE(std::string(cpu::isa_name(isa)) + " " + shape.str() + " " + dtype_name(dt));
        auto r = max_pool2d(xt, c.k, c.s, c.p, c.d, c.ceil);
        const std::vector<double> got_v = r.values.to(DType::f64).to_vector<double>();
        const std::vector<int64_t> got_i = r.indices.to_vector<int64_t>();
        ASSERT_EQ(got_v.size(), want_v.v.size());
        int bad = 0;
        for (size_t i = 0; i < got_v.size() && bad < 5; ++i) {
          const bool same = std::isnan(want_v.v[i]) ? std::isnan(got_v[i]) : got_v[i] == want_v.v[i];
          if (!same || got_i[i] != int64_t(want_i.v[i])) {
            ++bad;
            ADD_FAILURE() << "output " << i << ": got " << got_v[i] << " at " << got_i[i] << ", want " << want_v.v[i]
                          << " at " << int64_t(want_i.v[i]);
          }
        }
      }
      cpu::set_cpu_isa(best);
    }
  }
}

TEST(Pool, Misuse) {
  Tensor x = zeros({1, 2, 5, 5});
  EXPECT_KILN_ERROR(max_pool2d(zeros({5, 5}), {2, 2}), "expected a 3-d [C, H, W] or 4-d");
  EXPECT_KILN_ERROR(max_pool2d(x, {0, 2}), "kernel size must be positive");
  EXPECT_KILN_ERROR(max_pool2d(x, {2, 2}, {2, -1}), "stride must be positive");
  EXPECT_KILN_ERROR(max_pool2d(x, {2, 2}, {2, 2}, {2, 0}), "padding 2 must be at most half of the kernel size 2");
  EXPECT_KILN_ERROR(avg_pool2d(x, {3, 3}, {1, 1}, {2, 0}), "padding 2 must be at most half of the kernel size 3");
  EXPECT_KILN_ERROR(max_pool2d(x, {6, 6}), "output size 0 is too small for input size 5");
  EXPECT_KILN_ERROR(max_pool2d(x, {2, 2}, {1, 1}, {0, 0}, {0, 1}), "dilation must be positive");
  EXPECT_KILN_ERROR(avg_pool2d(x, {2, 2}, {0, 0}, {0, 0}, false, true, 0), "divisor_override must be non-zero");
  EXPECT_KILN_ERROR(max_pool2d(zeros({1, 2, 5, 5}, DType::i32), {2, 2}), "must be a floating tensor");
  EXPECT_KILN_ERROR(adaptive_avg_pool2d(x, {0, 3}), "output size must be positive");
  EXPECT_KILN_ERROR(adaptive_max_pool2d(zeros({1, 0, 5, 5}), {2, 2}), "empty non-batch dimension");
  auto r = max_pool2d(x, {2, 2});
  EXPECT_KILN_ERROR(max_pool2d_backward(zeros({1, 2, 3, 3}), r.indices, x.shape()), "dy has shape [1, 2, 3, 3]");
  EXPECT_KILN_ERROR(max_pool2d_backward(zeros({1, 2, 2, 2}), r.indices.to(DType::i32), x.shape()), "indices must be i64");
  EXPECT_KILN_ERROR(max_pool2d_backward(zeros({1, 2, 2, 2}), full({1, 2, 2, 2}, 25, DType::i64), x.shape()),
                    "outside the input plane");
  EXPECT_KILN_ERROR(avg_pool2d_backward(zeros({1, 2, 3, 3}), x.shape(), {2, 2}), "expected [1, 2, 2, 2]");
}

}  // namespace
}  // namespace kiln::test
