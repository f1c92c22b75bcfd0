// CPU-vs-CUDA parity of the reductions (tensor/reduce.cpp, reduce_arg.cpp, cumsum.cpp): every
// reduction kind x dims (all, inner, outer, middle, split, permuted, keepdim) x dtypes x shapes (0,
// 1, primes, 1x1000003, 1000003x3, 257x513, non-contiguous), arg-reduction ties and NaN, cumsum of
// long rows, run-twice bit equality. Guard mode catches out-of-bounds writes. Skips without a GPU.
#if KILN_HAVE_CUDA
#include <functional>
#include <limits>
#include <vector>

#include "support/cuda_parity.h"
#include "support/op_table.h"

namespace kiln::test {
namespace {

struct Case {
  Shape shape;
  Shape dims;
  bool keepdim;
};

const std::vector<Case>& shape_cases() {
  static const std::vector<Case> cases = {
      {{0}, {}, false},
      {{2, 0, 3}, {1}, false},
      {{2, 0, 3}, {0}, true},
      {{2, 0, 3}, {}, false},
      {{1}, {}, false},
      {{7}, {0}, true},
      {{1, 1000003}, {1}, false},
      {{1, 1000003}, {}, false},
      {{1000003, 3}, {0}, false},
      {{1000003, 3}, {1}, true},
      {{257, 513}, {0}, false},
      {{257, 513}, {1}, false},
      {{257, 513}, {}, true},
      {{5, 7, 11}, {1}, false},      // middle
      {{5, 7, 11}, {0, 2}, true},    // leading + trailing: split layout
      {{5, 7, 11}, {0, 1}, false},   // outer (column reduce)
      {{4, 6, 5, 3}, {1, 3}, false}, // not adjacent, not split: permuted copy
      {{3, 4099}, {1}, false},       // block per row
      {{2, 70001}, {1}, false},      // two-pass rows
      {{64, 40, 300}, {0, 2}, false},
      {{300, 2, 3000}, {0, 2}, false},  // two-pass split, chunks across segments
      {{3, 1, 2000, 5}, {2}, false},    // two-pass columns
  };
  return cases;
}

struct Kind {
  const char* name;
  std::function<Tensor(const Tensor&, const Shape&, bool)> run;
  bool floating_only;
};

const std::vector<Kind>& kinds() {
  static const std::vector<Kind> k = {
      {"sum", [](const Tensor& x, const Shape& d, bool kd) { return sum(x, d, kd); }, false},
      {"mean", [](const Tensor& x, const Shape& d, bool kd) { return mean(x, d, kd); }, true},
      {"amax", [](const Tensor& x, const Shape& d, bool kd) { return amax(x, d, kd); }, false},
      {"amin", [](const Tensor& x, const Shape& d, bool kd) { return amin(x, d, kd); }, false},
      {"any", [](const Tensor& x, const Shape& d, bool kd) { return any(x, d, kd); }, false},
      {"all", [](const Tensor& x, const Shape& d, bool kd) { return kiln::all(x, d, kd); }, false},
      {"var1", [](const Tensor& x, const Shape& d, bool kd) { return var(x, d, 1.0, kd); }, true},
      {"var0", [](const Tensor& x, const Shape& d, bool kd) { return var(x, d, 0.0, kd); }, true},
      {"std1", [](const Tensor& x, const Shape& d, bool kd) { return kiln::std(x, d, 1.0, kd); }, true},
      {"var_mean.mean", [](const Tensor& x, const Shape& d, bool kd) { return var_mean(x, d, 1.0, kd).mean; }, true},
      {"norm1", [](const Tensor& x, const Shape& d, bool kd) { return norm(x, 1.0, d, kd); }, true},
      {"norm2", [](const Tensor& x, const Shape& d, bool kd) { return norm(x, 2.0, d, kd); }, true},
      {"norm3", [](const Tensor& x, const Shape& d, bool kd) { return norm(x, 3.0, d, kd); }, true},
      {"norm_inf", [](const Tensor& x, const Shape& d, bool kd) { return norm(x, INFINITY, d, kd); }, true},
      {"logsumexp", [](const Tensor& x, const Shape& d, bool kd) { return logsumexp(x, d, kd); }, true},
  };
  return k;
}

using test::kAllDTypes;

// Runs `run` on the CPU input and on its CUDA copy and compares (an error on the CPU must be an
// error on CUDA too).
void check_parity(const std::function<Tensor(const Tensor&)>& run, const Tensor& x_cpu, const Tensor& x_dev) {
  Tensor want;
  try {
    want = run(x_cpu);
  } catch (const Error&) {
    EXPECT_THROW(run(x_dev), Error);
    return;
  }
  Tensor got = run(x_dev);
  EXPECT_TRUE(got.device().is_cuda());
  EXPECT_TRUE(parity(got, want, true));
}

TEST(ReduceCuda, EveryKindDimsAndDType) {
  KILN_REQUIRE_GPU();
  GuardScope guard;
  uint64_t seed = 1;
  for (const Case& c : shape_cases()) {
    for (DType dt : kAllDTypes) {
      const Tensor x = random_tensor(c.shape, dt, Domain::any, seed++);
      const Tensor xd = x.to(kCUDA);
      for (const Kind& k : kinds()) {
        if (k.floating_only && !is_floating(dt)) continue;
        SCOPED_TRACE(::testing::Message() << k.name << " " << dtype_name(dt) << " shape " << c.shape << " dims "
                                          << c.dims << " keepdim " << c.keepdim);
        check_parity([&](const Tensor& t) { return k.run(t, c.dims, c.keepdim); }, x, xd);
      }
      // Products of values near 1 (no overflow); integer products only for small inputs.
      if (is_floating(dt) || c.shape.numel() <= 4096) {
        const Tensor p = is_floating(dt) ? (random_tensor(c.shape, DType::f64, Domain::unit, seed++) * 0.05 + 1.0).to(dt)
                                         : x;
        SCOPED_TRACE(::testing::Message() << "prod " << dtype_name(dt) << " shape " << c.shape);
        check_parity([&](const Tensor& t) { return prod(t, c.dims, c.keepdim); }, p, p.to(kCUDA));
      }
    }
  }
  EXPECT_TRUE(guards_intact());
}

TEST(ReduceCuda, NonContiguousInputs) {
  KILN_REQUIRE_GPU();
  GuardScope guard;
  for (DType dt : {DType::f32, DType::f16, DType::i64}) {
    const Tensor x = random_tensor({257, 513}, dt, Domain::any, 7);
    const Tensor t = x.transpose(0, 1), td = x.to(kCUDA).transpose(0, 1);
    const Tensor s = x.slice(1, 0, 513, 2), sd = x.to(kCUDA).slice(1, 0, 513, 2);
    for (const Shape& dims : {Shape{0}, Shape{1}, Shape{}}) {
      SCOPED_TRACE(::testing::Message() << dtype_name(dt) << " dims " << dims);
      check_parity([&](const Tensor& v) { return sum(v, dims); }, t, td);
      check_parity([&](const Tensor& v) { return amax(v, dims, true); }, s, sd);
      if (is_floating(dt)) check_parity([&](const Tensor& v) { return var(v, dims); }, s, sd);
      check_parity([&](const Tensor& v) { return argmax(v, dims.empty() ? std::nullopt : std::optional<int64_t>(dims[0])); },
                   t, td);
    }
  }
  EXPECT_TRUE(guards_intact());
}

TEST(ReduceCuda, NaNAndInfinities) {
  KILN_REQUIRE_GPU();
  GuardScope guard;
  const float nan = std::numeric_limits<float>::quiet_NaN(), inf = std::numeric_limits<float>::infinity();
  // Rows: a NaN in the middle, all -inf, +inf and -inf, plain.
  std::vector<float> v = {1, nan, 3, -2, -inf, -inf, -inf, -inf, inf, 2, -inf, 0, 4, 4, -1, 4};
  for (DType dt : {DType::f32, DType::f64, DType::f16, DType::bf16}) {
    const Tensor x = from_vector(v, {4, 4}).to(dt);
    const Tensor xd = x.to(kCUDA);
    for (const Shape& dims : {Shape{1}, Shape{0}, Shape{}}) {
      SCOPED_TRACE(::testing::Message() << dtype_name(dt) << " dims " << dims);
      for (const Kind& k : kinds()) {
        SCOPED_TRACE(k.name);
        check_parity([&](const Tensor& t) { return k.run(t, dims, false); }, x, xd);
      }
    }
  }
  EXPECT_TRUE(guards_intact());
}

// Exact equality of f(x) on the CPU and f(xd) on CUDA (an error on the CPU must be one on CUDA).
void check_exact(const std::function<Tensor(const Tensor&)>& f, const Tensor& x, const Tensor& xd) {
  Tensor want;
  try {
    want = f(x);
  } catch (const Error&) {
    EXPECT_THROW(f(xd), Error);
    return;
  }
  const Tensor got = f(xd);
  EXPECT_EQ(got.dtype(), want.dtype());
  EXPECT_TRUE(tensors_equal(got.cpu(), want));
}

// Values and indices of max/min along a dim, argmax/argmin along a dim and over everything.
void check_arg(const Tensor& x, const Tensor& xd, const std::string& what) {
  SCOPED_TRACE(what);
  for (int64_t d = 0; d < x.dim(); ++d) {
    for (bool kd : {false, true}) {
      SCOPED_TRACE(::testing::Message() << "dim " << d << " keepdim " << kd);
      check_exact([&](const Tensor& t) { return max(t, d, kd).indices; }, x, xd);
      check_exact([&](const Tensor& t) { return max(t, d, kd).values; }, x, xd);
      check_exact([&](const Tensor& t) { return min(t, d, kd).indices; }, x, xd);
      check_exact([&](const Tensor& t) { return min(t, d, kd).values; }, x, xd);
      check_exact([&](const Tensor& t) { return argmax(t, d, kd); }, x, xd);
      check_exact([&](const Tensor& t) { return argmin(t, d, kd); }, x, xd);
    }
  }
  if (x.numel() > 0) {
    check_exact([&](const Tensor& t) { return argmax(t); }, x, xd);
    check_exact([&](const Tensor& t) { return argmin(t); }, x, xd);
  }
}

TEST(ReduceCuda, ArgReductionsTiesFirstIndex) {
  KILN_REQUIRE_GPU();
  GuardScope guard;
  uint64_t seed = 100;
  const std::vector<Shape> shapes = {{1}, {7}, {257, 513}, {5, 7, 11}, {1, 1000003}, {1000003, 3}, {2, 0, 3}};
  for (const Shape& s : shapes) {
    for (DType dt : kAllDTypes) {
      // Few distinct values: many ties (integers are small; floats rounded to a few levels).
      Tensor x = random_tensor(s, dt, Domain::any, seed++);
      if (is_floating(dt)) x = kiln::round(random_tensor(s, DType::f32, Domain::any, seed++)).to(dt);
      check_arg(x, x.to(kCUDA), std::string(dtype_name(dt)));
    }
  }
  EXPECT_TRUE(guards_intact());
}

TEST(ReduceCuda, ArgReductionsNaN) {
  KILN_REQUIRE_GPU();
  GuardScope guard;
  const float nan = std::numeric_limits<float>::quiet_NaN(), inf = std::numeric_limits<float>::infinity();
  // First NaN wins; -inf/+inf rows; a NaN after a max.
  std::vector<float> v = {1, nan, 3, nan, -inf, -inf, -inf, -inf, 2, 5, 5, nan, inf, 0, inf, 1};
  for (DType dt : {DType::f32, DType::f64, DType::f16, DType::bf16}) {
    const Tensor x = from_vector(v, {4, 4}).to(dt);
    check_arg(x, x.to(kCUDA), std::string(dtype_name(dt)));
  }
  // A NaN deep inside a long row (two-pass arg reduce).
  std::vector<float> longrow(300007, 1.0f);
  longrow[123457] = nan;
  longrow[200000] = nan;
  longrow[5] = 7;
  const Tensor x = from_vector(longrow, {1, 300007});
  check_arg(x, x.to(kCUDA), "long row");
  EXPECT_TRUE(guards_intact());
}

TEST(ReduceCuda, CumsumCumprod) {
  KILN_REQUIRE_GPU();
  GuardScope guard;
  uint64_t seed = 500;
  struct ScanCase {
    Shape shape;
    int64_t dim;
  };
  const std::vector<ScanCase> cases = {{{0}, 0},         {{7}, 0},           {{1}, 0},          {{257, 513}, 0},
                                       {{257, 513}, 1},  {{5, 7, 11}, 1},    {{5, 7, 11}, -1},  {{2, 0, 3}, 2},
                                       {{1048579}, 0},   {{3, 1000003}, 1},  {{1000003, 3}, 0}, {{2, 8193}, 1},
                                       {{4, 5000, 2}, 1}};
  for (const ScanCase& c : cases) {
    for (DType dt : kAllDTypes) {
      SCOPED_TRACE(::testing::Message() << dtype_name(dt) << " shape " << c.shape << " dim " << c.dim);
      const Tensor x = random_tensor(c.shape, dt, Domain::any, seed++);
      const Tensor xd = x.to(kCUDA);
      const Tensor want = cumsum(x, c.dim);
      const Tensor got = cumsum(xd, c.dim);
      EXPECT_EQ(got.dtype(), want.dtype());
      EXPECT_TRUE(parity(got, want, false));
      if (c.shape.numel() <= 300000) {
        const Tensor p = is_floating(dt) ? (random_tensor(c.shape, DType::f64, Domain::unit, seed++) * 0.01 + 1.0).to(dt)
                                         : x;
        EXPECT_TRUE(parity(cumprod(p.to(kCUDA), c.dim), cumprod(p, c.dim), false));
      }
    }
  }
  // Non-contiguous input and a dtype argument.
  const Tensor x = random_tensor({513, 257}, DType::f32, Domain::any, 9).transpose(0, 1);
  EXPECT_TRUE(parity(cumsum(x.to(kCUDA), 1), cumsum(x, 1), false));
  EXPECT_TRUE(parity(cumsum(x.to(kCUDA), 0, DType::f64), cumsum(x, 0, DType::f64), false));
  EXPECT_TRUE(guards_intact());
}

TEST(ReduceCuda, RunTwiceBitIdentical) {
  KILN_REQUIRE_GPU();
  GuardScope guard;
  const Tensor a = random_tensor({1, 1000003}, DType::f32, Domain::any, 11).to(kCUDA);
  const Tensor b = random_tensor({1000003, 3}, DType::f32, Domain::any, 12).to(kCUDA);
  const Tensor c = random_tensor({300, 2, 3000}, DType::bf16, Domain::any, 13).to(kCUDA);
  for (const Tensor& x : {a, b}) {
    EXPECT_TRUE(bit_identical(sum(x), sum(x)));
    EXPECT_TRUE(bit_identical(sum(x, {0}), sum(x, {0})));
    EXPECT_TRUE(bit_identical(var(x, {1}), var(x, {1})));
    EXPECT_TRUE(bit_identical(logsumexp(x, {0}), logsumexp(x, {0})));
    EXPECT_TRUE(bit_identical(argmax(x, 0), argmax(x, 0)));
    EXPECT_TRUE(bit_identical(cumsum(x, 0), cumsum(x, 0)));
    EXPECT_TRUE(bit_identical(cumsum(x, 1), cumsum(x, 1)));
  }
  EXPECT_TRUE(bit_identical(sum(c, {0, 2}), sum(c, {0, 2})));
  EXPECT_TRUE(bit_identical(kiln::std(c, {0, 2}), kiln::std(c, {0, 2})));
  // An offset view (different alignment) reduces in the same order as the aligned copy.
  const Tensor base = random_tensor({1, 1000004}, DType::f32, Domain::any, 14).to(kCUDA);
  const Tensor shifted = base.slice(1, 1, 1000004);
  const Tensor aligned = shifted.clone();  // a fresh (256-byte aligned) allocation
  EXPECT_TRUE(bit_identical(sum(shifted, {1}), sum(aligned, {1})));
  EXPECT_TRUE(bit_identical(argmax(shifted, 1), argmax(aligned, 1)));
  EXPECT_TRUE(bit_identical(var(shifted, {1}), var(aligned, {1})));
  EXPECT_TRUE(guards_intact());
}

}  // namespace
}  // namespace kiln::test
#endif  // KILN_HAVE_CUDA
