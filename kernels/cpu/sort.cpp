// Comparison sorts over (key, position) pairs; see Note [Sort order] in sort.h.
#include "kiln/kernels/cpu/sort.h"

#include <algorithm>
#include <cmath>
#include <type_traits>
#include <utility>
#include <vector>

#include "kiln/kernels/cpu/parallel.h"

namespace kiln::cpu {
namespace {

template <class K>
bool is_nan(K v) {
  if constexpr (std::is_floating_point_v<K>)
    return std::isnan(v);
  else
    return false;
}

// Rows per task: enough elements that a task is worth scheduling.
int64_t row_grain(int64_t n) { return std::max<int64_t>(1, 16384 / std::max<int64_t>(n, 1)); }

template <class T>
using Pair = std::pair<compute_t<T>, int64_t>;

template <class T>
void load_row(const T* x, int64_t n, std::vector<Pair<T>>& buf) {
  buf.resize(size_t(n));
  for (int64_t i = 0; i < n; ++i) buf[size_t(i)] = {compute_t<T>(x[i]), i};
}

template <class T>
void sort_one(std::vector<Pair<T>>& buf, bool descending) {
  using K = compute_t<T>;
  // NaNs are moved out of the comparison sort (stably) so that the comparator stays a plain <.
  auto mid = buf.end();
  if constexpr (std::is_floating_point_v<K>)
    mid = std::stable_partition(buf.begin(), buf.end(), [](const Pair<T>& p) { return !std::isnan(p.first); });
  if (descending) {
    std::stable_sort(buf.begin(), mid, [](const Pair<T>& a, const Pair<T>& b) { return a.first > b.first; });
    std::rotate(buf.begin(), mid, buf.end());  // NaNs, the largest, first
  } else {
    std::stable_sort(buf.begin(), mid, [](const Pair<T>& a, const Pair<T>& b) { return a.first < b.first; });
  }
}

}  // namespace

void sort_rows(DType dtype, const void* x, int64_t rows, int64_t n, bool descending, void* values,
               int64_t* indices) {
  if (rows == 0 || n == 0) return;
  dispatch_dtype(dtype, [&](auto tag) {
    using T = decltype(tag);
    const T* xs = static_cast<const T*>(x);
    T* vs = static_cast<T*>(values);
    parallel_for(0, rows, row_grain(n), [&](int64_t rb, int64_t re) {
      std::vector<Pair<T>> buf;
      for (int64_t r = rb; r < re; ++r) {
        load_row(xs + r * n, n, buf);
        sort_one<T>(buf, descending);
        const T* xr = xs + r * n;
        for (int64_t i = 0; i < n; ++i) {
          int64_t p = buf[size_t(i)].second;
          vs[r * n + i] = xr[p];
          indices[r * n + i] = p;
        }
      }
    });
  });
}

void topk_rows(DType dtype, const void* x, int64_t rows, int64_t n, int64_t k, bool largest, void* values,
               int64_t* indices) {
  if (rows == 0 || k == 0) return;
  dispatch_dtype(dtype, [&](auto tag) {
    using T = decltype(tag);
    using K = compute_t<T>;
    const T* xs = static_cast<const T*>(x);
    T* vs = static_cast<T*>(values);
    // A strict total order: better value first, then lower position.
    auto better = [largest](const Pair<T>& a, const Pair<T>& b) {
      bool an = is_nan<K>(a.first), bn = is_nan<K>(b.first);
      if (an != bn) return largest ? an : bn;
      if (!an && a.first != b.first) return largest ? a.first > b.first : a.first < b.first;
      return a.second < b.second;
    };
    parallel_for(0, rows, row_grain(n), [&](int64_t rb, int64_t re) {
      std::vector<Pair<T>> buf;
      for (int64_t r = rb; r < re; ++r) {
        const T* xr = xs + r * n;
        if (k * 16 <= n) {
          // Small k: keep the k best seen so far, best first; most elements lose against the
          // current k-th and cost one comparison.
          buf.clear();
          for (int64_t i = 0; i < n; ++i) {
            Pair<T> c{K(xr[i]), i};
            if (int64_t(buf.size()) == k) {
              if (!better(c, buf.back())) continue;
              buf.pop_back();
            }
            buf.insert(std::upper_bound(buf.begin(), buf.end(), c, better), c);
          }
        } else {
          load_row(xr, n, buf);
          if (k < n) std::nth_element(buf.begin(), buf.begin() + (k - 1), buf.end(), better);
          std::sort(buf.begin(), buf.begin() + k, better);
        }
        for (int64_t i = 0; i < k; ++i) {
          int64_t p = buf[size_t(i)].second;
          vs[r * k + i] = xr[p];
          indices[r * k + i] = p;
        }
      }
    });
  });
}

int64_t unique_sorted(DType dtype, const void* sorted, const int64_t* perm, int64_t n, void* values,
                      int64_t* inverse, int64_t* counts) {
  return dispatch_dtype(dtype, [&](auto tag) -> int64_t {
    using T = decltype(tag);
    using K = compute_t<T>;
    const T* s = static_cast<const T*>(sorted);
    T* v = static_cast<T*>(values);
    int64_t u = -1;
    for (int64_t i = 0; i < n; ++i) {
      // A new run unless equal to the previous value (NaN equals nothing, so each NaN is its own).
      if (i == 0 || !(K(s[i]) == K(s[i - 1]))) {
        ++u;
        v[u] = s[i];
        if (counts) counts[u] = 0;
      }
      if (counts) ++counts[u];
      if (inverse) inverse[perm[i]] = u;
    }
    return u + 1;
  });
}

}  // namespace kiln::cpu
