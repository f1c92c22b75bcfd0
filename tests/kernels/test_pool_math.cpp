// kernels/pool_math.h: the covering-output ranges the CUDA pool backward kernels gather over
// (Note [Pool backward by gathering]) against brute force over every window, for sliding windows
// (with padding, ceil_mode's extra window) and adaptive windows (shrinking and growing).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <vector>

#include "kiln/kernels/pool_math.h"

namespace kiln::test {
namespace {

TEST(PoolMath, SlidingCoverRangeMatchesBruteForce) {
  for (int64_t in = 1; in <= 12; ++in)
    for (int64_t k = 1; k <= 6; ++k)
      for (int64_t s = 1; s <= 4; ++s)
        for (int64_t pad = 0; pad <= k / 2; ++pad)
          for (int extra = 0; extra <= 1; ++extra) {
            const int64_t num = in + 2 * pad - k;
            if (num < 0) continue;
            const int64_t out = num / s + 1 + extra;  // extra: a ceil_mode window past the end
            for (int64_t i = 0; i < in; ++i) {
              std::vector<int64_t> want;
              for (int64_t o = 0; o < out; ++o) {
                const pool::AvgSpan sp = pool::avg_span(o, in, k, s, pad);
                if (sp.lo <= i && i < sp.hi) want.push_back(o);
              }
              int64_t o0, o1;
              pool::pool_cover_range(i, k, s, pad, out, o0, o1);
              std::vector<int64_t> got;
              for (int64_t o = o0; o < o1; ++o) got.push_back(o);
              EXPECT_EQ(got, want) << "in " << in << " k " << k << " s " << s << " pad " << pad << " out " << out
                                   << " i " << i;
            }
          }
}

TEST(PoolMath, AdaptiveCoverRangeMatchesBruteForce) {
  for (int64_t in = 1; in <= 20; ++in)
    for (int64_t out = 1; out <= 20; ++out)
      for (int64_t i = 0; i < in; ++i) {
        std::vector<int64_t> want;
        for (int64_t o = 0; o < out; ++o)
          if (pool::adaptive_start(o, in, out) <= i && i < pool::adaptive_end(o, in, out)) want.push_back(o);
        int64_t o0, o1;
        pool::adaptive_cover_range(i, in, out, o0, o1);
        std::vector<int64_t> got;
        for (int64_t o = o0; o < o1; ++o) got.push_back(o);
        EXPECT_EQ(got, want) << "in " << in << " out " << out << " i " << i;
        EXPECT_FALSE(want.empty());
      }
}

// The in-order scan of the CPU kernels: a NaN replaces the running max, else only a larger value.
void scan_max(const std::vector<float>& v, float& best, int64_t& at) {
  best = -std::numeric_limits<float>::infinity();
  at = 0;
  for (size_t i = 0; i < v.size(); ++i)
    if (pool::max_takes(v[i], best)) best = v[i], at = int64_t(i);
}

TEST(PoolMath, MaxMergeInAnyOrderMatchesTheScan) {
  const float nan = std::numeric_limits<float>::quiet_NaN(), inf = std::numeric_limits<float>::infinity();
  std::mt19937 rng(5);
  for (int trial = 0; trial < 2000; ++trial) {
    const size_t n = 1 + rng() % 70;
    std::vector<float> v(n);
    for (auto& x : v) {
      const unsigned r = rng() % 10;
      x = r == 0 ? nan : r == 1 ? -inf : float(int(rng() % 4) - 2);  // many ties
    }
    if (trial % 3 == 0)
      for (auto& x : v) x = -inf;
    float want;
    int64_t want_at;
    scan_max(v, want, want_at);
    // As the warp kernel: lane l takes positions l, l + 32, ...; then a shuffle-down tree.
    std::vector<float> lane_v(32, -inf);
    std::vector<int64_t> lane_at(32, INT64_MAX);
    for (size_t i = 0; i < n; ++i) pool::max_merge(lane_v[i % 32], lane_at[i % 32], v[i], int64_t(i));
    for (int off = 16; off > 0; off >>= 1)
      for (int l = 0; l + off < 32; ++l) pool::max_merge(lane_v[size_t(l)], lane_at[size_t(l)], lane_v[size_t(l + off)], lane_at[size_t(l + off)]);
    EXPECT_EQ(lane_at[0], want_at) << "trial " << trial;
    if (std::isnan(want))
      EXPECT_TRUE(std::isnan(lane_v[0]));
    else
      EXPECT_EQ(lane_v[0], want);
  }
}

TEST(PoolMath, AvgSpanAndDivisor) {
  // in 5, kernel 3, stride 2, pad 1: windows [-1, 2), [1, 4), [3, 6) clipped to [0, 5).
  const pool::AvgSpan a = pool::avg_span(0, 5, 3, 2, 1), c = pool::avg_span(2, 5, 3, 2, 1);
  EXPECT_EQ(a.lo, 0);
  EXPECT_EQ(a.hi, 2);
  EXPECT_EQ(a.padded, 3);
  EXPECT_EQ(c.lo, 3);
  EXPECT_EQ(c.hi, 5);
  EXPECT_EQ(c.padded, 3);
  // ceil_mode window starting at 5 in padding-free input of 6 with kernel 2 stride 5: [5, 7) -> [5, 6).
  const pool::AvgSpan e = pool::avg_span(1, 6, 2, 5, 0);
  EXPECT_EQ(e.hi - e.lo, 1);
  EXPECT_EQ(e.padded, 1);
  EXPECT_EQ(pool::avg_divisor(a, c, true, 0), 9.0);
  EXPECT_EQ(pool::avg_divisor(a, c, false, 0), 4.0);
  EXPECT_EQ(pool::avg_divisor(a, c, false, 7), 7.0);
  EXPECT_EQ(pool::first_valid(-3, 2), 1);
  EXPECT_EQ(pool::first_valid(-4, 2), 0);
  EXPECT_EQ(pool::floor_div(-1, 3), -1);
  EXPECT_EQ(pool::floor_div(-3, 3), -1);
  EXPECT_EQ(pool::floor_div(4, 3), 1);
  EXPECT_TRUE(pool::max_takes(std::numeric_limits<float>::quiet_NaN(), 1.0f));
  EXPECT_FALSE(pool::max_takes(1.0f, 1.0f));
}

}  // namespace
}  // namespace kiln::test
