// The fused cross-entropy CPU reference (kernels/cpu/cross_entropy.h) against nn::cross_entropy
// (golden-tested against PyTorch in test_loss.cpp), values and logit gradients, for every option:
// class weights, ignore_index, label smoothing, the three reductions, masked (-inf) logits, and
// sizes with N = 0, 1 and primes, C = 1.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "kiln/autograd/ops.h"
#include "kiln/kernels/cpu/cross_entropy.h"
#include "kiln/nn/loss.h"
#include "support/op_table.h"

namespace kiln::test {
namespace {

DType param_dtype(DType d) { return d == DType::f64 ? DType::f64 : DType::f32; }

CeReduction to_kernel(nn::Reduction r) {
  return r == nn::Reduction::none ? CeReduction::none : r == nn::Reduction::sum ? CeReduction::sum : CeReduction::mean;
}
const char* red_name(nn::Reduction r) {
  return r == nn::Reduction::none ? "none" : r == nn::Reduction::sum ? "sum" : "mean";
}

struct KernelRun {
  Tensor loss, lse, denom, dlogits;
};

// The kernel's forward and backward on tensors: x [N, C], target [N] i64, weight [C] or undefined,
// dloss of the loss's shape ([N] for none, else one value).
KernelRun run_kernel(const Tensor& x, const Tensor& target, const Tensor& weight, const CrossEntropyParams& p,
                     const Tensor& dloss) {
  const int64_t N = x.size(0), C = x.size(1);
  const DType pd = param_dtype(x.dtype());
  KernelRun r;
  r.loss = kiln::empty({p.reduction == CeReduction::none ? N : 1}, x.dtype());
  r.lse = kiln::empty({N}, pd);
  r.denom = kiln::empty({1}, pd);
  r.dlogits = kiln::empty({N, C}, x.dtype());
  const void* w = weight.defined() ? weight.data_ptr() : nullptr;
  cpu::cross_entropy_forward(x.dtype(), x.data_ptr(), target.data<int64_t>(), w, N, C, p, r.loss.data_ptr(),
                             r.lse.data_ptr(), r.denom.data_ptr());
  Tensor g = dloss.to(x.dtype()).contiguous();
  cpu::cross_entropy_backward(x.dtype(), g.data_ptr(), x.data_ptr(), target.data<int64_t>(), w, r.lse.data_ptr(),
                              r.denom.data_ptr(), N, C, p, r.dlogits.data_ptr());
  return r;
}

// Targets in [0, C), with about a third of the rows set to ignore_index when `ignore`.
Tensor make_target(int64_t N, int64_t C, bool ignore, int64_t ignore_index, uint64_t seed) {
  Generator gen(seed);
  Tensor t = kiln::randint(0, C, {N}, DType::i64, &gen);
  if (ignore && N > 0) {
    Tensor drop = kiln::lt(kiln::rand({N}, DType::f32, &gen), 0.34);
    t = kiln::where(drop, Scalar(ignore_index), t);
  }
  return t.contiguous();
}

struct Case {
  int64_t N, C;
  bool weighted, ignore;
  int64_t ignore_index;
  double eps;
  nn::Reduction reduction;
};

std::string case_str(const Case& c, DType d) {
  return std::string(dtype_name(d)) + " N=" + std::to_string(c.N) + " C=" + std::to_string(c.C) +
         (c.weighted ? " weighted" : "") + (c.ignore ? " ignore=" + std::to_string(c.ignore_index) : "") +
         " eps=" + std::to_string(c.eps) + " " + red_name(c.reduction);
}

void check_case(const Case& c, DType d, const Tensor& x_in) {
  SCOPED_TRACE(case_str(c, d));
  const DType pd = param_dtype(d);
  Tensor x = x_in.to(d).contiguous();
  Tensor target = make_target(c.N, c.C, c.ignore, c.ignore_index, 3 + uint64_t(c.N));
  Tensor weight = c.weighted ? random_tensor({c.C}, pd, Domain::positive, 4) : Tensor();
  CrossEntropyParams p;
  p.ignore_index = c.ignore_index;
  p.label_smoothing = c.eps;
  p.reduction = to_kernel(c.reduction);
  Tensor dloss =
      c.reduction == nn::Reduction::none ? random_tensor({c.N}, d, Domain::any, 5) : kiln::full({1}, 1.75, d);
  KernelRun k = run_kernel(x, target, weight, p, dloss);

  Tensor xr = x.clone();
  ag::set_requires_grad(xr);
  Tensor y = nn::cross_entropy(xr, target, weight, c.ignore_index, c.reduction, c.eps);
  const bool fp64 = d == DType::f64;
  const double rtol = fp64 ? 1e-12 : 2e-5, atol = fp64 ? 1e-12 : 2e-6;
  EXPECT_TRUE(tensors_close(k.loss.reshape(y.shape()), y, rtol, atol)) << "loss";
  if (c.N > 0 && !std::isnan(k.loss.to(DType::f64).to_vector<double>().back())) {
    ag::backward(y, c.reduction == nn::Reduction::none ? dloss : dloss.reshape({}));
    EXPECT_TRUE(tensors_close(k.dlogits, ag::grad(xr), rtol, atol)) << "dlogits";
  }
  // lse is the logsumexp of each row; denom the weight of the non-ignored targets.
  if (c.N > 0) {
    EXPECT_TRUE(tensors_close(k.lse, kiln::logsumexp(x.to(pd), {1}), rtol, atol)) << "lse";
  }
  Tensor keep = kiln::ne(target, c.ignore_index).to(pd);
  Tensor safe_target = kiln::where(keep.to(DType::b8), target, Scalar(int64_t(0)));
  Tensor wt = c.weighted ? kiln::index_select(weight, 0, safe_target) : kiln::ones({c.N}, pd);
  EXPECT_NEAR(k.denom.item<double>(), kiln::sum(kiln::mul(wt, keep), {}, false, DType::f64).item<double>(), 1e-5)
      << "denom";
}

TEST(CrossEntropyKernel, MatchesNnCrossEntropyForEveryOption) {
  const std::vector<std::pair<int64_t, int64_t>> sizes = {{1, 1}, {1, 5}, {7, 2}, {13, 31}, {0, 3}, {4, 1}};
  for (DType d : {DType::f64, DType::f32}) {
    for (auto [N, C] : sizes) {
      Tensor x = kiln::mul(random_tensor({N, C}, DType::f64, Domain::any, 10 + uint64_t(N * 7 + C)), 2.0);
      for (bool weighted : {false, true})
        for (bool ignore : {false, true})
          for (double eps : {0.0, 0.1, 1.0})
            for (nn::Reduction r : {nn::Reduction::none, nn::Reduction::sum, nn::Reduction::mean})
              check_case({N, C, weighted, ignore, -100, eps, r}, d, x);
    }
  }
}

TEST(CrossEntropyKernel, IgnoreIndexMayBeAClass) {
  // ignore_index = 2 is also a valid class: its rows contribute nothing, as in PyTorch.
  Tensor x = random_tensor({11, 5}, DType::f64, Domain::any, 20);
  for (DType d : {DType::f64, DType::f32})
    for (nn::Reduction r : {nn::Reduction::none, nn::Reduction::sum, nn::Reduction::mean})
      for (double eps : {0.0, 0.2}) check_case({11, 5, true, true, 2, eps, r}, d, x);
}

TEST(CrossEntropyKernel, MaskedLogitsOfZeroWeightClassesAddNothing) {
  // Class 0 has weight 0 and logit -inf in every row: q = 0 there, so no NaN from 0 * -inf.
  const int64_t N = 6, C = 4;
  for (double eps : {0.0, 0.3}) {
    SCOPED_TRACE("eps=" + std::to_string(eps));
    Tensor x = random_tensor({N, C}, DType::f64, Domain::any, 30);
    x.select(1, 0).copy_(kiln::full({N}, -std::numeric_limits<double>::infinity(), DType::f64));
    Tensor target = kiln::add(make_target(N, C - 1, false, -100, 31), 1);  // never class 0
    Tensor weight = kiln::tensor({0.0, 1.0, 2.0, 0.5}, DType::f64);
    CrossEntropyParams p;
    p.label_smoothing = eps;
    p.reduction = CeReduction::mean;
    KernelRun k = run_kernel(x, target, weight, p, kiln::full({1}, 1.0, DType::f64));
    Tensor xr = x.clone();
    ag::set_requires_grad(xr);
    Tensor y = nn::cross_entropy(xr, target, weight, -100, nn::Reduction::mean, eps);
    ASSERT_TRUE(std::isfinite(y.item<double>()));
    EXPECT_NEAR(k.loss.item<double>(), y.item<double>(), 1e-12);
    ag::backward(y);
    EXPECT_TRUE(tensors_close(k.dlogits, ag::grad(xr), 1e-12, 1e-12));
  }
}

TEST(CrossEntropyKernel, AllRowsIgnoredMeanIsNaN) {
  Tensor x = random_tensor({3, 4}, DType::f32, Domain::any, 40);
  Tensor target = kiln::full({3}, -100, DType::i64);
  CrossEntropyParams p;
  KernelRun k = run_kernel(x, target, Tensor(), p, kiln::full({1}, 1.0, DType::f32));
  EXPECT_TRUE(std::isnan(k.loss.item<float>()));
  EXPECT_TRUE(std::isnan(nn::cross_entropy(x, target).item<float>()));
  EXPECT_TRUE(tensors_equal(k.dlogits, kiln::zeros({3, 4})));  // ignored rows get no gradient
}

TEST(CrossEntropyKernel, HalfPrecisionIoComputesInFloat) {
  // f16 / bf16 logits: the same as the f32 kernel on the rounded logits, up to output rounding.
  Tensor x = random_tensor({9, 7}, DType::f32, Domain::any, 50);
  Tensor target = make_target(9, 7, true, -100, 51);
  Tensor weight = random_tensor({7}, DType::f32, Domain::positive, 52);
  for (DType d : {DType::f16, DType::bf16}) {
    for (CeReduction r : {CeReduction::none, CeReduction::sum, CeReduction::mean}) {
      SCOPED_TRACE(std::string(dtype_name(d)) + " reduction " + std::to_string(int(r)));
      CrossEntropyParams p;
      p.label_smoothing = 0.05;
      p.reduction = r;
      Tensor dloss =
          r == CeReduction::none ? random_tensor({9}, DType::f32, Domain::any, 53).to(d) : kiln::full({1}, 0.5, d);
      Tensor xh = x.to(d);
      KernelRun h = run_kernel(xh, target, weight, p, dloss);
      KernelRun f = run_kernel(xh.to(DType::f32), target, weight, p, dloss.to(DType::f32));
      EXPECT_TRUE(tensors_equal(h.loss, f.loss.to(d)));
      EXPECT_TRUE(tensors_equal(h.lse, f.lse));
      EXPECT_TRUE(tensors_equal(h.dlogits, f.dlogits.to(d)));
    }
  }
}

TEST(CrossEntropyKernel, ChecksArguments) {
  float x[6] = {0, 1, 2, 3, 4, 5}, loss[2], lse[2], denom[1];
  int64_t bad[2] = {0, 3};
  CrossEntropyParams p;
  EXPECT_KILN_ERROR(cpu::cross_entropy_forward(DType::f32, x, bad, nullptr, 2, 3, p, loss, lse, denom),
                    "target 3 of row 1 is out of range");
  int64_t ok[2] = {0, 2};
  p.label_smoothing = 1.5;
  EXPECT_KILN_ERROR(cpu::cross_entropy_forward(DType::f32, x, ok, nullptr, 2, 3, p, loss, lse, denom),
                    "label_smoothing");
  p.label_smoothing = 0;
  EXPECT_KILN_ERROR(cpu::cross_entropy_forward(DType::f32, x, ok, nullptr, 2, 0, p, loss, lse, denom), "C >= 1");
  EXPECT_KILN_ERROR(cpu::cross_entropy_backward(DType::f32, loss, x, ok, nullptr, lse, nullptr, 2, 3, p, x),
                    "reduction mean needs denom");
}

}  // namespace
}  // namespace kiln::test
