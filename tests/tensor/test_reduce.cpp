// Reductions (tensor/reduce.h): semantics and edge cases, golden values from PyTorch (var/std,
// logsumexp, norm; tools/golden/gen_reduce.py), misuse and determinism. The per-op forward checks
// against float64 references are the op-table rows of test_reduce_table.cpp.
#include <cmath>
#include <limits>

#include "kiln/kernels/cpu/isa.h"
#include "kiln/kernels/cpu/parallel.h"
#include "support/op_table.h"

namespace kiln::test {
namespace {

const double kNaN = std::numeric_limits<double>::quiet_NaN();
const double kInf = std::numeric_limits<double>::infinity();

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

// Non-contiguous inputs give the same values as their contiguous copies (whose values the op table
// checks): permuted, transposed (read in memory order without a copy) and expanded layouts.
TEST(Reduce, NonContiguousLayouts) {
  Tensor x = arange(60, DType::f64).reshape({3, 4, 5});
  Tensor t = x.permute({2, 0, 1});  // [5, 3, 4]
  Tensor tc = t.contiguous();
  EXPECT_TRUE(tensors_equal(sum(t, {1}), sum(tc, {1})));
  EXPECT_TRUE(tensors_equal(sum(t, {0, 2}, true), sum(tc, {0, 2}, true)));
  EXPECT_TRUE(tensors_close(var(t, {2, 0}), var(tc, {2, 0})));
  Tensor m = random_tensor({37, 11}, DType::f32, Domain::any, 3).t();  // [11, 37], strides [1, 11]
  Tensor mc = m.contiguous();
  EXPECT_TRUE(tensors_close(sum(m, {1}), sum(mc, {1})));
  EXPECT_TRUE(tensors_equal(amax(m, {0}, true), amax(mc, {0}, true)));
  EXPECT_TRUE(tensors_equal(argmax(m, 1), argmax(mc, 1)));
  EXPECT_TRUE(tensors_equal(argmin(m), argmin(mc)));
  EXPECT_EQ(argmin(m).item<int64_t>(), argmin(mc.reshape({-1})).item<int64_t>());
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
