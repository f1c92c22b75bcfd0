// CPU vs CUDA parity of the elementwise ops (kernels/cuda/unary.cu, binary.cu, where.cu, fill.cu):
// every UnaryOp and BinaryOp on every dtype it accepts, contiguous / broadcast / scalar-operand /
// non-contiguous / misaligned (a view starting at element 1) inputs, sizes 0, 1, 3, 17, 1000003;
// where, fill, in-place ops. Guard mode catches out-of-bounds writes. Skipped without a GPU.
#include <cmath>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "support/fixtures.h"
#include "support/op_table.h"

#if KILN_HAVE_CUDA
#include "support/cuda_parity.h"

namespace kiln {
namespace {

using test::Domain;
using test::random_tensor;

using test::guards_intact;
using test::GuardScope;

// The same values on both devices in one layout: contiguous, non-contiguous (every other element
// of a wider buffer), or misaligned (a 1-d view starting at element 1 of its storage).
enum class Layout { contiguous, noncontiguous, misaligned };
const char* layout_name(Layout l) {
  return l == Layout::contiguous ? "contiguous" : l == Layout::noncontiguous ? "noncontiguous" : "misaligned";
}
struct Pair {
  Tensor cpu, cuda;
};
Pair both(const Shape& shape, DType dtype, Domain dom, uint64_t seed, Layout layout) {
  if (layout == Layout::misaligned) {
    Tensor buf = random_tensor({shape.numel() + 1}, dtype, dom, seed);
    Tensor dev = buf.to(kCUDA);
    return {buf.narrow(0, 1, shape.numel()).reshape(shape), dev.narrow(0, 1, shape.numel()).reshape(shape)};
  }
  Tensor x = random_tensor(shape, dtype, dom, seed);
  if (layout == Layout::noncontiguous) return {test::make_noncontiguous(x), test::make_noncontiguous(x.to(kCUDA))};
  return {x, x.to(kCUDA)};
}

const std::vector<DType> kFloat = {DType::f32, DType::f64, DType::f16, DType::bf16};
const std::vector<DType> kNumeric = {DType::f32, DType::f64, DType::f16, DType::bf16, DType::i64, DType::i32, DType::u8};
const std::vector<DType> kAll = {DType::f32, DType::f64, DType::f16,  DType::bf16,
                                 DType::i64, DType::i32, DType::u8, DType::b8};

struct UnaryCase {
  std::string name;
  std::function<Tensor(const Tensor&)> fn;
  std::vector<DType> dtypes;
  Domain domain = Domain::any;
};

std::vector<UnaryCase> unary_cases() {
  // Floating functions also run on an integer input (computed as f32).
  std::vector<DType> fl = kFloat;
  fl.push_back(DType::i32);
  return {
      {"neg", [](const Tensor& x) { return neg(x); }, kNumeric},
      {"abs", [](const Tensor& x) { return abs(x); }, kNumeric},
      {"sign", [](const Tensor& x) { return sign(x); }, kAll},
      {"exp", [](const Tensor& x) { return exp(x); }, fl},
      {"log", [](const Tensor& x) { return log(x); }, fl, Domain::positive},
      {"log1p", [](const Tensor& x) { return log1p(x); }, fl, Domain::positive},
      {"expm1", [](const Tensor& x) { return expm1(x); }, fl},
      {"sqrt", [](const Tensor& x) { return sqrt(x); }, fl, Domain::positive},
      {"rsqrt", [](const Tensor& x) { return rsqrt(x); }, fl, Domain::positive},
      {"reciprocal", [](const Tensor& x) { return reciprocal(x); }, fl, Domain::nonzero},
      {"square", [](const Tensor& x) { return square(x); }, kNumeric},
      {"sin", [](const Tensor& x) { return sin(x); }, fl},
      {"cos", [](const Tensor& x) { return cos(x); }, fl},
      {"tanh", [](const Tensor& x) { return tanh(x); }, fl},
      {"sigmoid", [](const Tensor& x) { return sigmoid(x); }, fl},
      {"erf", [](const Tensor& x) { return erf(x); }, fl},
      {"erfc", [](const Tensor& x) { return erfc(x); }, fl},
      {"relu", [](const Tensor& x) { return relu(x); }, kNumeric},
      {"leaky_relu", [](const Tensor& x) { return leaky_relu(x, 0.2); }, kFloat},
      {"gelu", [](const Tensor& x) { return gelu(x); }, kFloat},
      {"gelu_tanh", [](const Tensor& x) { return gelu(x, GeluApprox::tanh); }, kFloat},
      {"silu", [](const Tensor& x) { return silu(x); }, kFloat},
      {"mish", [](const Tensor& x) { return mish(x); }, kFloat},
      {"softplus", [](const Tensor& x) { return softplus(x, 1.5, 2.0); }, kFloat},
      {"floor", [](const Tensor& x) { return floor(x); }, kNumeric},
      {"ceil", [](const Tensor& x) { return ceil(x); }, kNumeric},
      {"round", [](const Tensor& x) { return round(x); }, kNumeric},
      {"clamp", [](const Tensor& x) { return clamp(x, Scalar(int64_t(-1)), Scalar(int64_t(2))); }, kNumeric},
      {"pow_scalar", [](const Tensor& x) { return pow(x, Scalar(1.7)); }, kFloat, Domain::positive},
      {"pow_int", [](const Tensor& x) { return pow(x, Scalar(int64_t(3))); }, {DType::i64, DType::i32, DType::u8}},
      {"isnan", [](const Tensor& x) { return isnan(x); }, kFloat},
      {"isinf", [](const Tensor& x) { return isinf(x); }, kFloat},
      {"isfinite", [](const Tensor& x) { return isfinite(x); }, kFloat},
      {"logical_not", [](const Tensor& x) { return logical_not(x); }, kAll},
  };
}

const std::vector<int64_t> kSizes = {0, 1, 3, 17, 1000003};

TEST(ElementwiseCuda, UnaryEveryOpDtypeLayout) {
  KILN_REQUIRE_GPU();
  GuardScope guard;
  uint64_t seed = 1;
  for (const UnaryCase& c : unary_cases()) {
    for (DType d : c.dtypes) {
      for (int64_t n : kSizes) {
        for (Layout l : {Layout::contiguous, Layout::noncontiguous, Layout::misaligned}) {
          // The large size only for the contiguous and misaligned paths of f32 / f16 (time).
          if (n > 100000 && (l == Layout::noncontiguous || (d != DType::f32 && d != DType::f16))) continue;
          Pair x = both({n}, d, c.domain, seed++, l);
          const std::string what = c.name + " " + dtype_name(d) + " n=" + std::to_string(n) + " " + layout_name(l);
          EXPECT_TRUE(test::parity(c.fn(x.cuda), c.fn(x.cpu), false)) << what;
        }
      }
      // A 2-d transposed view (strided path with two dimensions).
      Tensor x = random_tensor({37, 41}, d, c.domain, seed++);
      EXPECT_TRUE(test::parity(c.fn(x.to(kCUDA).t()), c.fn(x.t()), false)) << c.name + " transposed " + dtype_name(d);
    }
  }
  EXPECT_TRUE(guards_intact());
}

// Special values: NaN, infinities, signed zeros, subnormals, huge sin / cos arguments (the
// double-precision fallback), values where the fast formulas switch branches.
TEST(ElementwiseCuda, UnarySpecialValues) {
  KILN_REQUIRE_GPU();
  GuardScope guard;
  const float inf = std::numeric_limits<float>::infinity(), nan = std::numeric_limits<float>::quiet_NaN();
  const std::vector<float> v = {0.0f, -0.0f, 1e-40f, -1e-40f, 0.5f, -0.5f, 0.625f, -0.625f, 0.8f, -0.8f, 10.5f, -10.5f,
                                14.5f, -14.5f, 88.7f, -88.7f, 89.0f, -104.0f, 1e6f, -1e6f, 3e6f, 1e20f, -1e30f, inf,
                                -inf, nan, 2.5f, -2.5f, 3.5f};
  Tensor x = from_vector(v, {int64_t(v.size())});
  for (DType d : kFloat) {
    Tensor xd = x.to(d);
    Tensor xc = xd.to(kCUDA);
    for (const UnaryCase& c : unary_cases()) {
      bool has = false;
      for (DType e : c.dtypes) has = has || e == d;
      if (!has) continue;
      EXPECT_TRUE(test::parity(c.fn(xc), c.fn(xd), false)) << c.name + " special " + dtype_name(d);
    }
  }
  EXPECT_TRUE(guards_intact());
}

struct BinaryCase {
  std::string name;
  std::function<Tensor(const Tensor&, const Tensor&)> fn;
  std::function<Tensor(const Tensor&, Scalar)> fn_scalar;  // null: no tensor-scalar form
  std::vector<DType> dtypes;
  Domain domain_b = Domain::any;
};

std::vector<BinaryCase> binary_cases() {
  auto S = [](auto f) { return std::function<Tensor(const Tensor&, Scalar)>(f); };
  return {
      {"add", [](const Tensor& a, const Tensor& b) { return add(a, b); }, S([](const Tensor& a, Scalar s) { return add(a, s); }), kAll},
      {"add_alpha", [](const Tensor& a, const Tensor& b) { return add(a, b, Scalar(int64_t(3))); }, nullptr, kNumeric},
      {"sub", [](const Tensor& a, const Tensor& b) { return sub(a, b); }, S([](const Tensor& a, Scalar s) { return sub(a, s); }), kNumeric},
      {"sub_alpha", [](const Tensor& a, const Tensor& b) { return sub(a, b, Scalar(2.5)); }, nullptr, kFloat},
      {"mul", [](const Tensor& a, const Tensor& b) { return mul(a, b); }, S([](const Tensor& a, Scalar s) { return mul(a, s); }), kAll},
      {"div", [](const Tensor& a, const Tensor& b) { return div(a, b); }, S([](const Tensor& a, Scalar s) { return div(a, s); }), kNumeric, Domain::nonzero},
      {"pow", [](const Tensor& a, const Tensor& b) { return pow(a.is_floating_point() ? abs(a) : a, b); }, nullptr, kNumeric},
      {"minimum", [](const Tensor& a, const Tensor& b) { return minimum(a, b); }, nullptr, kAll},
      {"maximum", [](const Tensor& a, const Tensor& b) { return maximum(a, b); }, nullptr, kAll},
      {"relu_backward", [](const Tensor& a, const Tensor& b) { return relu_backward(a, b); }, nullptr, kFloat},
      {"fmod", [](const Tensor& a, const Tensor& b) { return fmod(a, b); }, S([](const Tensor& a, Scalar s) { return fmod(a, s); }), kNumeric, Domain::nonzero},
      {"remainder", [](const Tensor& a, const Tensor& b) { return remainder(a, b); }, S([](const Tensor& a, Scalar s) { return remainder(a, s); }), kNumeric, Domain::nonzero},
      {"eq", [](const Tensor& a, const Tensor& b) { return eq(a, b); }, S([](const Tensor& a, Scalar s) { return eq(a, s); }), kAll},
      {"ne", [](const Tensor& a, const Tensor& b) { return ne(a, b); }, S([](const Tensor& a, Scalar s) { return ne(a, s); }), kAll},
      {"lt", [](const Tensor& a, const Tensor& b) { return lt(a, b); }, S([](const Tensor& a, Scalar s) { return lt(a, s); }), kAll},
      {"le", [](const Tensor& a, const Tensor& b) { return le(a, b); }, S([](const Tensor& a, Scalar s) { return le(a, s); }), kAll},
      {"gt", [](const Tensor& a, const Tensor& b) { return gt(a, b); }, S([](const Tensor& a, Scalar s) { return gt(a, s); }), kAll},
      {"ge", [](const Tensor& a, const Tensor& b) { return ge(a, b); }, S([](const Tensor& a, Scalar s) { return ge(a, s); }), kAll},
      {"logical_and", [](const Tensor& a, const Tensor& b) { return logical_and(a, b); }, nullptr, kAll},
      {"logical_or", [](const Tensor& a, const Tensor& b) { return logical_or(a, b); }, nullptr, kAll},
      {"logical_xor", [](const Tensor& a, const Tensor& b) { return logical_xor(a, b); }, nullptr, kAll},
  };
}

TEST(ElementwiseCuda, BinaryEveryOpDtypeLayout) {
  KILN_REQUIRE_GPU();
  GuardScope guard;
  uint64_t seed = 1000;
  for (const BinaryCase& c : binary_cases()) {
    for (DType d : c.dtypes) {
      // pow of integers: small non-negative exponents (negative ones are covered by the CPU tests).
      const Domain db = c.name == "pow" && is_integral(d) ? Domain::positive : c.domain_b;
      for (int64_t n : kSizes) {
        for (Layout l : {Layout::contiguous, Layout::noncontiguous, Layout::misaligned}) {
          if (n > 100000 && (l == Layout::noncontiguous || (d != DType::f32 && d != DType::f16))) continue;
          Pair a = both({n}, d, Domain::any, seed++, l);
          // b stays contiguous for the misaligned case, so one operand is aligned and one is not.
          Pair b = both({n}, d, db, seed++, l == Layout::misaligned ? Layout::contiguous : l);
          const std::string what = c.name + " " + dtype_name(d) + " n=" + std::to_string(n) + " " + layout_name(l);
          EXPECT_TRUE(test::parity(c.fn(a.cuda, b.cuda), c.fn(a.cpu, b.cpu), false)) << what;
          EXPECT_TRUE(test::parity(c.fn(b.cuda, b.cuda), c.fn(b.cpu, b.cpu), false)) << what + " same operand";
        }
      }
      // Broadcasts: [37, 1] x [1, 41] (strided path), [n] x [1] (a stride-0 operand on the
      // contiguous path), [1] x [n].
      Tensor a = random_tensor({37, 1}, d, Domain::any, seed++), b = random_tensor({1, 41}, d, db, seed++);
      EXPECT_TRUE(test::parity(c.fn(a.to(kCUDA), b.to(kCUDA)), c.fn(a, b), false))
          << c.name + " broadcast 2d " + dtype_name(d);
      Tensor v = random_tensor({1001}, d, Domain::any, seed++), s = random_tensor({1}, d, db, seed++);
      EXPECT_TRUE(test::parity(c.fn(v.to(kCUDA), s.to(kCUDA)), c.fn(v, s), false))
          << c.name + " [n] x [1] " + dtype_name(d);
      Tensor s2 = random_tensor({1}, d, Domain::any, seed++), v2 = random_tensor({1001}, d, db, seed++);
      EXPECT_TRUE(test::parity(c.fn(s2.to(kCUDA), v2.to(kCUDA)), c.fn(s2, v2), false))
          << c.name + " [1] x [n] " + dtype_name(d);
      // Tensor-scalar (the scalar reaches the kernel as a ScalarArg).
      if (c.fn_scalar && d != DType::b8) {
        const Scalar sc = is_floating(d) ? Scalar(1.75) : Scalar(int64_t(3));
        for (int64_t n : {int64_t(1), int64_t(17), int64_t(1000003)}) {
          if (n > 100000 && d != DType::f32 && d != DType::f16) continue;
          Tensor x = random_tensor({n}, d, Domain::any, seed++);
          EXPECT_TRUE(test::parity(c.fn_scalar(x.to(kCUDA), sc), c.fn_scalar(x, sc), false))
              << c.name + " scalar " + dtype_name(d) + " n=" + std::to_string(n);
        }
      }
    }
  }
  // Scalar on the left (sub(Scalar, Tensor), div(Scalar, Tensor)).
  for (DType d : kFloat) {
    Tensor x = random_tensor({1003}, d, Domain::nonzero, seed++);
    EXPECT_TRUE(test::parity(sub(Scalar(2.5), x.to(kCUDA)), sub(Scalar(2.5), x), false))
        << std::string("scalar - x ") + dtype_name(d);
    EXPECT_TRUE(test::parity(div(Scalar(2.5), x.to(kCUDA)), div(Scalar(2.5), x), false))
        << std::string("scalar / x ") + dtype_name(d);
  }
  // Mixed dtypes (promotion casts on the device first).
  Tensor i = random_tensor({257}, DType::i32, Domain::any, seed++), f = random_tensor({257}, DType::f16, Domain::any, seed++);
  EXPECT_TRUE(test::parity(add(i.to(kCUDA), f.to(kCUDA)), add(i, f), false)) << "i32 + f16";
  EXPECT_TRUE(guards_intact());
}

TEST(ElementwiseCuda, Where) {
  KILN_REQUIRE_GPU();
  GuardScope guard;
  uint64_t seed = 5000;
  for (DType d : kAll) {
    for (int64_t n : kSizes) {
      for (Layout l : {Layout::contiguous, Layout::noncontiguous, Layout::misaligned}) {
        if (n > 100000 && l == Layout::noncontiguous) continue;
        Pair c = both({n}, DType::b8, Domain::any, seed++, l);
        Pair a = both({n}, d, Domain::any, seed++, Layout::contiguous);
        Pair b = both({n}, d, Domain::any, seed++, l);
        EXPECT_TRUE(test::parity(where(c.cuda, a.cuda, b.cuda), where(c.cpu, a.cpu, b.cpu), false))
            << std::string("where ") + dtype_name(d) + " n=" + std::to_string(n) + " " + layout_name(l);
      }
    }
    Tensor c = random_tensor({37, 1}, DType::b8, Domain::any, seed++);
    Tensor a = random_tensor({1, 41}, d, Domain::any, seed++), b = random_tensor({41}, d, Domain::any, seed++);
    EXPECT_TRUE(test::parity(where(c.to(kCUDA), a.to(kCUDA), b.to(kCUDA)), where(c, a, b), false))
        << std::string("where broadcast ") + dtype_name(d);
    if (d != DType::b8) {
      const Scalar s = is_floating(d) ? Scalar(0.5) : Scalar(int64_t(2));
      EXPECT_TRUE(test::parity(where(c.to(kCUDA), a.to(kCUDA), s), where(c, a, s), false))
          << std::string("where scalar ") + dtype_name(d);
      EXPECT_TRUE(test::parity(where(c.to(kCUDA), s, b.to(kCUDA)), where(c, s, b), false))
          << std::string("scalar where ") + dtype_name(d);
    }
  }
  EXPECT_TRUE(guards_intact());
}

TEST(ElementwiseCuda, FillFullZero) {
  KILN_REQUIRE_GPU();
  GuardScope guard;
  for (DType d : kAll) {
    const Scalar v = is_floating(d) ? Scalar(-2.75) : d == DType::b8 ? Scalar(true) : Scalar(int64_t(7));
    for (int64_t n : kSizes) {
      EXPECT_TRUE(test::parity(full({n}, v, d, kCUDA), full({n}, v, d), false)) << std::string("full ") + dtype_name(d);
      EXPECT_TRUE(test::parity(zeros({n}, d, kCUDA), zeros({n}, d), false)) << std::string("zeros ") + dtype_name(d);
      EXPECT_TRUE(test::parity(ones({n}, d, kCUDA), ones({n}, d), false)) << std::string("ones ") + dtype_name(d);
      // fill_ of a misaligned contiguous view and of a strided view leaves the rest untouched.
      Tensor base = random_tensor({n + 1}, d, Domain::any, uint64_t(n) + 7);
      Tensor bc = base.to(kCUDA);
      fill_(base.narrow(0, 1, n), v);
      fill_(bc.narrow(0, 1, n), v);
      EXPECT_TRUE(test::parity(bc, base, false)) << std::string("fill_ misaligned ") + dtype_name(d);
      Tensor wide = random_tensor({2 * n}, d, Domain::any, uint64_t(n) + 9);
      Tensor wc = wide.to(kCUDA);
      fill_(wide.slice(0, 0, 2 * n, 2), v);
      fill_(wc.slice(0, 0, 2 * n, 2), v);
      EXPECT_TRUE(test::parity(wc, wide, false)) << std::string("fill_ strided ") + dtype_name(d);
    }
    Tensor m = random_tensor({19, 23}, d, Domain::any, 3).to(kCUDA);
    zero_(m.t());
    EXPECT_TRUE(test::parity(m, zeros({19, 23}, d), false)) << std::string("zero_ transposed ") + dtype_name(d);
  }
  EXPECT_TRUE(test::parity(arange(Scalar(int64_t(0)), Scalar(int64_t(100)), Scalar(int64_t(3)), DType::i64, kCUDA),
                           arange(Scalar(int64_t(0)), Scalar(int64_t(100)), Scalar(int64_t(3)), DType::i64), false))
      << "arange";
  EXPECT_TRUE(test::parity(linspace(-1, 2, 37, DType::f32, kCUDA), linspace(-1, 2, 37, DType::f32), false))
      << "linspace";
  EXPECT_TRUE(test::parity(eye(5, 7, DType::bf16, kCUDA), eye(5, 7, DType::bf16), false)) << "eye";
  EXPECT_TRUE(guards_intact());
}

TEST(ElementwiseCuda, InPlace) {
  KILN_REQUIRE_GPU();
  GuardScope guard;
  uint64_t seed = 9000;
  for (DType d : kFloat) {
    for (int64_t n : {int64_t(1), int64_t(17), int64_t(1000003)}) {
      Tensor x = random_tensor({n}, d, Domain::positive, seed++), y = random_tensor({n}, d, Domain::any, seed++);
      Tensor xc = x.to(kCUDA), yc = y.to(kCUDA);
      add_(x, y, Scalar(0.5));
      add_(xc, yc, Scalar(0.5));
      mul_(x, Scalar(1.5));
      mul_(xc, Scalar(1.5));
      exp_(x);
      exp_(xc);
      sigmoid_(x);
      sigmoid_(xc);
      EXPECT_TRUE(test::parity(xc, x, false))
          << std::string("in-place chain ") + dtype_name(d) + " n=" + std::to_string(n);
      // In place on a non-contiguous view.
      Tensor w = random_tensor({n, 2}, d, Domain::any, seed++);
      Tensor wc = w.to(kCUDA);
      relu_(w.select(1, 0));
      relu_(wc.select(1, 0));
      EXPECT_TRUE(test::parity(wc, w, false)) << std::string("in-place view ") + dtype_name(d);
    }
  }
  // A result dtype that differs from self: f32 += f64 computes in f64 into a temporary that is
  // copied back (cast) into self.
  Tensor i = random_tensor({33}, DType::f32, Domain::any, 1), f = random_tensor({33}, DType::f64, Domain::any, 2);
  Tensor ic = i.to(kCUDA);
  add_(i, f);
  add_(ic, f.to(kCUDA));
  EXPECT_TRUE(test::parity(ic, i, false)) << "add_ f32 += f64";
  EXPECT_TRUE(guards_intact());
}

TEST(ElementwiseCuda, MixedDevicesAreAnError) {
  KILN_REQUIRE_GPU();
  Tensor a = ones({4}), b = ones({4}, DType::f32, kCUDA);
  EXPECT_KILN_ERROR(add(a, b), "different devices");
  EXPECT_KILN_ERROR(where(ones({4}, DType::b8), a, b), "different devices");
}

}  // namespace
}  // namespace kiln

#endif  // KILN_HAVE_CUDA
