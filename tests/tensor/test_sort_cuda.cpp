// CPU-vs-CUDA parity of sort, argsort, topk and unique (tensor/sort.h), bit for bit: both devices
// sort stably with the same order (Note [Sort order], Note [CUDA sort keys]), so values and
// indices must be identical, ties, NaNs and -0.0 included. Guard mode is on in every test. Every
// test skips without a usable GPU.
#if KILN_HAVE_CUDA
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "kiln/tensor/ops.h"
#include "support/cuda_parity.h"
#include "support/fixtures.h"

namespace kiln {
namespace {

using test::kAllDTypes;

using test::GuardScope;
using test::parity_bits;

// Values with many ties; floats also get NaNs, -0.0 and +-inf.
Tensor tie_values(const Shape& s, DType dt, uint64_t seed, int levels = 9) {
  std::mt19937_64 g(seed);
  std::vector<double> v(size_t(s.numel()));
  const bool unsigned_like = dt == DType::u8 || dt == DType::b8;
  for (auto& x : v) {
    // u8 stays in [0, 255] (a cast from a larger double is undefined).
    const int64_t top = dt == DType::u8 ? std::min(levels, 256) : levels;
    x = double(int64_t(g() % uint64_t(top))) - (unsigned_like ? 0 : levels / 2);
    if (is_floating(dt)) {
      switch (g() % 16) {
        case 0:
          x = std::nan("");
          break;
        case 1:
          x = -0.0;
          break;
        case 2:
          x = (g() & 1) ? INFINITY : -INFINITY;
          break;
        case 3:
          x += 0.125;
          break;
        default:
          break;
      }
    }
  }
  return from_vector(v, s).to(dt);
}

void expect_sort_parity(const Tensor& x, int64_t dim, const std::string& what) {
  Tensor gx = x.to(kCUDA);
  for (bool desc : {false, true}) {
    auto c = sort(x, dim, desc);
    auto g = sort(gx, dim, desc);
    EXPECT_TRUE(parity_bits(g.values, c.values)) << what << " desc=" << desc;
    EXPECT_TRUE(parity_bits(g.indices, c.indices)) << what << " desc=" << desc;
    EXPECT_TRUE(parity_bits(argsort(gx, dim, desc), c.indices)) << what;
  }
}

TEST(SortCuda, AllDTypesTiesAndNaN) {
  KILN_REQUIRE_GPU();
  GuardScope guard;
  for (DType dt : kAllDTypes)
    for (const Shape& s : {Shape{0}, Shape{1}, Shape{13}, Shape{7, 31}, Shape{3, 5, 67}}) {
      Tensor x = tie_values(s, dt, 7);
      for (int d = 0; d < s.size(); ++d)
        expect_sort_parity(x, d, std::string(dtype_name(dt)) + " d=" + std::to_string(d));
    }
  Tensor z = scalar_tensor(2.5, DType::f32);
  auto g = sort(z.to(kCUDA));
  EXPECT_TRUE(parity_bits(g.values, z));
  EXPECT_TRUE(test::guards_intact());
}

TEST(SortCuda, LongRowsManyShortRowsNonContiguous) {
  KILN_REQUIRE_GPU();
  GuardScope guard;
  for (DType dt : {DType::f32, DType::bf16, DType::i64, DType::u8}) {
    expect_sort_parity(tie_values({2, 100003}, dt, 11, 1000), -1, "long rows");
    expect_sort_parity(tie_values({30011, 3}, dt, 12), -1, "many short rows");
    expect_sort_parity(tie_values({30011, 3}, dt, 13), 0, "long columns");
    expect_sort_parity(tie_values({17, 23}, dt, 14).transpose(0, 1), 1, "non-contiguous");
  }
  Tensor x = randn({3, 100000});
  expect_sort_parity(x, 1, "distinct f32");
  expect_sort_parity(x.to(DType::f64), 1, "distinct f64");
  EXPECT_TRUE(test::guards_intact());
}

TEST(SortCuda, TopkKZeroOneNTiesAndNaN) {
  KILN_REQUIRE_GPU();
  GuardScope guard;
  for (DType dt : kAllDTypes)
    for (const Shape& s : {Shape{1}, Shape{13}, Shape{7, 31}, Shape{4, 1001}}) {
      Tensor x = tie_values(s, dt, 21);
      Tensor gx = x.to(kCUDA);
      const int64_t n = s[s.size() - 1];
      for (int64_t k : {int64_t(0), int64_t(1), n / 2, n})
        for (bool largest : {true, false}) {
          auto c = topk(x, k, -1, largest);
          auto g = topk(gx, k, -1, largest);
          EXPECT_TRUE(parity_bits(g.values, c.values)) << dtype_name(dt) << " k=" << k << " largest=" << largest;
          EXPECT_TRUE(parity_bits(g.indices, c.indices)) << dtype_name(dt) << " k=" << k << " largest=" << largest;
        }
      if (s.size() > 1) {
        auto c = topk(x, 2, 0, true);
        auto g = topk(gx, 2, 0, true);
        EXPECT_TRUE(parity_bits(g.values, c.values));
        EXPECT_TRUE(parity_bits(g.indices, c.indices));
      }
    }
  Tensor z = scalar_tensor(1.0, DType::f32);
  EXPECT_TRUE(parity_bits(topk(z.to(kCUDA), 1).values, topk(z, 1).values));
  Tensor e = zeros({5, 0});
  EXPECT_TRUE(parity_bits(topk(e.to(kCUDA), 0).indices, topk(e, 0).indices));
  EXPECT_TRUE(test::guards_intact());
}

TEST(SortCuda, UniqueWithInverseAndCounts) {
  KILN_REQUIRE_GPU();
  GuardScope guard;
  for (DType dt : kAllDTypes)
    for (const Shape& s : {Shape{0}, Shape{1}, Shape{13}, Shape{40, 50}, Shape{100003}}) {
      Tensor x = tie_values(s, dt, 31, 97);
      auto c = unique(x, true, true, true);
      auto g = unique(x.to(kCUDA), true, true, true);
      EXPECT_TRUE(parity_bits(g.values, c.values)) << dtype_name(dt) << " " << s;
      EXPECT_TRUE(parity_bits(g.inverse, c.inverse)) << dtype_name(dt) << " " << s;
      EXPECT_TRUE(parity_bits(g.counts, c.counts)) << dtype_name(dt) << " " << s;
      auto v = unique(x.to(kCUDA));
      EXPECT_TRUE(parity_bits(v.values, c.values));
      EXPECT_FALSE(v.inverse.defined());
      EXPECT_FALSE(v.counts.defined());
    }
  EXPECT_TRUE(test::guards_intact());
}

}  // namespace
}  // namespace kiln
#endif  // KILN_HAVE_CUDA
