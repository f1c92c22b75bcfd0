// Scattering kernels: scatter, scatter_add, index_add, index_copy. All partition the work by
// destination (Note [Deterministic accumulation] in indexing.h).
#include <algorithm>
#include <array>
#include <cstring>
#include <numeric>
#include <type_traits>
#include <vector>

#include "kiln/kernels/convert.h"
#include "kiln/kernels/cpu/indexing.h"
#include "kiln/kernels/cpu/loop_runner.h"
#include "kiln/kernels/cpu/parallel.h"

namespace kiln::cpu {
namespace {

// Like run_loop, but only the outer rows are split across threads: a row (the scattered dim) is
// always run whole by one thread, in order, so that writes to one destination never race.
template <int N, class Inner>
void run_whole_rows(const Loop& loop, const std::array<char*, N>& base, const std::array<int64_t, N>& es,
                    Inner&& inner) {
  const int64_t n_inner = loop.inner_size();
  const int64_t rows = loop.outer_size();
  if (n_inner == 0 || rows == 0) return;
  std::array<int64_t, N> istr;
  for (int k = 0; k < N; ++k) istr[k] = loop.inner_stride(k);
  int64_t grain = std::max<int64_t>(1, kElementwiseGrain / n_inner);
  parallel_for(0, rows, grain, [&](int64_t rb, int64_t re) {
    for (int64_t r = rb; r < re; ++r) {
      std::array<char*, N> p;
      for (int k = 0; k < N; ++k) p[k] = base[k] + loop.row_offset(k, r) * es[k];
      inner(p, n_inner, istr);
    }
  });
}

// Source positions grouped by destination: dests[g] receives positions order[starts[g] ..
// starts[g+1]), in increasing position.
struct Groups {
  std::vector<int64_t> order, starts, dests;
};

Groups group_by_destination(const int64_t* idx, int64_t m, int64_t n) {
  Groups g;
  g.order.resize(size_t(m));
  auto wrap = [&](int64_t p) { return idx[p] < 0 ? idx[p] + n : idx[p]; };
  if (n <= 4 * m + 1024) {
    // Counting sort: O(n + m) and stable, so positions stay in increasing order per destination.
    std::vector<int64_t> count(size_t(n) + 1, 0);
    for (int64_t p = 0; p < m; ++p) ++count[size_t(wrap(p)) + 1];
    for (int64_t j = 0; j < n; ++j) {
      if (count[size_t(j) + 1] > 0) g.dests.push_back(j);
      count[size_t(j) + 1] += count[size_t(j)];
    }
    g.starts.reserve(g.dests.size() + 1);
    for (int64_t j : g.dests) g.starts.push_back(count[size_t(j)]);
    g.starts.push_back(m);
    for (int64_t p = 0; p < m; ++p) g.order[size_t(count[size_t(wrap(p))]++)] = p;
  } else {
    // Few indices into a large destination: sort positions by destination (stable).
    std::iota(g.order.begin(), g.order.end(), int64_t(0));
    std::stable_sort(g.order.begin(), g.order.end(), [&](int64_t a, int64_t b) { return wrap(a) < wrap(b); });
    for (int64_t k = 0; k < m; ++k) {
      int64_t j = wrap(g.order[size_t(k)]);
      if (g.dests.empty() || g.dests.back() != j) {
        g.dests.push_back(j);
        g.starts.push_back(k);
      }
    }
    g.starts.push_back(m);
  }
  return g;
}

template <class T>
constexpr bool kIsHalfLike = std::is_same_v<T, Half> || std::is_same_v<T, BFloat16>;

}  // namespace

void scatter_loop(const Loop& loop, int64_t elem_size, void* dest, const int64_t* idx, const void* src,
                  int64_t dest_dim_stride, int64_t dim_size) {
  dispatch_elem_size(elem_size, [&](auto tag) {
    using U = decltype(tag);
    std::array<char*, 3> base{static_cast<char*>(dest), reinterpret_cast<char*>(const_cast<int64_t*>(idx)),
                              static_cast<char*>(const_cast<void*>(src))};
    std::array<int64_t, 3> es{int64_t(sizeof(U)), 8, int64_t(sizeof(U))};
    run_whole_rows<3>(loop, base, es, [&](const std::array<char*, 3>& p, int64_t cnt, const std::array<int64_t, 3>& s) {
      U* d = reinterpret_cast<U*>(p[0]);
      const int64_t* ix = reinterpret_cast<const int64_t*>(p[1]);
      const U* sv = reinterpret_cast<const U*>(p[2]);
      for (int64_t k = 0; k < cnt; ++k) {
        int64_t i = ix[k * s[1]];
        i += i < 0 ? dim_size : 0;
        d[k * s[0] + i * dest_dim_stride] = sv[k * s[2]];
      }
    });
  });
}

void scatter_add_loop(const Loop& loop, DType dtype, void* dest, const int64_t* idx, const void* src,
                      int64_t dest_dim_stride, int64_t dim_size) {
  dispatch_dtype(dtype, [&](auto tag) {
    using T = decltype(tag);
    using C = compute_t<T>;
    std::array<char*, 3> base{static_cast<char*>(dest), reinterpret_cast<char*>(const_cast<int64_t*>(idx)),
                              static_cast<char*>(const_cast<void*>(src))};
    std::array<int64_t, 3> es{int64_t(sizeof(T)), 8, int64_t(sizeof(T))};
    run_whole_rows<3>(loop, base, es, [&](const std::array<char*, 3>& p, int64_t cnt, const std::array<int64_t, 3>& s) {
      T* d = reinterpret_cast<T*>(p[0]);
      const int64_t* ix = reinterpret_cast<const int64_t*>(p[1]);
      const T* sv = reinterpret_cast<const T*>(p[2]);
      for (int64_t k = 0; k < cnt; ++k) {
        int64_t i = ix[k * s[1]];
        i += i < 0 ? dim_size : 0;
        T& o = d[k * s[0] + i * dest_dim_stride];
        o = convert<T>(C(o) + C(sv[k * s[2]]));
      }
    });
  });
}

void index_add_rows(DType dtype, void* dest, int64_t outer, int64_t n, int64_t inner, const int64_t* idx,
                    int64_t m, const void* src, double alpha_f, int64_t alpha_i) {
  if (outer == 0 || inner == 0 || m == 0) return;
  Groups g = group_by_destination(idx, m, n);
  const int64_t ngroups = int64_t(g.dests.size());
  dispatch_dtype(dtype, [&](auto tag) {
    using T = decltype(tag);
    using C = compute_t<T>;
    T* dst = static_cast<T*>(dest);
    const T* sv = static_cast<const T*>(src);
    C alpha;
    if constexpr (std::is_floating_point_v<C>)
      alpha = C(alpha_f);
    else
      alpha = C(alpha_i);
    const bool unit = alpha_f == 1.0 && alpha_i == 1;
    // Tasks are (outer, destination) pairs; each sums its sources in position order.
    int64_t avg = std::max<int64_t>(1, m / std::max<int64_t>(1, ngroups));
    int64_t grain = std::max<int64_t>(1, kElementwiseGrain / (inner * avg));
    parallel_for(0, outer * ngroups, grain, [&](int64_t tb, int64_t te) {
      std::vector<C> acc(kIsHalfLike<T> ? size_t(inner) : 0);
      for (int64_t t = tb; t < te; ++t) {
        int64_t o = t / ngroups, gi = t % ngroups;
        T* drow = dst + (o * n + g.dests[size_t(gi)]) * inner;
        for (int64_t q = g.starts[size_t(gi)]; q < g.starts[size_t(gi) + 1]; ++q) {
          const T* srow = sv + (o * m + g.order[size_t(q)]) * inner;
          if constexpr (kIsHalfLike<T>) {
            // 16-bit floats: sum in f32 and round once per destination.
            if (q == g.starts[size_t(gi)])
              for (int64_t k = 0; k < inner; ++k) acc[size_t(k)] = C(drow[k]);
            for (int64_t k = 0; k < inner; ++k) acc[size_t(k)] += alpha * C(srow[k]);
          } else if constexpr (std::is_same_v<T, bool>) {
            for (int64_t k = 0; k < inner; ++k) drow[k] = drow[k] || (alpha && srow[k]);
          } else if (unit) {
            for (int64_t k = 0; k < inner; ++k) drow[k] = T(drow[k] + srow[k]);
          } else {
            for (int64_t k = 0; k < inner; ++k) drow[k] = T(drow[k] + alpha * srow[k]);
          }
        }
        if constexpr (kIsHalfLike<T>)
          for (int64_t k = 0; k < inner; ++k) drow[k] = T(acc[size_t(k)]);
      }
    });
  });
}

void index_copy_rows(int64_t elem_size, void* dest, int64_t n, int64_t inner, const int64_t* idx, int64_t m,
                     const void* src) {
  if (n == 0 || inner == 0 || m == 0) return;
  char* d = static_cast<char*>(dest);
  const char* s = static_cast<const char*>(src);
  const int64_t row_bytes = inner * elem_size;
  // Each task owns a range of destination rows and copies, in position order, the sources that
  // land there: the last position wins whatever the chunking.
  int64_t grain = std::max<int64_t>(1, n / 64);
  if (m * inner < kElementwiseGrain) grain = n;
  parallel_for(0, n, grain, [&](int64_t b, int64_t e) {
    for (int64_t p = 0; p < m; ++p) {
      int64_t j = idx[p] < 0 ? idx[p] + n : idx[p];
      if (j >= b && j < e) std::memcpy(d + j * row_bytes, s + p * row_bytes, size_t(row_bytes));
    }
  });
}

}  // namespace kiln::cpu
