// CPU-vs-CUDA parity of the 2-d pools (tensor/pool.h), forward and backward, in f32, f64, f16 and
// bf16: kernel / stride / padding / dilation / ceil_mode / count_include_pad / divisor_override
// combinations, odd shapes (N = 1, C = 3, 7x7, 1x1 spatial, 3-d CHW inputs, non-contiguous inputs)
// and a large 8x64x56x56 batch, overlapping windows in backward, ties and NaNs in max pooling,
// bit-identical backward over two runs; guard regions checked after every op. Every test skips
// without a usable GPU.
#if KILN_HAVE_CUDA
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

#include "kiln/tensor/pool.h"
#include "support/cuda_parity.h"
#include "support/op_table.h"

namespace kiln::test {
namespace {

using I2 = std::array<int64_t, 2>;

const std::vector<DType> kDtypes = {DType::f32, DType::f64, DType::f16, DType::bf16};

struct Window {
  I2 k, s, p, d;
  bool ceil;
};

// Sliding-window configurations; the overlapping ones (stride < kernel) test the gathers.
const std::vector<Window> kWindows = {
    {{3, 3}, {2, 2}, {1, 1}, {1, 1}, false}, {{3, 3}, {1, 1}, {1, 1}, {1, 1}, false},
    {{2, 2}, {2, 2}, {0, 0}, {1, 1}, true},  {{3, 2}, {2, 1}, {1, 0}, {2, 1}, true},
    {{1, 1}, {1, 1}, {0, 0}, {1, 1}, false}, {{5, 3}, {3, 2}, {2, 1}, {1, 1}, true},
    {{4, 4}, {3, 3}, {2, 2}, {1, 1}, true}};

const std::vector<Shape> kShapes = {{1, 3, 7, 7}, {2, 3, 8, 9}, {3, 5, 5}, {2, 2, 13, 11}, {0, 3, 7, 7}};

std::string label(const char* op, DType d, const Shape& s, int cfg) {
  std::ostringstream os;
  os << op << " " << dtype_name(d) << " " << s << " cfg " << cfg;
  return os.str();
}

// Effective kernel of a window along one dim (the padding limit).
bool valid_window(const Window& w, const Shape& s, bool avg) {
  for (int i = 0; i < 2; ++i) {
    const int64_t eff = avg ? w.k[i] : (w.k[i] - 1) * w.d[i] + 1;
    if (w.p[i] > eff / 2) return false;
    const int64_t in = s[s.size() - 2 + i];
    if (in + 2 * w.p[i] < eff) return false;
  }
  return true;
}

// Pooled values and gradients per element: default_tol, except f64, which this test holds to its
// own 1e-12 / 1e-14, tighter than default_tol's 1e-7 (a pool reads or sums at most one window, so
// f64 results agree to a few ulps).
void check_pool_exact(const Tensor& ref, const Tensor& got, const std::string& what) {
  const Tol tol = ref.dtype() == DType::f64 ? Tol{1e-12, 1e-14} : default_tol(ref.dtype());
  EXPECT_TRUE(parity_within(got, ref, tol)) << what;
}

TEST(PoolCuda, MaxPool2dForwardBackward) {
  KILN_REQUIRE_GPU();
  GuardScope guards;
  for (DType d : kDtypes)
    for (const Shape& s : kShapes)
      for (size_t ci = 0; ci < kWindows.size(); ++ci) {
        const Window& w = kWindows[ci];
        if (!valid_window(w, s, false)) continue;
        const std::string what = label("max_pool2d", d, s, int(ci));
        const Tensor x = random_tensor(s, d, Domain::any, 1 + ci);
        const ValuesIndices ref = max_pool2d(x, w.k, w.s, w.p, w.d, w.ceil);
        const ValuesIndices got = max_pool2d(on_gpu(x), w.k, w.s, w.p, w.d, w.ceil);
        check_pool_exact(ref.values, got.values, what + " values");
        EXPECT_TRUE(parity_within(got.indices, ref.indices, {0, 0})) << what + " indices";
        EXPECT_TRUE(guards_intact()) << what + " forward";
        const Tensor dy = random_tensor(ref.values.shape(), d, Domain::any, 100 + ci);
        const Tensor dref = max_pool2d_backward(dy, ref.indices, s);
        const Tensor dgot = max_pool2d_backward(on_gpu(dy), got.indices, s);
        check_pool_exact(dref, dgot, what + " dx");
        EXPECT_TRUE(guards_intact()) << what + " backward";
      }
}

// Values with many ties (small integers) and NaNs: the first maximum wins, NaN wins over numbers.
Tensor ties_and_nans(const Shape& s, DType d, uint64_t seed, bool nans) {
  std::vector<double> v = random_tensor(s, DType::f64, Domain::any, seed).to_vector<double>();
  for (size_t i = 0; i < v.size(); ++i) {
    v[i] = std::floor(v[i]);  // -3 .. 2
    if (nans && i % 17 == 5) v[i] = std::numeric_limits<double>::quiet_NaN();
    if (i % 23 == 7) v[i] = -std::numeric_limits<double>::infinity();
  }
  return from_vector(v, s).to(d);
}

TEST(PoolCuda, MaxPoolTiesNaNsAndInfinities) {
  KILN_REQUIRE_GPU();
  GuardScope guards;
  for (DType d : kDtypes)
    for (bool nans : {false, true}) {
      const Shape s = {2, 3, 9, 10};
      const Tensor x = ties_and_nans(s, d, 7, nans);
      const std::string what = std::string("ties ") + dtype_name(d) + (nans ? " nans" : "");
      for (size_t ci = 0; ci < kWindows.size(); ++ci) {
        const Window& w = kWindows[ci];
        if (!valid_window(w, s, false)) continue;
        const ValuesIndices ref = max_pool2d(x, w.k, w.s, w.p, w.d, w.ceil);
        const ValuesIndices got = max_pool2d(on_gpu(x), w.k, w.s, w.p, w.d, w.ceil);
        check_pool_exact(ref.values, got.values, what + " max_pool2d values");
        EXPECT_TRUE(parity_within(got.indices, ref.indices, {0, 0})) << what + " max_pool2d indices";
        const Tensor dy = random_tensor(ref.values.shape(), d, Domain::any, 9);
        check_pool_exact(max_pool2d_backward(dy, ref.indices, s), max_pool2d_backward(on_gpu(dy), got.indices, s),
                         what + " max_pool2d dx");
      }
      for (I2 o : {I2{4, 3}, I2{1, 1}, I2{1, 2}, I2{9, 10}, I2{12, 14}}) {
        const ValuesIndices ref = adaptive_max_pool2d(x, o);
        const ValuesIndices got = adaptive_max_pool2d(on_gpu(x), o);
        check_pool_exact(ref.values, got.values, what + " adaptive_max values");
        EXPECT_TRUE(parity_within(got.indices, ref.indices, {0, 0})) << what + " adaptive_max indices";
        const Tensor dy = random_tensor(ref.values.shape(), d, Domain::any, 10);
        check_pool_exact(adaptive_max_pool2d_backward(dy, ref.indices, s),
                         adaptive_max_pool2d_backward(on_gpu(dy), got.indices, s), what + " adaptive_max dx");
      }
      EXPECT_TRUE(guards_intact()) << what;
    }
}

TEST(PoolCuda, AvgPool2dForwardBackward) {
  KILN_REQUIRE_GPU();
  GuardScope guards;
  for (DType d : kDtypes)
    for (const Shape& s : kShapes)
      for (size_t ci = 0; ci < kWindows.size(); ++ci) {
        Window w = kWindows[ci];
        w.d = {1, 1};
        if (!valid_window(w, s, true)) continue;
        for (int mode = 0; mode < 3; ++mode) {
          const bool cip = mode != 1;
          const std::optional<int64_t> div = mode == 2 ? std::optional<int64_t>(5) : std::nullopt;
          const std::string what = label("avg_pool2d", d, s, int(ci)) + " mode " + std::to_string(mode);
          const Tensor x = random_tensor(s, d, Domain::any, 200 + ci);
          const Tensor ref = avg_pool2d(x, w.k, w.s, w.p, w.ceil, cip, div);
          const Tensor got = avg_pool2d(on_gpu(x), w.k, w.s, w.p, w.ceil, cip, div);
          check_pool_exact(ref, got, what + " y");
          const Tensor dy = random_tensor(ref.shape(), d, Domain::any, 300 + ci);
          check_pool_exact(avg_pool2d_backward(dy, s, w.k, w.s, w.p, w.ceil, cip, div),
                           avg_pool2d_backward(on_gpu(dy), s, w.k, w.s, w.p, w.ceil, cip, div), what + " dx");
          EXPECT_TRUE(guards_intact()) << what;
        }
      }
}

TEST(PoolCuda, AdaptivePoolsForwardBackward) {
  KILN_REQUIRE_GPU();
  GuardScope guards;
  const std::vector<std::pair<Shape, I2>> cases = {
      {{1, 3, 7, 7}, {3, 3}}, {{1, 3, 7, 7}, {1, 1}}, {{2, 3, 5, 9}, {3, 4}}, {{2, 3, 7, 7}, {10, 10}},
      {{3, 1, 1}, {1, 1}},    {{3, 1, 1}, {2, 3}},    {{0, 2, 4, 4}, {2, 2}}, {{2, 4, 13, 11}, {7, 7}},
      // Windows of 64 values and more: the warp-per-output kernels.
      {{2, 3, 16, 17}, {1, 1}}, {{2, 2, 40, 36}, {3, 2}}, {{1, 3, 8, 8}, {1, 1}}};
  for (DType d : kDtypes)
    for (const auto& [s, o] : cases) {
      std::ostringstream os;
      os << "adaptive " << dtype_name(d) << " " << s << " -> {" << o[0] << ", " << o[1] << "}";
      const std::string what = os.str();
      const Tensor x = random_tensor(s, d, Domain::any, 400);
      const Tensor aref = adaptive_avg_pool2d(x, o);
      const Tensor agot = adaptive_avg_pool2d(on_gpu(x), o);
      check_pool_exact(aref, agot, what + " avg y");
      const Tensor dy = random_tensor(aref.shape(), d, Domain::any, 401);
      check_pool_exact(adaptive_avg_pool2d_backward(dy, s), adaptive_avg_pool2d_backward(on_gpu(dy), s),
                       what + " avg dx");
      const ValuesIndices mref = adaptive_max_pool2d(x, o);
      const ValuesIndices mgot = adaptive_max_pool2d(on_gpu(x), o);
      check_pool_exact(mref.values, mgot.values, what + " max values");
      EXPECT_TRUE(parity_within(mgot.indices, mref.indices, {0, 0})) << what + " max indices";
      check_pool_exact(adaptive_max_pool2d_backward(dy, mref.indices, s),
                       adaptive_max_pool2d_backward(on_gpu(dy), mgot.indices, s), what + " max dx");
      EXPECT_TRUE(guards_intact()) << what;
    }
}

TEST(PoolCuda, NonContiguousInputs) {
  KILN_REQUIRE_GPU();
  GuardScope guards;
  const Tensor base = random_tensor({2, 3, 9, 8}, DType::f32, Domain::any, 500);
  const Tensor x = base.transpose(2, 3);  // [2, 3, 8, 9]
  const Shape s = x.shape();
  const ValuesIndices mref = max_pool2d(x, {3, 3}, {2, 2}, {1, 1});
  const ValuesIndices mgot = max_pool2d(on_gpu(x), {3, 3}, {2, 2}, {1, 1});
  check_pool_exact(mref.values, mgot.values, "transposed max values");
  EXPECT_TRUE(parity_within(mgot.indices, mref.indices, {0, 0})) << "transposed max indices";
  const Tensor dy_base = random_tensor({2, 3, mref.values.size(3), mref.values.size(2)}, DType::f32, Domain::any, 501);
  const Tensor dy = dy_base.transpose(2, 3);
  check_pool_exact(max_pool2d_backward(dy, mref.indices, s), max_pool2d_backward(on_gpu(dy), mgot.indices, s),
                   "transposed max dx");
  check_pool_exact(avg_pool2d(x, {2, 3}, {1, 2}), avg_pool2d(on_gpu(x), {2, 3}, {1, 2}), "transposed avg y");
  check_pool_exact(adaptive_avg_pool2d(x, {3, 5}), adaptive_avg_pool2d(on_gpu(x), {3, 5}), "transposed adaptive y");
  EXPECT_TRUE(guards_intact()) << "non-contiguous";
}

TEST(PoolCuda, LargeBatchF32) {
  KILN_REQUIRE_GPU();
  GuardScope guards;
  const Shape s = {8, 64, 56, 56};
  const Tensor x = random_tensor(s, DType::f32, Domain::any, 600);
  const ValuesIndices mref = max_pool2d(x, {3, 3}, {2, 2}, {1, 1});
  const ValuesIndices mgot = max_pool2d(on_gpu(x), {3, 3}, {2, 2}, {1, 1});
  check_pool_exact(mref.values, mgot.values, "large max values");
  EXPECT_TRUE(parity_within(mgot.indices, mref.indices, {0, 0})) << "large max indices";
  const Tensor dy = random_tensor(mref.values.shape(), DType::f32, Domain::any, 601);
  check_pool_exact(max_pool2d_backward(dy, mref.indices, s), max_pool2d_backward(on_gpu(dy), mgot.indices, s),
                   "large max dx");
  const Tensor aref = avg_pool2d(x, {3, 3}, {1, 1}, {1, 1}, false, false);
  check_pool_exact(aref, avg_pool2d(on_gpu(x), {3, 3}, {1, 1}, {1, 1}, false, false), "large avg y");
  const Tensor ady = random_tensor(aref.shape(), DType::f32, Domain::any, 602);
  check_pool_exact(avg_pool2d_backward(ady, s, {3, 3}, {1, 1}, {1, 1}, false, false),
                   avg_pool2d_backward(on_gpu(ady), s, {3, 3}, {1, 1}, {1, 1}, false, false), "large avg dx");
  const Tensor gref = adaptive_avg_pool2d(x, {1, 1});
  check_pool_exact(gref, adaptive_avg_pool2d(on_gpu(x), {1, 1}), "large global avg y");
  EXPECT_TRUE(guards_intact()) << "large batch";
}

TEST(PoolCuda, BackwardIsBitIdenticalOverRuns) {
  KILN_REQUIRE_GPU();
  GuardScope guards;
  // Stride-1 windows over tied values: many outputs point at the same input element.
  const Shape s = {4, 8, 31, 29};
  const Tensor x = on_gpu(ties_and_nans(s, DType::f32, 700, false));
  const ValuesIndices m = max_pool2d(x, {5, 5}, {1, 1}, {2, 2});
  const Tensor dy = on_gpu(random_tensor(m.values.shape(), DType::f32, Domain::any, 701));
  EXPECT_TRUE(bit_identical(max_pool2d_backward(dy, m.indices, s), max_pool2d_backward(dy, m.indices, s)))
      << "max_pool2d dx";
  const ValuesIndices am = adaptive_max_pool2d(x, {40, 40});
  const Tensor ady = on_gpu(random_tensor(am.values.shape(), DType::f32, Domain::any, 702));
  EXPECT_TRUE(
      bit_identical(adaptive_max_pool2d_backward(ady, am.indices, s), adaptive_max_pool2d_backward(ady, am.indices, s)))
      << "adaptive_max_pool2d dx";
  const Tensor a = avg_pool2d(x, {3, 3}, {1, 1}, {1, 1});
  const Tensor gdy = on_gpu(random_tensor(a.shape(), DType::f32, Domain::any, 703));
  EXPECT_TRUE(bit_identical(avg_pool2d_backward(gdy, s, {3, 3}, {1, 1}, {1, 1}),
                            avg_pool2d_backward(gdy, s, {3, 3}, {1, 1}, {1, 1})))
      << "avg_pool2d dx";
  EXPECT_TRUE(guards_intact()) << "bit identical";
}

}  // namespace
}  // namespace kiln::test
#endif  // KILN_HAVE_CUDA
