// The CUDA sort keys (kernels/sort_key.h) checked on the CPU: key order equals Note [Sort order]
// for every pair of a set of awkward values (NaN, -0.0, infinities, subnormals, ties, extremes),
// and a host emulation of the CUDA sort (stable sort of positions by key, complemented and masked
// to sort_key_bits for descending) gives exactly cpu::sort_rows' indices.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>
#include <numeric>
#include <random>
#include <vector>

#include "kiln/kernels/cpu/sort.h"
#include "kiln/kernels/sort_key.h"

namespace kiln {
namespace {

template <class T>
std::vector<T> awkward_values(uint64_t seed) {
  using C = compute_t<T>;
  std::vector<double> d = {0.0, 1.0, 2.0, 3.0, 7.0, 100.0, 255.0, 127.0, 128.0};
  if constexpr (!std::is_same_v<T, uint8_t> && !std::is_same_v<T, bool>)
    for (double v : {-1.0, -2.0, -3.0, -128.0, -100.0}) d.push_back(v);
  if constexpr (std::is_floating_point_v<C>) {
    for (double v : {-0.0, 0.5, -0.5, 1e-40, -1e-40, 1e-300, 65504.0, -65504.0, 3.0e38, -3.0e38, double(INFINITY),
                     -double(INFINITY), std::nan(""), -std::nan("")})
      d.push_back(v);
  }
  std::mt19937_64 g(seed);
  std::uniform_real_distribution<double> u(-50, 50);
  for (int i = 0; i < 40; ++i) d.push_back(std::is_floating_point_v<C> ? u(g) : std::floor(std::abs(u(g))));
  std::vector<T> v;
  for (double x : d) {
    if constexpr (std::is_same_v<T, bool>)
      v.push_back(x != 0);
    else if constexpr (std::is_floating_point_v<C>)
      v.push_back(T(C(x)));
    else
      v.push_back(T(int64_t(x)));
  }
  if constexpr (std::is_same_v<T, int64_t>) {
    v.push_back(std::numeric_limits<int64_t>::min());
    v.push_back(std::numeric_limits<int64_t>::max());
  }
  if constexpr (std::is_same_v<T, int32_t>) {
    v.push_back(std::numeric_limits<int32_t>::min());
    v.push_back(std::numeric_limits<int32_t>::max());
  }
  return v;
}

// Note [Sort order]: numbers by value, NaN after all numbers and equal to NaN.
template <class T>
int compare(T a, T b) {
  using C = compute_t<T>;
  C x = C(a), y = C(b);
  bool xn = x != x, yn = y != y;
  if (xn || yn) return xn == yn ? 0 : (xn ? 1 : -1);
  return x < y ? -1 : (y < x ? 1 : 0);
}

template <class T>
void check_dtype() {
  std::vector<T> v = awkward_values<T>(1);
  for (T a : v)
    for (T b : v) {
      const int c = compare(a, b);
      const auto ka = sort_key(a), kb = sort_key(b);
      ASSERT_EQ(c < 0, ka < kb) << double(compute_t<T>(a)) << " vs " << double(compute_t<T>(b));
      ASSERT_EQ(c == 0, ka == kb) << double(compute_t<T>(a)) << " vs " << double(compute_t<T>(b));
    }
  // Host emulation of the CUDA row sort against the CPU kernel, both directions.
  const int64_t n = int64_t(v.size());
  const int bits = sort_key_bits<T>();
  using K = SortKey<T>;
  const K mask = bits == int(sizeof(K) * 8) ? K(~K(0)) : K((K(1) << bits) - 1);
  for (bool desc : {false, true}) {
    // Plain arrays: std::vector<bool> has no data().
    std::unique_ptr<T[]> x(new T[v.size()]), values(new T[v.size()]);
    for (size_t i = 0; i < v.size(); ++i) x[i] = v[i];
    std::vector<int64_t> expect(v.size());
    cpu::sort_rows(dtype_of<T>(), x.get(), 1, n, desc, values.get(), expect.data());
    std::vector<int64_t> pos(v.size());
    std::iota(pos.begin(), pos.end(), int64_t(0));
    auto key = [&](int64_t p) { return K((desc ? K(~sort_key(v[size_t(p)])) : sort_key(v[size_t(p)])) & mask); };
    std::stable_sort(pos.begin(), pos.end(), [&](int64_t a, int64_t b) { return key(a) < key(b); });
    EXPECT_EQ(pos, expect) << dtype_name(dtype_of<T>()) << " descending=" << desc;
  }
}

TEST(SortKey, OrderMatchesTheCpuSort) {
  check_dtype<float>();
  check_dtype<double>();
  check_dtype<Half>();
  check_dtype<BFloat16>();
  check_dtype<int64_t>();
  check_dtype<int32_t>();
  check_dtype<uint8_t>();
  check_dtype<bool>();
}

}  // namespace
}  // namespace kiln
