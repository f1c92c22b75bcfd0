// The CPU references of the fused layer kernels (kernels/cpu/bn_act.h, kernels/cpu/lstm_cell.h)
// against compositions of kiln's tensor ops, which are themselves tested against PyTorch:
// batch_norm_forward / batch_norm_backward + the activation, and sigmoid / tanh / mul / add for the
// LSTM cell. Backward formulas are also checked against central differences in f64, which does not
// rely on any hand-written derivative. (Cross entropy: tests/nn/test_cross_entropy_kernel.cpp.)
#include <gtest/gtest.h>

#include <array>
#include <string>
#include <vector>

#include "kiln/kernels/cpu/bn_act.h"
#include "kiln/kernels/cpu/lstm_cell.h"
#include "support/op_table.h"

namespace kiln::test {
namespace {

DType param_dtype(DType d) { return d == DType::f64 ? DType::f64 : DType::f32; }

struct Act {
  BnActivation kind;
  double slope;
};
const std::vector<Act> kActs = {
    {BnActivation::none, 0.0}, {BnActivation::relu, 0.0}, {BnActivation::leaky_relu, 0.2}, {BnActivation::silu, 0.0}};

std::string act_str(const Act& a) { return bn_activation_name(a.kind); }

// ---- batch norm + activation: the kernel on tensors.
struct BnRun {
  Tensor y, mean, invstd;
};

// x [N, C, S]; w, b, rm, rv [C] of the parameter dtype or undefined (rm / rv are updated in place).
BnRun run_forward(const Tensor& x, const Tensor& w, const Tensor& b, const Tensor& rm, const Tensor& rv,
                  const BnActParams& p) {
  const int64_t N = x.size(0), C = x.size(1), S = x.size(2);
  const DType pd = param_dtype(x.dtype());
  BnRun r{kiln::empty(x.shape(), x.dtype()), kiln::empty({C}, pd), kiln::empty({C}, pd)};
  auto ptr = [](const Tensor& t) { return t.defined() ? t.data_ptr() : nullptr; };
  cpu::bn_act_forward(x.dtype(), x.data_ptr(), r.y.data_ptr(), ptr(w), ptr(b), ptr(rm), ptr(rv), r.mean.data_ptr(),
                      r.invstd.data_ptr(), N, C, S, p);
  return r;
}

struct BnGrads {
  Tensor dx, dw, db;
};
BnGrads run_backward(const Tensor& dy, const Tensor& x, const Tensor& w, const Tensor& b, const Tensor& mean,
                     const Tensor& invstd, const BnActParams& p) {
  const int64_t N = x.size(0), C = x.size(1), S = x.size(2);
  const DType pd = param_dtype(x.dtype());
  BnGrads g{kiln::empty(x.shape(), x.dtype()), kiln::empty({C}, pd), kiln::empty({C}, pd)};
  auto ptr = [](const Tensor& t) { return t.defined() ? t.data_ptr() : nullptr; };
  cpu::bn_act_backward(x.dtype(), dy.data_ptr(), x.data_ptr(), ptr(w), ptr(b), mean.data_ptr(), invstd.data_ptr(),
                       g.dx.data_ptr(), g.dw.data_ptr(), g.db.data_ptr(), N, C, S, p);
  return g;
}

// ---- the same from tensor ops.
Tensor act_tensor(const Act& a, const Tensor& z) {
  switch (a.kind) {
    case BnActivation::relu: return kiln::relu(z);
    case BnActivation::leaky_relu: return kiln::leaky_relu(z, a.slope);
    case BnActivation::silu: return kiln::silu(z);
    default: return z;
  }
}
// dy * act'(z), composed.
Tensor act_grad_tensor(const Act& a, const Tensor& z, const Tensor& dy) {
  switch (a.kind) {
    case BnActivation::relu: return kiln::mul(dy, kiln::gt(z, 0).to(dy.dtype()));
    case BnActivation::leaky_relu: return kiln::where(kiln::gt(z, 0), dy, kiln::mul(dy, a.slope));
    case BnActivation::silu: {
      Tensor s = kiln::sigmoid(z);
      return kiln::mul(dy, kiln::mul(s, kiln::add(kiln::mul(z, kiln::sub(1.0, s)), 1.0)));
    }
    default: return dy;
  }
}

struct Size3 {
  int64_t N, C, S;
};
std::string size_str(const Size3& s) {
  return "N=" + std::to_string(s.N) + " C=" + std::to_string(s.C) + " S=" + std::to_string(s.S);
}
// Training needs N * S > 1; C = 1 and S = 1 included, primes throughout.
const std::vector<Size3> kTrainSizes = {{2, 1, 1},  {1, 1, 2},  {3, 2, 1},  {2, 3, 5},
                                        {7, 3, 13}, {1, 5, 31}, {11, 1, 2}, {17, 4, 1}};
// Eval also takes a single value per channel and empty batches.
const std::vector<Size3> kEvalSizes = {{1, 1, 1}, {0, 3, 5}, {2, 0, 3}, {3, 2, 0}, {5, 3, 7}, {1, 7, 1}};

Tol tol_for(DType d) { return d == DType::f64 ? Tol{1e-10, 1e-10} : Tol{2e-5, 2e-5}; }

// Parameters with a shift: the statistics see an offset of 3 (the shifted sums are exercised).
Tensor random_x(const Size3& s, DType d, uint64_t seed) {
  return kiln::add(random_tensor({s.N, s.C, s.S}, d, Domain::any, seed), 3.0);
}

void check_bn_against_tensor_ops(const Size3& sz, DType d, const Act& a, bool training, bool affine) {
  SCOPED_TRACE(size_str(sz) + " " + dtype_name(d) + " act=" + act_str(a) + (training ? " train" : " eval") +
               (affine ? " affine" : ""));
  const DType pd = param_dtype(d);
  const int64_t C = sz.C;
  Tensor x = random_x(sz, d, 1 + uint64_t(sz.N * 100 + sz.C * 10 + sz.S));
  Tensor w = affine ? random_tensor({C}, pd, Domain::nonzero, 5) : Tensor();
  Tensor b = affine ? random_tensor({C}, pd, Domain::any, 6) : Tensor();
  Tensor rm = random_tensor({C}, pd, Domain::any, 7), rv = random_tensor({C}, pd, Domain::positive, 8);
  Tensor rm_ref = rm.clone(), rv_ref = rv.clone();
  BnActParams p;
  p.act = a.kind;
  p.slope = a.slope;
  p.training = training;
  p.momentum = 0.3;
  p.eps = 1e-4;
  BnRun k = run_forward(x, w, b, rm, rv, p);
  BatchNormResult ref = kiln::batch_norm_forward(x, w, b, rm_ref, rv_ref, training, p.momentum, p.eps);
  const Tol t = tol_for(d);
  EXPECT_TRUE(tensors_close(k.y, act_tensor(a, ref.y), t.rtol, t.atol));
  EXPECT_TRUE(tensors_close(k.mean, ref.save_mean, t.rtol, t.atol));
  EXPECT_TRUE(tensors_close(k.invstd, ref.save_invstd, t.rtol, t.atol));
  EXPECT_TRUE(tensors_close(rm, rm_ref, t.rtol, t.atol));
  EXPECT_TRUE(tensors_close(rv, rv_ref, t.rtol, t.atol));

  Tensor dy = random_tensor(x.shape(), d, Domain::any, 9);
  BnGrads g = run_backward(dy, x, w, b, k.mean, k.invstd, p);
  Tensor dz = act_grad_tensor(a, ref.y, dy);
  NormGrads gr = kiln::batch_norm_backward(dz, x, w, ref.save_mean, ref.save_invstd, training);
  EXPECT_TRUE(tensors_close(g.dx, gr.dx, t.rtol, t.atol));
  // dweight / dbias sum N * S terms: scale the absolute tolerance with their count.
  const double sum_atol = t.atol * double(std::max<int64_t>(1, sz.N * sz.S));
  EXPECT_TRUE(tensors_close(g.dw, gr.dweight.to(pd), t.rtol, sum_atol));
  EXPECT_TRUE(tensors_close(g.db, gr.dbias.to(pd), t.rtol, sum_atol));
}

TEST(FusedBnAct, TrainingMatchesTensorOps) {
  for (DType d : {DType::f64, DType::f32})
    for (const Act& a : kActs)
      for (const Size3& s : kTrainSizes)
        for (bool affine : {true, false}) check_bn_against_tensor_ops(s, d, a, true, affine);
}

TEST(FusedBnAct, EvalMatchesTensorOps) {
  for (DType d : {DType::f64, DType::f32})
    for (const Act& a : kActs)
      for (const Size3& s : kEvalSizes)
        for (bool affine : {true, false}) check_bn_against_tensor_ops(s, d, a, false, affine);
}

// Directional derivatives of L = sum(y * r) along random v, by central differences of the
// kernel's own forward (f64), against the kernel's backward.
TEST(FusedBnAct, BackwardMatchesFiniteDifferences) {
  for (const Act& a : kActs) {
    for (bool training : {true, false}) {
      for (const Size3& sz : std::vector<Size3>{{2, 1, 3}, {3, 2, 5}, {5, 3, 1}}) {
        SCOPED_TRACE(size_str(sz) + " act=" + act_str(a) + (training ? " train" : " eval"));
        const int64_t C = sz.C;
        Tensor x = random_x(sz, DType::f64, 21), r = random_tensor(x.shape(), DType::f64, Domain::any, 22);
        Tensor w = random_tensor({C}, DType::f64, Domain::nonzero, 23),
               b = random_tensor({C}, DType::f64, Domain::any, 24);
        Tensor rm = random_tensor({C}, DType::f64, Domain::any, 25),
               rv = random_tensor({C}, DType::f64, Domain::positive, 26);
        BnActParams p;
        p.act = a.kind;
        p.slope = 0.1;
        p.training = training;
        // Running statistics: read in eval, and (cloned) updated in training; L does not see them.
        auto loss = [&](const Tensor& xx, const Tensor& ww, const Tensor& bb) {
          Tensor m = rm.clone(), v = rv.clone();
          return kiln::sum(kiln::mul(run_forward(xx, ww, bb, m, v, p).y, r)).item<double>();
        };
        Tensor m0 = rm.clone(), v0 = rv.clone();
        BnRun f = run_forward(x, w, b, m0, v0, p);
        BnGrads g = run_backward(r, x, w, b, f.mean, f.invstd, p);
        const double eps = 1e-6;
        auto check = [&](const Tensor& t, const Tensor& grad, int which, const char* name) {
          Tensor v = random_tensor(t.shape(), DType::f64, Domain::any, 30 + which);
          Tensor tp = kiln::add(t, kiln::mul(v, eps)), tm = kiln::sub(t, kiln::mul(v, eps));
          auto at = [&](const Tensor& tt) {
            return loss(which == 0 ? tt : x, which == 1 ? tt : w, which == 2 ? tt : b);
          };
          const double numeric = (at(tp) - at(tm)) / (2 * eps);
          const double analytic = kiln::sum(kiln::mul(grad, v)).item<double>();
          EXPECT_NEAR(analytic, numeric, 1e-6 + 1e-5 * std::abs(numeric)) << name;
        };
        check(x, g.dx, 0, "dx");
        check(w, g.dw, 1, "dweight");
        check(b, g.db, 2, "dbias");
      }
    }
  }
}

TEST(FusedBnAct, HalfPrecisionIoComputesInFloat) {
  // f16 / bf16 data with f32 statistics: the same as the f32 kernel on the rounded inputs, up to
  // the rounding of the outputs.
  const Size3 sz{4, 3, 5};
  for (DType d : {DType::f16, DType::bf16}) {
    for (const Act& a : kActs) {
      SCOPED_TRACE(std::string(dtype_name(d)) + " act=" + act_str(a));
      Tensor x = random_x(sz, DType::f32, 40).to(d), x32 = x.to(DType::f32);
      Tensor w = random_tensor({3}, DType::f32, Domain::nonzero, 41),
             b = random_tensor({3}, DType::f32, Domain::any, 42);
      BnActParams p;
      p.act = a.kind;
      BnRun h = run_forward(x, w, b, Tensor(), Tensor(), p), f = run_forward(x32, w, b, Tensor(), Tensor(), p);
      EXPECT_EQ(h.y.dtype(), d);
      EXPECT_TRUE(tensors_equal(h.y, f.y.to(d)));
      EXPECT_TRUE(tensors_equal(h.mean, f.mean));
      Tensor dy = random_tensor(x.shape(), DType::f32, Domain::any, 43).to(d);
      BnGrads gh = run_backward(dy, x, w, b, h.mean, h.invstd, p),
              gf = run_backward(dy.to(DType::f32), x32, w, b, f.mean, f.invstd, p);
      EXPECT_TRUE(tensors_equal(gh.dx, gf.dx.to(d)));
      EXPECT_TRUE(tensors_close(gh.dw, gf.dw, 1e-6, 1e-6));
      EXPECT_TRUE(tensors_close(gh.db, gf.db, 1e-6, 1e-6));
    }
  }
}

TEST(FusedBnAct, LargeOffsetKeepsVarianceAccurate) {
  // Values 1e4 + U(-3, 3) in f32: unshifted f32 sums of squares would lose the variance.
  Tensor x = kiln::add(random_tensor({64, 2, 9}, DType::f32, Domain::any, 50), 1e4);
  BnActParams p;
  BnRun k = run_forward(x, Tensor(), Tensor(), Tensor(), Tensor(), p);
  BatchNormResult ref =
      kiln::batch_norm_forward(x.to(DType::f64), Tensor(), Tensor(), Tensor(), Tensor(), true, 0.1, 1e-5);
  EXPECT_TRUE(tensors_close(k.invstd, ref.save_invstd.to(DType::f32), 1e-5, 0));
}

TEST(FusedBnAct, ChecksArguments) {
  float x[4] = {1, 2, 3, 4}, y[4], m[2], is[2];
  BnActParams p;
  EXPECT_KILN_ERROR(cpu::bn_act_forward(DType::f32, x, y, nullptr, nullptr, nullptr, nullptr, m, is, 1, 2, 1, p),
                    "more than 1 value per channel");
  p.training = false;
  EXPECT_KILN_ERROR(cpu::bn_act_forward(DType::f32, x, y, nullptr, nullptr, nullptr, nullptr, m, is, 2, 2, 1, p),
                    "eval mode needs running_mean");
  EXPECT_KILN_ERROR(cpu::bn_act_forward(DType::f32, x, y, nullptr, nullptr, m, nullptr, m, is, 2, 2, 1, p),
                    "given together");
  EXPECT_KILN_ERROR(cpu::bn_act_forward(DType::i64, x, y, nullptr, nullptr, m, is, m, is, 2, 2, 1, p),
                    "not a floating dtype");
  p.act = static_cast<BnActivation>(9);
  EXPECT_KILN_ERROR(cpu::bn_act_forward(DType::f32, x, y, nullptr, nullptr, m, is, m, is, 2, 2, 1, p),
                    "unknown activation");
}

// ---- LSTM cell.
struct Cell {
  Tensor h, c;
};
Cell run_cell(const Tensor& gates, const Tensor& c_prev) {
  const int64_t B = c_prev.size(0), H = c_prev.size(1);
  Cell r{kiln::empty({B, H}, gates.dtype()), kiln::empty({B, H}, gates.dtype())};
  cpu::lstm_cell_forward(gates.dtype(), gates.data_ptr(), c_prev.data_ptr(), r.h.data_ptr(), r.c.data_ptr(), B, H);
  return r;
}

const std::vector<std::pair<int64_t, int64_t>> kCellSizes = {{1, 1}, {0, 3}, {3, 0}, {2, 5}, {7, 13}, {31, 2}, {4, 67}};

TEST(FusedLstmCell, ForwardMatchesTensorOps) {
  for (DType d : {DType::f64, DType::f32}) {
    for (auto [B, H] : kCellSizes) {
      SCOPED_TRACE(std::string(dtype_name(d)) + " B=" + std::to_string(B) + " H=" + std::to_string(H));
      Tensor gates = random_tensor({B, 4 * H}, d, Domain::any, 60 + B), c0 = random_tensor({B, H}, d, Domain::any, 61);
      Cell k = run_cell(gates, c0);
      std::vector<Tensor> g4 = kiln::chunk(gates, 4, 1);
      if (H == 0) g4 = {gates, gates, gates, gates};  // chunk of an empty dim
      Tensor c = kiln::add(kiln::mul(kiln::sigmoid(g4[1]), c0), kiln::mul(kiln::sigmoid(g4[0]), kiln::tanh(g4[2])));
      Tensor h = kiln::mul(kiln::sigmoid(g4[3]), kiln::tanh(c));
      const Tol t = tol_for(d);
      EXPECT_TRUE(tensors_close(k.c, c, t.rtol, t.atol));
      EXPECT_TRUE(tensors_close(k.h, h, t.rtol, t.atol));
    }
  }
}

// Backward against central differences of the forward kernel (f64), with dh and/or dc absent.
TEST(FusedLstmCell, BackwardMatchesFiniteDifferences) {
  for (auto [B, H] : std::vector<std::pair<int64_t, int64_t>>{{1, 1}, {2, 3}, {3, 7}}) {
    for (int which : {0, 1, 2}) {  // 0: dh and dc, 1: dh only, 2: dc only
      SCOPED_TRACE("B=" + std::to_string(B) + " H=" + std::to_string(H) + " case " + std::to_string(which));
      Tensor gates = random_tensor({B, 4 * H}, DType::f64, Domain::any, 70),
             c0 = random_tensor({B, H}, DType::f64, Domain::any, 71);
      Tensor rh = random_tensor({B, H}, DType::f64, Domain::any, 72),
             rc = random_tensor({B, H}, DType::f64, Domain::any, 73);
      if (which == 2) rh = kiln::zeros({B, H}, DType::f64);
      if (which == 1) rc = kiln::zeros({B, H}, DType::f64);
      auto loss = [&](const Tensor& g, const Tensor& c) {
        Cell r = run_cell(g, c);
        return kiln::add(kiln::sum(kiln::mul(r.h, rh)), kiln::sum(kiln::mul(r.c, rc))).item<double>();
      };
      Tensor dg = kiln::empty({B, 4 * H}, DType::f64), dc = kiln::empty({B, H}, DType::f64);
      cpu::lstm_cell_backward(DType::f64, gates.data_ptr(), c0.data_ptr(), which == 2 ? nullptr : rh.data_ptr(),
                              which == 1 ? nullptr : rc.data_ptr(), dg.data_ptr(), dc.data_ptr(), B, H);
      const double eps = 1e-6;
      for (int input : {0, 1}) {
        const Tensor& t = input == 0 ? gates : c0;
        Tensor v = random_tensor(t.shape(), DType::f64, Domain::any, 80 + input);
        auto at = [&](double s) {
          Tensor tt = kiln::add(t, kiln::mul(v, s));
          return input == 0 ? loss(tt, c0) : loss(gates, tt);
        };
        const double numeric = (at(eps) - at(-eps)) / (2 * eps);
        const double analytic = kiln::sum(kiln::mul(input == 0 ? dg : dc, v)).item<double>();
        EXPECT_NEAR(analytic, numeric, 1e-7 + 1e-6 * std::abs(numeric)) << (input == 0 ? "dgates" : "dc_prev");
      }
    }
  }
}

TEST(FusedLstmCell, NullDcPrevIsNotWritten) {
  Tensor gates = random_tensor({2, 8}, DType::f32, Domain::any, 90),
         c0 = random_tensor({2, 2}, DType::f32, Domain::any, 91);
  Tensor dh = random_tensor({2, 2}, DType::f32, Domain::any, 92);
  Tensor dg1 = kiln::empty({2, 8}), dg2 = kiln::empty({2, 8}), dc = kiln::empty({2, 2});
  cpu::lstm_cell_backward(DType::f32, gates.data_ptr(), c0.data_ptr(), dh.data_ptr(), nullptr, dg1.data_ptr(),
                          dc.data_ptr(), 2, 2);
  cpu::lstm_cell_backward(DType::f32, gates.data_ptr(), c0.data_ptr(), dh.data_ptr(), nullptr, dg2.data_ptr(), nullptr,
                          2, 2);
  EXPECT_TRUE(tensors_equal(dg1, dg2));
}

}  // namespace
}  // namespace kiln::test
