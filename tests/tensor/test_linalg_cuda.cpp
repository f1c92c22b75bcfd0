// CPU-vs-CUDA parity of tensor/linalg.cpp on CUDA (cuBLAS for floating dtypes, kiln's integer
// kernel for integers, kernels/cuda/blas.h): mm, bmm, matmul with broadcast batches, addmm, outer,
// dot, with transposed, strided and non-contiguous operands, sizes 0, 1, primes, K = 0. Guard
// regions around every CUDA allocation. Every GPU test skips without a usable GPU; the TF32 flag
// test runs everywhere.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <limits>
#include <sstream>
#include <string>

#include "kiln/kernels/determinism.h"
#include "kiln/tensor/ops.h"

namespace kiln::test {
namespace {

TEST(LinalgFlags, Tf32IsOffByDefaultAndSettable) {
  EXPECT_FALSE(allow_tf32());
  set_allow_tf32(true);
  EXPECT_TRUE(allow_tf32());
  set_allow_tf32(false);
  EXPECT_FALSE(allow_tf32());
}

}  // namespace
}  // namespace kiln::test

#if KILN_HAVE_CUDA
#include "support/cuda_parity.h"
#include "support/op_table.h"

namespace kiln::test {
namespace {

const DType kFloatTypes[] = {DType::f32, DType::f64, DType::f16, DType::bf16};
const DType kAllTypes[] = {DType::f32, DType::f64, DType::f16, DType::bf16, DType::i64, DType::i32, DType::u8};

Tensor input(const Shape& s, DType d, uint64_t seed) { return random_tensor(s, d, Domain::any, seed); }

// Products compared by normalised squared error (Note [Parity tolerances]), every dtype, with one
// explicit exception: bf16 keeps this test's bound of 3e-4 instead of nse_bound's 1e-4 (sums of
// many products accumulated in another order by cuBLAS than by the CPU, then rounded to bf16).
::testing::AssertionResult product_parity(const Tensor& gpu, const Tensor& cpu) {
  return parity_nse(gpu, cpu, cpu.dtype() == DType::bf16 ? 3e-4 : nse_bound(cpu.dtype()));
}

std::string name(const char* op, DType d, const Shape& a, const Shape& b) {
  std::ostringstream os;
  os << op << " " << dtype_name(d) << " " << a << " x " << b;
  return os.str();
}

// The same op on a CPU input pair and on its copy on the GPU (views applied by `view` on both).
using Binary = std::function<Tensor(const Tensor&, const Tensor&)>;
using View = std::function<Tensor(const Tensor&)>;
Tensor same(const Tensor& t) { return t; }

void check_binary(const char* op, const Binary& f, const Shape& sa, const Shape& sb, DType d, const View& va = same,
                  const View& vb = same) {
  const Tensor a = input(sa, d, 11), b = input(sb, d, 12);
  const Tensor ga = a.to(kCUDA), gb = b.to(kCUDA);
  const Tensor want = f(va(a), vb(b));
  const Tensor got = f(va(ga), vb(gb));
  EXPECT_TRUE(product_parity(got, want)) << name(op, d, va(a).shape(), vb(b).shape());
  EXPECT_TRUE(guards_intact()) << name(op, d, sa, sb);
}

Tensor do_mm(const Tensor& a, const Tensor& b) { return mm(a, b); }
Tensor do_bmm(const Tensor& a, const Tensor& b) { return bmm(a, b); }
Tensor do_matmul(const Tensor& a, const Tensor& b) { return matmul(a, b); }

TEST(LinalgCuda, MmSizes) {
  KILN_REQUIRE_GPU();
  GuardScope guard;
  // (M, K, N): 1, primes, non-multiples of any tile, K = 0, empty M / N.
  const int64_t sizes[][3] = {{1, 1, 1}, {7, 7, 7}, {127, 129, 131}, {1, 131, 1}, {64, 1, 33},
                              {5, 0, 3}, {0, 4, 5}, {3, 4, 0},     {257, 3, 2}};
  for (DType d : kAllTypes)
    for (auto& s : sizes) check_binary("mm", do_mm, {s[0], s[1]}, {s[1], s[2]}, d);
}

TEST(LinalgCuda, MmTransposedAndStrided) {
  KILN_REQUIRE_GPU();
  GuardScope guard;
  auto t = [](const Tensor& x) { return x.t(); };
  auto narrow_cols = [](const Tensor& x) { return x.narrow(1, 1, x.size(1) - 2); };  // row stride > width
  auto every_other = [](const Tensor& x) { return x.slice(1, 0, x.size(1), 2); };    // column stride 2: copied
  for (DType d : kAllTypes) {
    check_binary("mm a^T", do_mm, {31, 17}, {31, 13}, d, t, same);           // a stored [K, M]
    check_binary("mm b^T", do_mm, {17, 31}, {13, 31}, d, same, t);           // b stored [N, K]
    check_binary("mm a^T b^T", do_mm, {129, 127}, {131, 129}, d, t, t);
    check_binary("mm narrow", do_mm, {19, 25}, {23, 11}, d, narrow_cols, same);
    check_binary("mm strided", do_mm, {19, 46}, {23, 11}, d, every_other, same);
    check_binary("mm column vector", do_mm, {9, 5}, {5, 1}, d);
    check_binary("mm row vector", do_mm, {1, 5}, {5, 9}, d);
  }
}

TEST(LinalgCuda, BmmAndMatmulBatches) {
  KILN_REQUIRE_GPU();
  GuardScope guard;
  auto tb = [](const Tensor& x) { return x.transpose(1, 2); };
  auto batch_last = [](const Tensor& x) { return x.permute({2, 0, 1}); };  // [R, C, B] stored: batch stride 1
  for (DType d : kAllTypes) {
    check_binary("bmm", do_bmm, {3, 7, 11}, {3, 11, 5}, d);
    check_binary("bmm transposed", do_bmm, {4, 13, 9}, {4, 6, 13}, d, tb, tb);
    check_binary("bmm batch-last", do_bmm, {7, 11, 3}, {11, 5, 3}, d, batch_last, batch_last);
    check_binary("bmm K=0", do_bmm, {2, 3, 0}, {2, 0, 4}, d);
    check_binary("matmul broadcast", do_matmul, {2, 1, 7, 5}, {3, 5, 4}, d);
    check_binary("matmul broadcast 2", do_matmul, {4, 5}, {2, 3, 5, 6}, d);
    check_binary("matmul folded", do_matmul, {2, 3, 7, 5}, {5, 4}, d);
    check_binary("matmul 1-D x N-D", do_matmul, {5}, {3, 5, 4}, d);
    check_binary("matmul N-D x 1-D", do_matmul, {3, 4, 5}, {5}, d);
    check_binary("matmul dot", do_matmul, {131}, {131}, d);
    check_binary("matmul mixed batch", do_matmul, {3, 1, 4, 6, 5}, {2, 1, 5, 7}, d);
    check_binary("matmul empty batch", do_matmul, {0, 4, 5}, {5, 3}, d);
  }
}

TEST(LinalgCuda, AddmmOuterDot) {
  KILN_REQUIRE_GPU();
  GuardScope guard;
  for (DType d : kAllTypes) {
    const bool fl = is_floating(d);
    const Scalar beta = fl ? Scalar(0.5) : Scalar(2), alpha = fl ? Scalar(-1.5) : Scalar(3);
    const Tensor a = input({7, 11}, d, 1), b = input({11, 13}, d, 2);
    for (const Shape& cs : {Shape{7, 13}, Shape{13}, Shape{7, 1}}) {
      const Tensor c = input(cs, d, 3);
      EXPECT_TRUE(
          product_parity(addmm(c.to(kCUDA), a.to(kCUDA), b.to(kCUDA), beta, alpha), addmm(c, a, b, beta, alpha)))
          << name("addmm", d, a.shape(), b.shape());
    }
    // K = 0: beta * c only.
    const Tensor c = input({4, 3}, d, 4), e1 = input({4, 0}, d, 5), e2 = input({0, 3}, d, 6);
    EXPECT_TRUE(
        product_parity(addmm(c.to(kCUDA), e1.to(kCUDA), e2.to(kCUDA), beta, alpha), addmm(c, e1, e2, beta, alpha)))
        << name("addmm K=0", d, e1.shape(), e2.shape());
    const Tensor x = input({131}, d, 7), y = input({17}, d, 8);
    EXPECT_TRUE(product_parity(outer(x.to(kCUDA), y.to(kCUDA)), outer(x, y))) << name("outer", d, x.shape(), y.shape());
    const Tensor z = input({131}, d, 9);
    EXPECT_TRUE(product_parity(dot(x.to(kCUDA), z.to(kCUDA)), dot(x, z))) << name("dot", d, x.shape(), z.shape());
    const Tensor empty1 = input({0}, d, 10);
    EXPECT_TRUE(product_parity(dot(empty1.to(kCUDA), empty1.to(kCUDA)), dot(empty1, empty1))) << "dot of empty vectors";
    EXPECT_TRUE(guards_intact()) << dtype_name(d);
  }
}

TEST(LinalgCuda, AddmmBetaZeroIgnoresNaN) {
  KILN_REQUIRE_GPU();
  GuardScope guard;
  for (DType d : kFloatTypes) {
    const Tensor c = full({5, 6}, std::numeric_limits<double>::quiet_NaN(), d);
    const Tensor a = input({5, 4}, d, 1), b = input({4, 6}, d, 2);
    const Tensor got = addmm(c.to(kCUDA), a.to(kCUDA), b.to(kCUDA), 0, 1);
    EXPECT_TRUE(product_parity(got, mm(a, b))) << name("addmm beta=0", d, a.shape(), b.shape());
  }
}

TEST(LinalgCuda, RepeatedProductsAreBitIdentical) {
  KILN_REQUIRE_GPU();
  GuardScope guard;
  for (DType d : kFloatTypes) {
    const Tensor a = input({257, 1031}, d, 1).to(kCUDA), b = input({1031, 129}, d, 2).to(kCUDA);
    EXPECT_TRUE(bit_identical(mm(a, b), mm(a, b))) << dtype_name(d);
    const Tensor x = input({6, 65, 97}, d, 3).to(kCUDA), y = input({6, 97, 33}, d, 4).to(kCUDA);
    EXPECT_TRUE(bit_identical(bmm(x, y), bmm(x, y))) << dtype_name(d);
  }
}

TEST(LinalgCuda, Tf32OffMeetsTheFp32Bound) {
  KILN_REQUIRE_GPU();
  // With TF32 off (the default) f32 products meet the FP32 bound on inputs where TF32 would not:
  // a large K of values with full 23-bit mantissas.
  ASSERT_FALSE(allow_tf32());
  const Tensor a = input({64, 4096}, DType::f32, 1), b = input({4096, 64}, DType::f32, 2);
  const Tensor want = mm(a.to(DType::f64), b.to(DType::f64)).to(DType::f32);
  const Tensor got = mm(a.to(kCUDA), b.to(kCUDA)).cpu();
  EXPECT_LE(normalised_squared_error(got, want), 1e-10);
  set_allow_tf32(true);
  const Tensor got_tf32 = mm(a.to(kCUDA), b.to(kCUDA)).cpu();
  set_allow_tf32(false);
  EXPECT_LE(normalised_squared_error(got_tf32, want), 1e-4);  // TF32 is still a good approximation
}

TEST(LinalgCuda, MixedDevicesAreAnError) {
  KILN_REQUIRE_GPU();
  const Tensor a = input({3, 4}, DType::f32, 1), b = input({4, 5}, DType::f32, 2);
  try {
    mm(a, b.to(kCUDA));
    FAIL() << "mm of a CPU and a CUDA tensor did not throw";
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("cpu"), std::string::npos) << msg;
    EXPECT_NE(msg.find("cuda"), std::string::npos) << msg;
  }
}

}  // namespace
}  // namespace kiln::test
#endif
