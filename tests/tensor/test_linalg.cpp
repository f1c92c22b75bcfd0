// Tests of tensor/linalg.cpp and the GEMM kernel it runs on (kernels/cpu/vec/gemm.cpp).
#include <cmath>
#include <limits>
#include <random>
#include <tuple>

#include "kiln/kernels/cpu/gemm.h"
#include "kiln/kernels/cpu/isa.h"
#include "kiln/kernels/cpu/parallel.h"
#include "support/op_table.h"

namespace kiln::test {
namespace {

// ---- float64 reference of numpy matmul ----------------------------------------------------------

// Plain batched product: a batch + [M, K] x b batch + [K, N], with 1-D promotion and batch
// broadcasting as numpy.
Ref ref_matmul(const Ref& a_in, const Ref& b_in) {
  Ref a = a_in, b = b_in;
  const bool a1 = a.shape.size() == 1, b1 = b.shape.size() == 1;
  if (a1) a.shape = Shape{1, a.shape[0]};
  if (b1) b.shape = Shape{b.shape[0], 1};
  const int na = a.shape.size(), nb = b.shape.size();
  const int64_t M = a.shape[na - 2], K = a.shape[na - 1], N = b.shape[nb - 1];
  const int nbat = std::max(na, nb) - 2;
  Shape batch = Shape::filled(nbat, 1);
  for (int d = 0; d < nbat; ++d) {
    const int da = d - (nbat - (na - 2)), db = d - (nbat - (nb - 2));
    const int64_t sa = da >= 0 ? a.shape[da] : 1, sb = db >= 0 ? b.shape[db] : 1;
    batch[d] = sa == 1 ? sb : sa;
  }
  Shape out_shape = batch;
  out_shape.push_back(M);
  out_shape.push_back(N);
  Ref out(out_shape);
  const int64_t nbatch = batch.numel();
  for (int64_t bi = 0; bi < nbatch; ++bi) {
    // Batch offsets of a and b for this (row-major) batch index.
    int64_t rem = bi, oa = 0, ob = 0, ma = 1, mb = 1;
    for (int d = nbat - 1; d >= 0; --d) {
      const int64_t i = rem % batch[d];
      rem /= batch[d];
      const int da = d - (nbat - (na - 2)), db = d - (nbat - (nb - 2));
      if (da >= 0) {
        oa += (a.shape[da] == 1 ? 0 : i) * ma;
        ma *= a.shape[da];
      }
      if (db >= 0) {
        ob += (b.shape[db] == 1 ? 0 : i) * mb;
        mb *= b.shape[db];
      }
    }
    for (int64_t i = 0; i < M; ++i)
      for (int64_t j = 0; j < N; ++j) {
        double s = 0;
        for (int64_t k = 0; k < K; ++k)
          s += a.v[size_t(oa * M * K + i * K + k)] * b.v[size_t(ob * K * N + k * N + j)];
        out.v[size_t(bi * M * N + i * N + j)] = s;
      }
  }
  Shape final_shape = out_shape;
  if (b1) final_shape.erase(final_shape.size() - 1);
  if (a1) final_shape.erase(final_shape.size() - (b1 ? 1 : 2));
  out.shape = final_shape;
  return out;
}

Ref ref_transpose(const Ref& a) {
  Ref t(Shape{a.shape[1], a.shape[0]});
  for (int64_t i = 0; i < a.shape[0]; ++i)
    for (int64_t j = 0; j < a.shape[1]; ++j) t.v[size_t(j * a.shape[0] + i)] = a.v[size_t(i * a.shape[1] + j)];
  return t;
}

const Tol kMatTol{1e-5, 1e-4};
const Tol kHalfTol{1.6e-2, 2e-2};
const std::vector<DType> kFloat{DType::f32, DType::f64};
const std::vector<DType> kHalf{DType::f16, DType::bf16};
const std::vector<DType> kInt{DType::i64, DType::i32};

const std::vector<std::vector<Shape>> kMmCases = {
    {{3, 4}, {4, 5}},  {{1, 1}, {1, 1}},       {{0, 3}, {3, 4}},    {{3, 0}, {0, 4}},
    {{7, 13}, {13, 1}}, {{1, 13}, {13, 16}},   {{17, 31}, {31, 19}}, {{129, 67}, {67, 257}}};
const std::vector<std::vector<Shape>> kMatmulCases = {
    {{5}, {5}},          {{0}, {0}},                {{1}, {1}},          {{1000}, {1000}},
    {{7}, {7, 3}},       {{4}, {2, 4, 5}},          {{3, 7}, {7}},       {{2, 3, 7}, {7}},
    {{2, 1, 3, 4}, {3, 4, 5}}, {{5, 3, 4}, {4, 2}}, {{1, 4}, {3, 4, 2}}, {{0, 3, 4}, {4, 5}},
    {{2, 3, 0}, {2, 0, 4}}, {{3, 17, 13}, {1, 13, 11}},
    // K = 0 for every rank combination (1-d, 2-d, N-d on each side): zeros of the result shape
    {{0}, {0, 3}},       {{0}, {2, 0, 4}},          {{3, 0}, {0}},       {{3, 0}, {0, 4}},
    {{3, 0}, {2, 0, 4}}, {{2, 3, 0}, {0}},          {{2, 3, 0}, {0, 4}}, {{2, 1, 3, 0}, {4, 0, 5}},
    {{0, 3, 0}, {0}}};
const std::vector<std::vector<Shape>> kBmmCases = {
    {{2, 3, 4}, {2, 4, 5}}, {{1, 1, 1}, {1, 1, 1}}, {{0, 2, 3}, {0, 3, 4}}, {{3, 17, 13}, {3, 13, 11}},
    {{4, 40, 33}, {4, 33, 37}}};
const std::vector<std::vector<Shape>> kAddmmCases = {
    {{3, 5}, {3, 4}, {4, 5}}, {{5}, {3, 4}, {4, 5}}, {{1, 1}, {7, 13}, {13, 11}}, {{3, 1}, {3, 2}, {2, 1}},
    {{0, 4}, {0, 3}, {3, 4}}, {{29, 67}, {29, 31}, {31, 67}}};
const std::vector<std::vector<Shape>> kOuterCases = {{{5}, {7}}, {{0}, {3}}, {{1}, {1}}, {{130}, {67}}};
const std::vector<std::vector<Shape>> kDotCases = {{{5}, {5}}, {{0}, {0}}, {{1}, {1}}, {{1000}, {1000}}};

Tensor run_mm(const std::vector<Tensor>& x) { return mm(x[0], x[1]); }
Ref ref_mm(const std::vector<Ref>& r) { return ref_matmul(r[0], r[1]); }
Tensor run_matmul(const std::vector<Tensor>& x) { return matmul(x[0], x[1]); }
Tensor run_bmm(const std::vector<Tensor>& x) { return bmm(x[0], x[1]); }
Tensor run_outer(const std::vector<Tensor>& x) { return outer(x[0], x[1]); }
Tensor run_dot(const std::vector<Tensor>& x) { return dot(x[0], x[1]); }
Ref ref_outer(const std::vector<Ref>& r) {
  Ref o(Shape{r[0].shape[0], r[1].shape[0]});
  for (int64_t i = 0; i < r[0].shape[0]; ++i)
    for (int64_t j = 0; j < r[1].shape[0]; ++j) o.v[size_t(i * r[1].shape[0] + j)] = r[0].v[size_t(i)] * r[1].v[size_t(j)];
  return o;
}
Ref ref_addmm(const std::vector<Ref>& r, double beta, double alpha) {
  Ref p = ref_matmul(r[1], r[2]);
  return ref_zip(r[0], p, [=](double c, double ab) { return beta * c + alpha * ab; });
}
// a given as [K, M] and b as [N, K]: the op sees transposed views (no copies on the fast path).
Tensor run_mm_t(const std::vector<Tensor>& x) { return mm(x[0].t(), x[1].t()); }
Ref ref_mm_t(const std::vector<Ref>& r) { return ref_matmul(ref_transpose(r[0]), ref_transpose(r[1])); }

std::vector<OpRow> linalg_rows() {
  std::vector<OpRow> rows;
  rows.push_back({.name = "mm", .cases = kMmCases, .run = run_mm, .ref = ref_mm, .dtypes = kFloat, .tol = kMatTol,
                  .differentiable = true});
  rows.push_back({.name = "mm_half", .cases = kMmCases, .run = run_mm, .ref = ref_mm, .dtypes = kHalf, .tol = kHalfTol});
  rows.push_back({.name = "mm_int", .cases = kMmCases, .run = run_mm, .ref = ref_mm, .dtypes = kInt});
  rows.push_back({.name = "mm_transposed",
                  .cases = {{{4, 3}, {5, 4}}, {{13, 1}, {1, 13}}, {{31, 17}, {19, 31}}, {{67, 129}, {257, 67}}},
                  .run = run_mm_t, .ref = ref_mm_t, .dtypes = kFloat, .tol = kMatTol, .differentiable = true});
  rows.push_back({.name = "matmul", .cases = kMatmulCases, .run = run_matmul, .ref = ref_mm, .dtypes = kFloat,
                  .tol = kMatTol, .differentiable = true});
  rows.push_back({.name = "matmul_half", .cases = kMatmulCases, .run = run_matmul, .ref = ref_mm, .dtypes = kHalf,
                  .tol = kHalfTol});
  rows.push_back({.name = "matmul_int", .cases = kMatmulCases, .run = run_matmul, .ref = ref_mm, .dtypes = kInt});
  rows.push_back({.name = "bmm", .cases = kBmmCases, .run = run_bmm, .ref = ref_mm, .dtypes = kFloat,
                  .tol = kMatTol, .differentiable = true});
  rows.push_back({.name = "bmm_int", .cases = kBmmCases, .run = run_bmm, .ref = ref_mm, .dtypes = kInt});
  rows.push_back({.name = "addmm",
                  .cases = kAddmmCases,
                  .run = [](const std::vector<Tensor>& x) { return addmm(x[0], x[1], x[2], 0.5, -2.0); },
                  .ref = [](const std::vector<Ref>& r) { return ref_addmm(r, 0.5, -2.0); },
                  .dtypes = kFloat,
                  .tol = kMatTol,
                  .differentiable = true});
  rows.push_back({.name = "addmm_half",
                  .cases = kAddmmCases,
                  .run = [](const std::vector<Tensor>& x) { return addmm(x[0], x[1], x[2], 0.5, -2.0); },
                  .ref = [](const std::vector<Ref>& r) { return ref_addmm(r, 0.5, -2.0); },
                  .dtypes = kHalf,
                  .tol = kHalfTol});
  rows.push_back({.name = "addmm_int",
                  .cases = kAddmmCases,
                  .run = [](const std::vector<Tensor>& x) { return addmm(x[0], x[1], x[2], 3, 2); },
                  .ref = [](const std::vector<Ref>& r) { return ref_addmm(r, 3, 2); },
                  .dtypes = kInt});
  rows.push_back({.name = "outer", .cases = kOuterCases, .run = run_outer, .ref = ref_outer,
                  .dtypes = {DType::f32, DType::f64, DType::f16, DType::bf16, DType::i64, DType::i32},
                  .differentiable = true});
  rows.push_back({.name = "dot", .cases = kDotCases, .run = run_dot, .ref = ref_mm, .dtypes = kFloat,
                  .tol = kMatTol, .differentiable = true});
  rows.push_back({.name = "dot_int", .cases = kDotCases, .run = run_dot, .ref = ref_mm, .dtypes = kInt});
  return rows;
}
static OpRegistrar reg(with_parity(linalg_rows(), Parity::accumulated));

// ---- GEMM kernel against a float64 loop ---------------------------------------------------------

struct GemmCase {
  bool ta, tb;
  int64_t M, N, K;
  double alpha, beta;
  int64_t pad;  // extra leading-dimension elements
};

template <class T>
void check_gemm(const GemmCase& g, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> u(-1, 1);
  const int64_t ar = g.ta ? g.K : g.M, ac = g.ta ? g.M : g.K;  // stored shapes
  const int64_t br = g.tb ? g.N : g.K, bc = g.tb ? g.K : g.N;
  const int64_t lda = ac + g.pad, ldb = bc + g.pad, ldc = g.N + g.pad;
  std::vector<T> A(size_t(std::max<int64_t>(ar * lda, 1))), B(size_t(std::max<int64_t>(br * ldb, 1)));
  std::vector<T> C(size_t(std::max<int64_t>(g.M * ldc, 1)));
  for (auto& x : A) x = T(u(rng));
  for (auto& x : B) x = T(u(rng));
  for (auto& x : C) x = g.beta == 0 ? std::numeric_limits<T>::quiet_NaN() : T(u(rng));
  const std::vector<T> C0 = C;
  cpu::gemm(g.ta, g.tb, g.M, g.N, g.K, T(g.alpha), A.data(), lda, B.data(), ldb, T(g.beta), C.data(), ldc);
  const double eps = std::is_same_v<T, float> ? 2e-6 : 1e-14;
  for (int64_t i = 0; i < g.M; ++i) {
    for (int64_t j = 0; j < ldc; ++j) {
      const size_t ci = size_t(i * ldc + j);
      if (j >= g.N) {  // padding of C is never written
        ASSERT_TRUE(std::isnan(C[ci]) ? std::isnan(C0[ci]) : C[ci] == C0[ci]) << "wrote C padding at " << i << "," << j;
        continue;
      }
      double s = 0, mag = 0;
      for (int64_t k = 0; k < g.K; ++k) {
        const double a = g.ta ? A[size_t(k * lda + i)] : A[size_t(i * lda + k)];
        const double b = g.tb ? B[size_t(j * ldb + k)] : B[size_t(k * ldb + j)];
        s += a * b;
        mag += std::abs(a * b);
      }
      double expect = g.alpha * s + (g.beta == 0 ? 0.0 : g.beta * double(C0[ci]));
      double bound = eps * (std::abs(g.alpha) * mag + std::abs(g.beta) + 1) * (4 + std::sqrt(double(g.K)));
      ASSERT_NEAR(double(C[ci]), expect, bound) << "C[" << i << "," << j << "] of ta=" << g.ta << " tb=" << g.tb
                                                << " M=" << g.M << " N=" << g.N << " K=" << g.K;
    }
  }
}

// Sizes around the micro-kernel tiles of every ISA copy (MR 4/6/8, NR 8..48), K blocks (KC
// 192/256) and N panels (NC 240..512).
std::vector<GemmCase> gemm_cases() {
  std::vector<GemmCase> cs;
  for (int t = 0; t < 4; ++t) {
    const bool ta = t & 1, tb = t & 2;
    for (int64_t s = 1; s <= 70; ++s)
      cs.push_back({ta, tb, s, (s * 7) % 71 + 1, (s * 13) % 71 + 1, 1.0, 0.0, s % 3});
    for (int64_t m : {5, 7, 9, 15, 17, 29})
      for (int64_t n : {7, 33, 47, 49, 97}) cs.push_back({ta, tb, m, n, 257, -0.75, 0.5, 1});
    cs.push_back({ta, tb, 257, 257, 257, 1.0, 1.0, 0});
    cs.push_back({ta, tb, 15, 2100, 40, 2.0, 0.0, 3});
    cs.push_back({ta, tb, 43, 9, 520, 1.0, -1.0, 2});
    cs.push_back({ta, tb, 1, 300, 100, 1.0, 0.0, 1});  // vector-matrix
    cs.push_back({ta, tb, 300, 1, 100, 1.0, 0.5, 1});  // matrix-vector
    cs.push_back({ta, tb, 40, 30, 0, 1.0, 0.0, 1});    // K = 0: C = beta * C
    cs.push_back({ta, tb, 40, 30, 20, 0.0, 2.0, 1});   // alpha = 0
    cs.push_back({ta, tb, 0, 30, 20, 1.0, 0.0, 1});
  }
  return cs;
}

class GemmIsa : public ::testing::TestWithParam<cpu::Isa> {
 protected:
  void SetUp() override {
    if (int(GetParam()) > int(cpu::detected_isa())) GTEST_SKIP() << "CPU lacks " << cpu::isa_name(GetParam());
    cpu::set_cpu_isa(GetParam());
  }
  void TearDown() override { cpu::set_cpu_isa(cpu::detected_isa()); }
};

TEST_P(GemmIsa, FloatMatchesFloat64Loop) {
  uint64_t seed = 1;
  for (const GemmCase& g : gemm_cases()) {
    check_gemm<float>(g, seed++);
    if (HasFatalFailure()) return;
  }
}

TEST_P(GemmIsa, DoubleMatchesFloat64Loop) {
  uint64_t seed = 100000;
  for (const GemmCase& g : gemm_cases()) {
    check_gemm<double>(g, seed++);
    if (HasFatalFailure()) return;
  }
}

INSTANTIATE_TEST_SUITE_P(Linalg, GemmIsa, ::testing::Values(cpu::Isa::baseline, cpu::Isa::avx2, cpu::Isa::avx512),
                         [](const ::testing::TestParamInfo<cpu::Isa>& i) { return std::string(cpu::isa_name(i.param)); });

TEST_P(GemmIsa, RowPointerOperandMatchesStrided) {
  // gemm_rows reads op(B) through a table of row pointers; on the same data it must give exactly
  // what the strided call gives (same blocking, same arithmetic).
  std::mt19937_64 rng(7);
  std::uniform_real_distribution<float> u(-1, 1);
  for (bool tb : {false, true})
    for (auto [M, N, K] : {std::tuple<int64_t, int64_t, int64_t>{9, 50, 33}, {2, 7, 5}, {40, 97, 300}, {17, 500, 20}}) {
      const int64_t rows = tb ? N : K, cols = tb ? K : N, ldb = cols + 3;
      std::vector<float> A(size_t(M * K)), B(size_t(rows * ldb)), C1(size_t(M * N)), C2(size_t(M * N));
      for (auto& v : A) v = u(rng);
      for (auto& v : B) v = u(rng);
      std::vector<const float*> ptr(static_cast<size_t>(rows));
      for (int64_t r = 0; r < rows; ++r) ptr[size_t(r)] = B.data() + r * ldb;
      cpu::gemm(false, tb, M, N, K, 1.5f, A.data(), K, B.data(), ldb, 0.f, C1.data(), N);
      cpu::gemm_rows(false, tb, M, N, K, 1.5f, A.data(), K, ptr.data(), 0.f, C2.data(), N);
      EXPECT_EQ(C1, C2) << "tb=" << tb << " M=" << M << " N=" << N << " K=" << K;
    }
}

TEST(Gemm, SameBitsWithOneOrTwoThreads) {
  const int saved = cpu::num_threads();
  Tensor a = random_tensor({150, 300}, DType::f32, Domain::any, 5);
  Tensor b = random_tensor({300, 170}, DType::f32, Domain::any, 6);
  cpu::set_num_threads(2);
  Tensor two = mm(a, b);
  Tensor two_t = mm(b.t(), a.t());
  cpu::set_num_threads(1);
  Tensor one = mm(a, b);
  Tensor one_t = mm(b.t(), a.t());
  cpu::set_num_threads(saved);
  EXPECT_TRUE(tensors_equal(two, one));
  EXPECT_TRUE(tensors_equal(two_t, one_t));
}

// ---- tensor-level behaviour ---------------------------------------------------------------------

TEST(Linalg, AddmmWithZeroBetaIgnoresNaN) {
  Tensor c = full({3, 4}, std::numeric_limits<double>::quiet_NaN());
  Tensor a = random_tensor({3, 5}, DType::f32, Domain::any, 1);
  Tensor b = random_tensor({5, 4}, DType::f32, Domain::any, 2);
  EXPECT_TRUE(tensors_close(addmm(c, a, b, 0, 1), mm(a, b)));
}

TEST(Linalg, ResultShapes) {
  EXPECT_EQ(matmul(ones({3}), ones({3})).shape(), Shape{});
  EXPECT_EQ(matmul(ones({3}), ones({2, 3, 4})).shape(), (Shape{2, 4}));
  EXPECT_EQ(matmul(ones({2, 1, 3, 4}), ones({4, 5})).shape(), (Shape{2, 1, 3, 5}));
  EXPECT_EQ(matmul(ones({2, 1, 3, 4}), ones({6, 4, 5})).shape(), (Shape{2, 6, 3, 5}));
  EXPECT_EQ(matmul(ones({2, 3, 4}), ones({4})).shape(), (Shape{2, 3}));
  EXPECT_EQ(outer(ones({2}), ones({3})).shape(), (Shape{2, 3}));
  EXPECT_EQ(dot(ones({3}), ones({3})).item<double>(), 3.0);
}

// An empty inner dimension gives zeros of the result shape for every rank combination (the
// result memory starts uninitialised, so a missing fill shows).
TEST(Linalg, EmptyInnerDimensionGivesZeros) {
  struct Case {
    Shape a, b, out;
  };
  const std::vector<Case> cases = {
      {{0}, {0}, {}},         {{0}, {0, 3}, {3}},          {{0}, {2, 0, 4}, {2, 4}},       {{3, 0}, {0}, {3}},
      {{3, 0}, {0, 4}, {3, 4}}, {{3, 0}, {2, 0, 4}, {2, 3, 4}}, {{2, 3, 0}, {0}, {2, 3}}, {{2, 3, 0}, {0, 4}, {2, 3, 4}},
      {{2, 3, 0}, {2, 0, 4}, {2, 3, 4}}, {{2, 1, 3, 0}, {4, 0, 5}, {2, 4, 3, 5}}, {{0, 3, 0}, {0}, {0, 3}}};
  for (DType d : {DType::f32, DType::f64, DType::f16, DType::i64}) {
    for (const Case& c : cases) {
      SCOPED_TRACE(c.a.str() + " x " + c.b.str());
      Tensor y = matmul(empty(c.a, d), empty(c.b, d));
      EXPECT_EQ(y.shape(), c.out);
      EXPECT_EQ(y.dtype(), d);
      EXPECT_TRUE(tensors_equal(y, zeros(c.out, d)));
    }
  }
}

TEST(Linalg, BroadcastBatchOfExpandedViews) {
  // b's batch dimension is an expanded (stride 0) view: each matrix is read in place.
  Tensor a = random_tensor({4, 3, 5}, DType::f32, Domain::any, 3);
  Tensor b1 = random_tensor({1, 5, 2}, DType::f32, Domain::any, 4);
  Tensor got = matmul(a, b1.expand({4, 5, 2}));
  for (int64_t i = 0; i < 4; ++i) EXPECT_TRUE(tensors_close(got.select(0, i), mm(a.select(0, i), b1.select(0, 0))));
}

TEST(Linalg, Misuse) {
  EXPECT_KILN_ERROR(matmul(ones({2, 3}), ones({4, 5})), "matmul: [2, 3] x [4, 5]: inner dimensions 3 and 4 differ");
  EXPECT_KILN_ERROR(mm(ones({2, 3}), ones({4, 5})), "inner dimensions 3 and 4 differ");
  EXPECT_KILN_ERROR(mm(ones({2, 3}), ones({3, 5}, DType::f64)), "mm: dtypes f32 and f64 differ");
  EXPECT_KILN_ERROR(matmul(scalar_tensor(1.0), ones({3})), "at least 1 dimension");
  EXPECT_KILN_ERROR(mm(ones({3}), ones({3, 2})), "mm: expected 2-D tensors");
  EXPECT_KILN_ERROR(bmm(ones({2, 3, 4}), ones({3, 4, 5})), "bmm: batch sizes 2 and 3 differ");
  EXPECT_KILN_ERROR(bmm(ones({3, 4}), ones({4, 5})), "bmm: expected 3-D");
  EXPECT_KILN_ERROR(matmul(ones({2, 3, 4}), ones({3, 4, 5})), "matmul");
  EXPECT_KILN_ERROR(addmm(ones({2, 5}), ones({3, 4}), ones({4, 5})), "addmm");
  EXPECT_KILN_ERROR(addmm(ones({3, 5}, DType::i64), ones({3, 4}, DType::i64), ones({4, 5}, DType::i64), 0.5, 1),
                    "alpha and beta must be integers");
  EXPECT_KILN_ERROR(dot(ones({3}), ones({4})), "dot: lengths 3 and 4 differ");
  EXPECT_KILN_ERROR(dot(ones({3, 1}), ones({3})), "dot: expected 1-D");
  EXPECT_KILN_ERROR(outer(ones({3, 1}), ones({3})), "outer: expected 1-D");
  EXPECT_KILN_ERROR(mm(ones({2, 2}, DType::b8), ones({2, 2}, DType::b8)), "bool");
  EXPECT_KILN_ERROR(mm(Tensor(), ones({2, 2})), "undefined");
}

}  // namespace
}  // namespace kiln::test
