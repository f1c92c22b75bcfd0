// batch_norm_forward / batch_norm_backward and layer_norm / layer_norm_backward: op-table rows
// against f64 loop references, golden fixtures from torch (train + eval, running statistics,
// autograd gradients), determinism and misuse.
#include <algorithm>
#include <cmath>

#include "kiln/kernels/cpu/parallel.h"
#include "kiln/tensor/elementwise.h"
#include "kiln/tensor/norm.h"
#include "support/op_table.h"

namespace kiln::test {
namespace {

constexpr double kEps = 1e-5;

// Channel statistics of a reference [N, C, *]: mean and biased variance per channel.
void ref_channel_stats(const Ref& x, std::vector<double>& mean, std::vector<double>& var) {
  const int64_t N = x.shape[0], C = x.shape[1], S = x.numel() / std::max<int64_t>(1, N * C);
  mean.assign(size_t(C), 0.0);
  var.assign(size_t(C), 0.0);
  for (int64_t c = 0; c < C; ++c) {
    double s = 0;
    for (int64_t n = 0; n < N; ++n)
      for (int64_t i = 0; i < S; ++i) s += x.v[size_t((n * C + c) * S + i)];
    const double m = s / double(N * S);
    double q = 0;
    for (int64_t n = 0; n < N; ++n)
      for (int64_t i = 0; i < S; ++i) q += (x.v[size_t((n * C + c) * S + i)] - m) * (x.v[size_t((n * C + c) * S + i)] - m);
    mean[size_t(c)] = m;
    var[size_t(c)] = q / double(N * S);
  }
}

// y = (x - mean[c]) / sqrt(var[c] + eps) * w[c] + b[c].
Ref ref_bn_apply(const Ref& x, const std::vector<double>& mean, const std::vector<double>& var, const Ref& w,
                 const Ref& b) {
  const int64_t N = x.shape[0], C = x.shape[1], S = x.numel() / std::max<int64_t>(1, N * C);
  Ref y(x.shape);
  for (int64_t n = 0; n < N; ++n)
    for (int64_t c = 0; c < C; ++c)
      for (int64_t i = 0; i < S; ++i) {
        const size_t k = size_t((n * C + c) * S + i);
        y.v[k] = (x.v[k] - mean[size_t(c)]) / std::sqrt(var[size_t(c)] + kEps) * w.v[size_t(c)] + b.v[size_t(c)];
      }
  return y;
}

// Gradients of batch norm (what = 0: dx, 1: dweight, 2: dbias). Training uses the batch
// statistics, eval the given ones.
Ref ref_bn_backward(const Ref& dy, const Ref& x, const Ref& w, const std::vector<double>& mean,
                    const std::vector<double>& var, bool training, int what) {
  const int64_t N = x.shape[0], C = x.shape[1], S = x.numel() / std::max<int64_t>(1, N * C);
  const double M = double(N * S);
  Ref dx(x.shape), dw(Shape{C}), db(Shape{C});
  for (int64_t c = 0; c < C; ++c) {
    const double is = 1.0 / std::sqrt(var[size_t(c)] + kEps);
    double sdy = 0, sdyx = 0;
    for (int64_t n = 0; n < N; ++n)
      for (int64_t i = 0; i < S; ++i) {
        const size_t k = size_t((n * C + c) * S + i);
        sdy += dy.v[k];
        sdyx += dy.v[k] * (x.v[k] - mean[size_t(c)]) * is;
      }
    dw.v[size_t(c)] = sdyx;
    db.v[size_t(c)] = sdy;
    for (int64_t n = 0; n < N; ++n)
      for (int64_t i = 0; i < S; ++i) {
        const size_t k = size_t((n * C + c) * S + i);
        const double xhat = (x.v[k] - mean[size_t(c)]) * is;
        dx.v[k] = training ? w.v[size_t(c)] * is * (dy.v[k] - sdy / M - xhat * sdyx / M) : w.v[size_t(c)] * is * dy.v[k];
      }
  }
  return what == 0 ? dx : what == 1 ? dw : db;
}

// act(z) and dy * act'(z) of a reference (relu, or leaky_relu with `slope`), as Note [Batch norm +
// activation] defines them.
Ref ref_act(Ref z, BnActivation act, double slope) {
  for (double& v : z.v) v = v > 0 ? v : act == BnActivation::relu ? 0.0 : v * slope;
  return z;
}
Ref ref_act_grad(Ref dy, const Ref& z, BnActivation act, double slope) {
  for (size_t k = 0; k < dy.v.size(); ++k) dy.v[k] *= z.v[k] > 0 ? 1.0 : act == BnActivation::relu ? 0.0 : slope;
  return dy;
}

std::vector<std::vector<Shape>> bn_cases(int extra) {
  const std::vector<Shape> xs = {{2, 3}, {3, 1}, {17, 5}, {4, 3, 5}, {2, 5, 7, 3}, {8, 4, 33, 5}, {1, 2, 1, 13}};
  std::vector<std::vector<Shape>> cases;
  for (const Shape& x : xs) {
    std::vector<Shape> c = {x};
    for (int i = 0; i < extra; ++i) c.push_back(Shape{x[1]});
    cases.push_back(c);
  }
  return cases;
}

std::vector<OpRow> make_rows() {
  std::vector<OpRow> rows;
  OpRow train;
  train.name = "batch_norm_forward_train";
  train.cases = bn_cases(2);  // x, weight, bias
  train.run = [](const std::vector<Tensor>& in) {
    return batch_norm_forward(in[0], in[1], in[2], Tensor(), Tensor(), true, 0.1, kEps).y;
  };
  train.ref = [](const std::vector<Ref>& in) {
    std::vector<double> m, v;
    ref_channel_stats(in[0], m, v);
    return ref_bn_apply(in[0], m, v, in[1], in[2]);
  };
  train.dtypes = {DType::f32, DType::f64, DType::f16, DType::bf16};
  train.tol = Tol{2e-2, 2e-5};  // f32: statistics over up to 660 values; the row's worst is bf16 output rounding
  train.differentiable = true;
  rows.push_back(train);

  OpRow eval;
  eval.name = "batch_norm_forward_eval";
  eval.cases = bn_cases(4);  // x, weight, bias, running_mean, running_var
  eval.domains = {Domain::any, Domain::any, Domain::any, Domain::any, Domain::positive};
  eval.run = [](const std::vector<Tensor>& in) {
    return batch_norm_forward(in[0], in[1], in[2], in[3], in[4], false, 0.1, kEps).y;
  };
  eval.ref = [](const std::vector<Ref>& in) { return ref_bn_apply(in[0], in[3].v, in[4].v, in[1], in[2]); };
  eval.dtypes = {DType::f32, DType::f64, DType::f16, DType::bf16};
  eval.tol = Tol{2e-2, 2e-5};
  eval.differentiable = true;
  rows.push_back(eval);

  const char* names[] = {"dx", "dweight", "dbias"};
  for (int what = 0; what < 3; ++what) {
    for (bool training : {true, false}) {
      OpRow r;
      r.name = std::string("batch_norm_backward_") + (training ? "train_" : "eval_") + names[what];
      r.cases = bn_cases(3);  // x, weight, running_mean, running_var; dy = x's shape added below
      for (auto& c : r.cases) c.push_back(c[0]);
      r.domains = {Domain::any, Domain::any, Domain::any, Domain::positive, Domain::any};
      r.run = [training, what](const std::vector<Tensor>& in) {
        auto f = batch_norm_forward(in[0], in[1], Tensor(), in[2].clone(), in[3].clone(), training, 0.1, kEps);
        auto g = batch_norm_backward(in[4], in[0], in[1], f.save_mean, f.save_invstd, training);
        return what == 0 ? g.dx : what == 1 ? g.dweight : g.dbias;
      };
      r.ref = [training, what](const std::vector<Ref>& in) {
        std::vector<double> m = in[2].v, v = in[3].v;
        if (training) ref_channel_stats(in[0], m, v);
        return ref_bn_backward(in[4], in[0], in[1], m, v, training, what);
      };
      r.tol = Tol{1e-5, 1e-5};  // f32 sums of products over up to 660 values
      r.differentiable = true;
      rows.push_back(r);
    }
  }

  // With an activation in the same op: relu and leaky_relu, training and eval. The backward rows
  // take a bias: the activation's derivative depends on it through z.
  struct ActCase {
    const char* name;
    BnActivation act;
    double slope;
  };
  for (ActCase a : {ActCase{"relu", BnActivation::relu, 0.0}, ActCase{"leaky", BnActivation::leaky_relu, 0.2}}) {
    for (bool training : {true, false}) {
      OpRow f;
      f.name = std::string("batch_norm_forward_") + (training ? "train_" : "eval_") + a.name;
      f.cases = bn_cases(4);  // x, weight, bias, running_mean, running_var
      f.domains = {Domain::any, Domain::any, Domain::any, Domain::any, Domain::positive};
      f.run = [a, training](const std::vector<Tensor>& in) {
        return batch_norm_forward(in[0], in[1], in[2], in[3].clone(), in[4].clone(), training, 0.1, kEps, a.act,
                                  a.slope)
            .y;
      };
      f.ref = [a, training](const std::vector<Ref>& in) {
        std::vector<double> m = in[3].v, v = in[4].v;
        if (training) ref_channel_stats(in[0], m, v);
        return ref_act(ref_bn_apply(in[0], m, v, in[1], in[2]), a.act, a.slope);
      };
      f.dtypes = {DType::f32, DType::f64, DType::f16, DType::bf16};
      f.tol = Tol{2e-2, 2e-5};
      f.differentiable = true;
      rows.push_back(f);
      for (int what = 0; what < 3; ++what) {
        OpRow r;
        r.name = std::string("batch_norm_backward_") + (training ? "train_" : "eval_") + a.name + "_" + names[what];
        r.cases = bn_cases(4);  // x, weight, bias, running_mean, running_var; dy = x's shape added below
        for (auto& c : r.cases) c.push_back(c[0]);
        r.domains = {Domain::any, Domain::any, Domain::any, Domain::any, Domain::positive, Domain::any};
        r.run = [a, training, what](const std::vector<Tensor>& in) {
          auto f = batch_norm_forward(in[0], in[1], in[2], in[3].clone(), in[4].clone(), training, 0.1, kEps, a.act,
                                      a.slope);
          auto g = batch_norm_backward(in[5], in[0], in[1], f.save_mean, f.save_invstd, training, in[2], a.act,
                                       a.slope);
          return what == 0 ? g.dx : what == 1 ? g.dweight : g.dbias;
        };
        r.ref = [a, training, what](const std::vector<Ref>& in) {
          std::vector<double> m = in[3].v, v = in[4].v;
          if (training) ref_channel_stats(in[0], m, v);
          const Ref dz = ref_act_grad(in[5], ref_bn_apply(in[0], m, v, in[1], in[2]), a.act, a.slope);
          return ref_bn_backward(dz, in[0], in[1], m, v, training, what);
        };
        r.tol = Tol{1e-5, 1e-5};
        r.differentiable = true;
        rows.push_back(r);
      }
    }
  }

  // Layer norm over the last k dims.
  struct LnCase {
    Shape x;
    int k;
  };
  const std::vector<LnCase> ln = {{{1, 1}, 1}, {{3, 7}, 1}, {{0, 5}, 1}, {{2, 3, 13}, 2}, {{5, 1031}, 1}, {{4, 2, 3, 17}, 3}};
  auto nshape = [](const Shape& x, int k) { return Shape(x.begin() + (x.size() - k), x.end()); };
  for (int what = -1; what < 3; ++what) {
    OpRow r;
    r.name = what < 0 ? "layer_norm" : std::string("layer_norm_backward_") + names[what];
    for (const auto& c : ln) {
      std::vector<Shape> s = {c.x, nshape(c.x, c.k), nshape(c.x, c.k)};
      if (what >= 0) s.push_back(c.x);  // dy
      r.cases.push_back(s);
    }
    r.run = [what](const std::vector<Tensor>& in) {
      auto f = layer_norm(in[0], in[1].shape(), in[1], in[2], kEps);
      if (what < 0) return f.y;
      auto g = layer_norm_backward(in[3], in[0], f.mean, f.rstd, in[1]);
      return what == 0 ? g.dx : what == 1 ? g.dweight : g.dbias;
    };
    r.ref = [what](const std::vector<Ref>& in) {
      const int64_t N = in[1].numel(), M = N > 0 ? in[0].numel() / N : 0;
      Ref y(in[0].shape), dx(in[0].shape), dw(in[1].shape), db(in[1].shape);
      for (int64_t m = 0; m < M; ++m) {
        const double* x = in[0].v.data() + m * N;
        double mu = 0, var = 0;
        for (int64_t i = 0; i < N; ++i) mu += x[i];
        mu /= double(N);
        for (int64_t i = 0; i < N; ++i) var += (x[i] - mu) * (x[i] - mu);
        const double rs = 1.0 / std::sqrt(var / double(N) + kEps);
        double sg = 0, sgx = 0;
        for (int64_t i = 0; i < N; ++i) {
          const double xh = (x[i] - mu) * rs;
          y.v[size_t(m * N + i)] = xh * in[1].v[size_t(i)] + in[2].v[size_t(i)];
          if (what < 0) continue;
          const double g = in[3].v[size_t(m * N + i)];
          dw.v[size_t(i)] += g * xh;
          db.v[size_t(i)] += g;
          sg += g * in[1].v[size_t(i)];
          sgx += g * in[1].v[size_t(i)] * xh;
        }
        if (what < 0) continue;
        for (int64_t i = 0; i < N; ++i) {
          const double xh = (x[i] - mu) * rs;
          const double g = in[3].v[size_t(m * N + i)] * in[1].v[size_t(i)];
          dx.v[size_t(m * N + i)] = rs * (g - sg / double(N) - xh * sgx / double(N));
        }
      }
      return what < 0 ? y : what == 0 ? dx : what == 1 ? dw : db;
    };
    if (what < 0) r.dtypes = {DType::f32, DType::f64, DType::f16, DType::bf16};
    r.tol = Tol{what < 0 ? 2e-2 : 1e-5, 2e-5};
    r.differentiable = true;
    rows.push_back(r);
  }

  // Group norm: inputs x, weight, bias, dy and a [G] tensor whose size gives the number of groups.
  struct GnCase {
    Shape x;
    int64_t G;
  };
  const std::vector<GnCase> gn = {{{2, 4}, 2}, {{1, 1, 1}, 1}, {{3, 6, 5}, 3}, {{0, 4, 3}, 4}, {{2, 6, 4, 5}, 2},
                                  {{4, 8, 33, 5}, 4}};
  for (int what = -1; what < 3; ++what) {
    OpRow r;
    r.name = what < 0 ? "group_norm" : std::string("group_norm_backward_") + names[what];
    for (const auto& c : gn) r.cases.push_back({c.x, Shape{c.x[1]}, Shape{c.x[1]}, c.x, Shape{c.G}});
    r.make = [](const std::vector<Shape>& s, DType dt, uint64_t seed) {
      std::vector<Tensor> in;
      for (int i = 0; i < 4; ++i) in.push_back(random_tensor(s[size_t(i)], dt, Domain::any, seed * 13 + uint64_t(i)));
      in.push_back(zeros(s[4]));  // only its size matters: the number of groups
      return in;
    };
    r.check_noncontiguous = true;
    r.run = [what](const std::vector<Tensor>& in) {
      const int64_t G = in[4].size(0);
      auto f = group_norm(in[0], G, in[1], in[2], kEps);
      if (what < 0) return f.y;
      auto g = group_norm_backward(in[3], in[0], f.mean, f.rstd, G, in[1]);
      return what == 0 ? g.dx : what == 1 ? g.dweight : g.dbias;
    };
    r.ref = [what](const std::vector<Ref>& in) {
      const Ref &x = in[0], &w = in[1], &b = in[2], &dy = in[3];
      const int64_t N = x.shape[0], C = x.shape[1], G = in[4].shape[0];
      const int64_t S = N * C > 0 ? x.numel() / (N * C) : 0, Dg = C / G, L = Dg * S;
      Ref y(x.shape), dx(x.shape), dw(Shape{C}), db(Shape{C});
      for (int64_t n = 0; n < N; ++n)
        for (int64_t g = 0; g < G; ++g) {
          const size_t base = size_t((n * C + g * Dg) * S);
          double mu = 0, var = 0;
          for (int64_t i = 0; i < L; ++i) mu += x.v[base + size_t(i)];
          mu /= double(L);
          for (int64_t i = 0; i < L; ++i) var += (x.v[base + size_t(i)] - mu) * (x.v[base + size_t(i)] - mu);
          const double rs = 1.0 / std::sqrt(var / double(L) + kEps);
          double sg = 0, sgx = 0;
          for (int64_t i = 0; i < L; ++i) {
            const size_t k = base + size_t(i);
            const int64_t c = g * Dg + i / S;
            const double xh = (x.v[k] - mu) * rs;
            y.v[k] = xh * w.v[size_t(c)] + b.v[size_t(c)];
            dw.v[size_t(c)] += dy.v[k] * xh;
            db.v[size_t(c)] += dy.v[k];
            sg += dy.v[k] * w.v[size_t(c)];
            sgx += dy.v[k] * w.v[size_t(c)] * xh;
          }
          for (int64_t i = 0; i < L; ++i) {
            const size_t k = base + size_t(i);
            const int64_t c = g * Dg + i / S;
            const double xh = (x.v[k] - mu) * rs;
            dx.v[k] = rs * (dy.v[k] * w.v[size_t(c)] - sg / double(L) - xh * sgx / double(L));
          }
        }
      return what < 0 ? y : what == 0 ? dx : what == 1 ? dw : db;
    };
    if (what < 0) r.dtypes = {DType::f32, DType::f64, DType::f16, DType::bf16};
    r.tol = Tol{what < 0 ? 2e-2 : 1e-5, 3e-5};
    r.differentiable = true;
    rows.push_back(r);
  }
  return rows;
}

static OpRegistrar reg(with_parity(make_rows(), Parity::accumulated));

TEST(GroupNorm, GoldenTorch) {
  auto f = load_fixture("nn_norm");
  for (std::string p : {"gn4", "gn3"}) {
    SCOPED_TRACE(p);
    const Tensor x = f.at(p + "_x"), w = f.at(p + "_w"), b = f.at(p + "_b");
    const int64_t G = int64_t(fixture_scalar(f, p + "_groups"));
    auto r = group_norm(x, G, w, b, 1e-5);
    EXPECT_TRUE(tensors_close(r.y, f.at(p + "_y")));
    EXPECT_TRUE(tensors_close(r.mean, f.at(p + "_mean")));
    EXPECT_TRUE(tensors_close(r.rstd, f.at(p + "_rstd")));
    auto g = group_norm_backward(f.at(p + "_dy"), x, r.mean, r.rstd, G, w);
    EXPECT_TRUE(tensors_close(g.dx, f.at(p + "_dx")));
    EXPECT_TRUE(tensors_close(g.dweight, f.at(p + "_dw")));
    EXPECT_TRUE(tensors_close(g.dbias, f.at(p + "_db")));
  }
}

TEST(BatchNorm, GoldenTrainAndEval) {
  auto f = load_fixture("nn_norm");
  for (std::string name : {"bn4d", "bn2d", "bn3d"}) {
    for (std::string mode : {"train", "eval"}) {
      const std::string p = name + "_" + mode + "_";
      SCOPED_TRACE(p);
      const bool training = mode == "train";
      const Tensor x = f.at(name + "_x"), w = f.at(name + "_w"), b = f.at(name + "_b");
      Tensor rm = f.at(name + "_rm").clone(), rv = f.at(name + "_rv").clone();
      auto r = batch_norm_forward(x, w, b, rm, rv, training, 0.1, 1e-5);
      EXPECT_TRUE(tensors_close(r.y, f.at(p + "y")));
      EXPECT_TRUE(tensors_close(rm, f.at(p + "rm")));
      EXPECT_TRUE(tensors_close(rv, f.at(p + "rv")));
      if (training) {
        EXPECT_TRUE(tensors_close(r.save_mean, f.at(p + "save_mean")));
        EXPECT_TRUE(tensors_close(r.save_invstd, f.at(p + "save_invstd")));
      }
      auto g = batch_norm_backward(f.at(p + "dy"), x, w, r.save_mean, r.save_invstd, training);
      EXPECT_TRUE(tensors_close(g.dx, f.at(p + "dx")));
      EXPECT_TRUE(tensors_close(g.dweight, f.at(p + "dw")));
      EXPECT_TRUE(tensors_close(g.dbias, f.at(p + "db")));
    }
  }
}

TEST(BatchNorm, RunningStatsInPlaceNonContiguousAndF32) {
  auto f = load_fixture("nn_norm");
  const Tensor x = f.at("bn4d_x").to(DType::f32);
  // Running stats as strided views into a wider buffer, f32: updated in place through the view.
  Tensor buf = zeros({3, 2});
  Tensor rm = buf.select(1, 0), rv = buf.select(1, 1);
  rm.copy_(f.at("bn4d_rm"));
  rv.copy_(f.at("bn4d_rv"));
  EXPECT_FALSE(rm.is_contiguous());
  batch_norm_forward(x, Tensor(), Tensor(), rm, rv, true, 0.1, 1e-5);
  EXPECT_TRUE(tensors_close(rm, f.at("bn4d_train_rm"), 1e-5, 1e-6));
  EXPECT_TRUE(tensors_close(rv, f.at("bn4d_train_rv"), 1e-5, 1e-6));
}

TEST(BatchNorm, StatisticsStableForLargeMean) {
  // Shifted sums keep the variance accurate when the mean dwarfs the spread.
  Tensor x = (random_tensor({64, 2, 100}, DType::f64, Domain::unit, 3).to(DType::f64));
  Ref xr = to_ref(x);
  for (auto& v : xr.v) v += 1e4;
  Tensor xs = from_ref(xr, DType::f32);
  auto r = batch_norm_forward(xs, Tensor(), Tensor(), Tensor(), Tensor(), true, 0.1, 0.0);
  std::vector<double> m, var;
  ref_channel_stats(to_ref(xs), m, var);
  auto is = r.save_invstd.to_vector<double>();
  for (int c = 0; c < 2; ++c) EXPECT_NEAR(is[size_t(c)], 1.0 / std::sqrt(var[size_t(c)]), 1e-3 / std::sqrt(var[size_t(c)]));
}

// Batch norm + relu in one op gives the bits of batch norm, then relu (forward) and of relu_backward,
// then the batch norm backward (the kernels' Note [Batch norm + activation on the CPU]), training
// and eval, over rows long enough for the blocks of 64 and short ones with tails, and [N, C].
TEST(BatchNorm, ReluInOneOpSameBitsAsSeparateOps) {
  for (const Shape& shape : {Shape{6, 5, 203}, Shape{64, 3, 7, 7}, Shape{33, 7}, Shape{4, 2, 16}}) {
    SCOPED_TRACE(::testing::Message() << shape);
    const int64_t C = shape[1];
    const Tensor x = random_tensor(shape, DType::f32, Domain::any, 21);
    const Tensor dy = random_tensor(shape, DType::f32, Domain::any, 22);
    const Tensor w = random_tensor({C}, DType::f32, Domain::any, 23), b = random_tensor({C}, DType::f32, Domain::any, 24);
    const Tensor rm = random_tensor({C}, DType::f32, Domain::any, 25);
    const Tensor rv = random_tensor({C}, DType::f32, Domain::positive, 26);
    for (bool training : {true, false}) {
      Tensor rm1 = rm.clone(), rv1 = rv.clone(), rm2 = rm.clone(), rv2 = rv.clone();
      const BatchNormResult sep = batch_norm_forward(x, w, b, rm1, rv1, training);
      const Tensor y_sep = relu(sep.y);
      const NormGrads g_sep =
          batch_norm_backward(relu_backward(dy, y_sep), x, w, sep.save_mean, sep.save_invstd, training);
      const BatchNormResult one = batch_norm_forward(x, w, b, rm2, rv2, training, 0.1, 1e-5, BnActivation::relu);
      const NormGrads g_one =
          batch_norm_backward(dy, x, w, one.save_mean, one.save_invstd, training, b, BnActivation::relu);
      EXPECT_TRUE(tensors_equal(one.y, y_sep)) << training;
      EXPECT_TRUE(tensors_equal(rm2, rm1)) << training;
      EXPECT_TRUE(tensors_equal(rv2, rv1)) << training;
      EXPECT_TRUE(tensors_equal(g_one.dx, g_sep.dx)) << training;
      EXPECT_TRUE(tensors_equal(g_one.dweight, g_sep.dweight)) << training;
      EXPECT_TRUE(tensors_equal(g_one.dbias, g_sep.dbias)) << training;
      // Some values on each side of the kink, so the gate was exercised.
      const std::vector<float> yv = one.y.to_vector<float>();
      const double zeros_frac = double(std::count(yv.begin(), yv.end(), 0.0f)) / double(yv.size());
      EXPECT_GT(zeros_frac, 0.1);
      EXPECT_LT(zeros_frac, 0.9);
    }
  }
}

TEST(Norm, DeterministicAcrossThreadCounts) {
  Tensor x = random_tensor({37, 5, 301}, DType::f32, Domain::any, 11);
  Tensor dy = random_tensor({37, 5, 301}, DType::f32, Domain::any, 12);
  Tensor w = random_tensor({301}, DType::f32, Domain::any, 13);
  const int saved = cpu::num_threads();
  std::vector<std::vector<Tensor>> runs;
  for (int t : {1, 3}) {
    cpu::set_num_threads(t);
    auto b = batch_norm_forward(x, Tensor(), Tensor(), Tensor(), Tensor(), true);
    auto bg = batch_norm_backward(dy, x, Tensor(), b.save_mean, b.save_invstd, true);
    auto br = batch_norm_forward(x, Tensor(), Tensor(), Tensor(), Tensor(), true, 0.1, 1e-5, BnActivation::relu);
    auto brg = batch_norm_backward(dy, x, Tensor(), br.save_mean, br.save_invstd, true, Tensor(), BnActivation::relu);
    auto l = layer_norm(x, {301}, w);
    auto lg = layer_norm_backward(dy, x, l.mean, l.rstd, w);
    runs.push_back({b.y, b.save_invstd, bg.dx, bg.dweight, br.y, brg.dx, brg.dweight, l.y, lg.dx, lg.dweight, lg.dbias});
  }
  cpu::set_num_threads(saved);
  for (size_t i = 0; i < runs[0].size(); ++i) EXPECT_TRUE(tensors_equal(runs[0][i], runs[1][i])) << i;
}

TEST(LayerNorm, GoldenTorch) {
  auto f = load_fixture("nn_norm");
  for (std::string p : {"ln3", "ln1"}) {
    SCOPED_TRACE(p);
    const Tensor x = f.at(p + "_x"), w = f.at(p + "_w"), b = f.at(p + "_b");
    auto r = layer_norm(x, w.shape(), w, b, 1e-5);
    EXPECT_TRUE(tensors_close(r.y, f.at(p + "_y")));
    EXPECT_TRUE(tensors_close(r.mean, f.at(p + "_mean")));
    EXPECT_TRUE(tensors_close(r.rstd, f.at(p + "_rstd")));
    auto g = layer_norm_backward(f.at(p + "_dy"), x, r.mean, r.rstd, w);
    EXPECT_TRUE(tensors_close(g.dx, f.at(p + "_dx")));
    EXPECT_TRUE(tensors_close(g.dweight, f.at(p + "_dw")));
    EXPECT_TRUE(tensors_close(g.dbias, f.at(p + "_db")));
  }
}

TEST(LayerNorm, WithoutAffine) {
  Tensor x = random_tensor({3, 4, 5}, DType::f64, Domain::any, 5);
  auto r = layer_norm(x, {4, 5});
  EXPECT_EQ(r.mean.shape(), Shape({3, 1, 1}));
  auto ones_w = ones({4, 5}, DType::f64);
  EXPECT_TRUE(tensors_close(r.y, layer_norm(x, {4, 5}, ones_w, zeros({4, 5}, DType::f64)).y));
  Tensor dy = random_tensor({3, 4, 5}, DType::f64, Domain::any, 6);
  auto g = layer_norm_backward(dy, x, r.mean, r.rstd);
  auto g1 = layer_norm_backward(dy, x, r.mean, r.rstd, ones_w);
  EXPECT_TRUE(tensors_close(g.dx, g1.dx));
  EXPECT_TRUE(tensors_close(g.dweight.reshape({4, 5}), g1.dweight));
}

TEST(Norm, Misuse) {
  Tensor x = zeros({4, 3, 5});
  EXPECT_KILN_ERROR(batch_norm_forward(zeros({4}), Tensor(), Tensor(), Tensor(), Tensor(), true), "at least 2 dims");
  EXPECT_KILN_ERROR(batch_norm_forward(x, zeros({4}), Tensor(), Tensor(), Tensor(), true),
                    "weight has shape [4], expected [3]");
  EXPECT_KILN_ERROR(batch_norm_forward(x, Tensor(), zeros({3, 1}), Tensor(), Tensor(), true), "bias has shape");
  EXPECT_KILN_ERROR(batch_norm_forward(x, Tensor(), Tensor(), zeros({2}), ones({2}), true), "running_mean has shape");
  EXPECT_KILN_ERROR(batch_norm_forward(x, Tensor(), Tensor(), Tensor(), Tensor(), false), "required in eval mode");
  EXPECT_KILN_ERROR(batch_norm_forward(zeros({1, 3}), Tensor(), Tensor(), Tensor(), Tensor(), true),
                    "more than 1 value per channel");
  EXPECT_KILN_ERROR(batch_norm_forward(zeros({2, 3}, DType::i64), Tensor(), Tensor(), Tensor(), Tensor(), true),
                    "floating");
  EXPECT_KILN_ERROR(batch_norm_backward(zeros({4, 3, 6}), x, Tensor(), zeros({3}), ones({3}), true), "dy has shape");
  EXPECT_KILN_ERROR(batch_norm_backward(zeros({4, 3, 5}), x, Tensor(), Tensor(), ones({3}), true), "save_mean");
  EXPECT_KILN_ERROR(batch_norm_forward(x, Tensor(), Tensor(), Tensor(), Tensor(), true, 0.1, 1e-5,
                                       BnActivation::silu),
                    "activation silu is not supported");
  EXPECT_KILN_ERROR(batch_norm_forward(x, Tensor(), Tensor(), Tensor(), Tensor(), true, 0.1, 1e-5,
                                       BnActivation::leaky_relu, NAN),
                    "slope must be finite");
  EXPECT_KILN_ERROR(batch_norm_backward(x, x, Tensor(), zeros({3}), ones({3}), true, zeros({2}), BnActivation::relu),
                    "bias has shape [2], expected [3]");
  EXPECT_KILN_ERROR(layer_norm(x, {4}), "does not end with normalized_shape [4]");
  EXPECT_KILN_ERROR(layer_norm(x, Shape{}), "normalized_shape must not be empty");
  EXPECT_KILN_ERROR(layer_norm(x, {5}, zeros({4})), "weight has shape [4], expected normalized_shape [5]");
  EXPECT_KILN_ERROR(layer_norm(x, {2, 3, 4, 5}), "fewer dims");
  EXPECT_KILN_ERROR(group_norm(x, 2), "number of channels 3 is not divisible by num_groups 2");
  EXPECT_KILN_ERROR(group_norm(x, 0), "num_groups must be positive");
  EXPECT_KILN_ERROR(group_norm(x, 3, zeros({4})), "weight has shape [4], expected [3]");
  auto gr = group_norm(x, 3);
  EXPECT_KILN_ERROR(group_norm_backward(x, x, gr.mean, gr.rstd, 1), "expected N * G = 4");
  auto r = layer_norm(x, {5});
  EXPECT_KILN_ERROR(layer_norm_backward(zeros({4, 3, 4}), x, r.mean, r.rstd), "dy has shape");
  EXPECT_KILN_ERROR(layer_norm_backward(x, x, zeros({7}), zeros({7})), "does not divide");
}

}  // namespace
}  // namespace kiln::test
