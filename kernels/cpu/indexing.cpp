// Gathering kernels (index_select, gather), index validation, masks and one_hot.
#include "kiln/kernels/cpu/indexing.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <vector>

#include "kiln/kernels/cpu/loop_runner.h"
#include "kiln/kernels/cpu/parallel.h"

namespace kiln::cpu {

int64_t find_bad_index(const int64_t* idx, int64_t n, int64_t lo, int64_t hi) {
  // First bad position per fixed chunk, then the smallest: the same answer for any thread count.
  constexpr int64_t kChunk = 1 << 16;
  int64_t nc = num_chunks(n, kChunk);
  std::vector<int64_t> first(size_t(nc), -1);
  parallel_chunks(n, kChunk, [&](int64_t c, int64_t b, int64_t e) {
    bool ok = true;
    for (int64_t i = b; i < e; ++i) ok &= (idx[i] >= lo) & (idx[i] < hi);
    if (ok) return;
    for (int64_t i = b; i < e; ++i)
      if (idx[i] < lo || idx[i] >= hi) {
        first[size_t(c)] = i;
        return;
      }
  });
  for (int64_t f : first)
    if (f >= 0) return f;
  return -1;
}

int64_t max_index(const int64_t* idx, int64_t n) {
  int64_t m = idx[0];
  for (int64_t i = 1; i < n; ++i) m = std::max(m, idx[i]);
  return m;
}

void combine_indices(int k, const int64_t* const* idx, const int64_t* sizes, int64_t n, int64_t* out) {
  parallel_for(0, n, kElementwiseGrain, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) {
      int64_t flat = 0;
      for (int j = 0; j < k; ++j) {
        int64_t v = idx[j][i];
        flat = flat * sizes[j] + (v < 0 ? v + sizes[j] : v);
      }
      out[i] = flat;
    }
  });
}

void index_select_rows(int64_t elem_size, const void* x, int64_t outer, int64_t n, int64_t inner,
                       const int64_t* idx, int64_t m, void* out) {
  const int64_t rows = outer * m;
  if (rows == 0 || inner == 0) return;
  const char* xb = static_cast<const char*>(x);
  char* ob = static_cast<char*>(out);
  const int64_t row_bytes = inner * elem_size;
  if (inner >= 16) {
    // Whole rows: one memcpy each (the embedding / batch-gather case).
    int64_t grain = std::max<int64_t>(1, kElementwiseGrain / inner);
    parallel_for(0, rows, grain, [&](int64_t b, int64_t e) {
      for (int64_t r = b; r < e; ++r) {
        int64_t o = r / m, j = r % m;
        int64_t i = idx[j] < 0 ? idx[j] + n : idx[j];
        std::memcpy(ob + r * row_bytes, xb + (o * n + i) * row_bytes, size_t(row_bytes));
      }
    });
    return;
  }
  dispatch_elem_size(elem_size, [&](auto tag) {
    using U = decltype(tag);
    const U* xs = static_cast<const U*>(x);
    U* os = static_cast<U*>(out);
    int64_t grain = std::max<int64_t>(1, kElementwiseGrain / inner);
    parallel_for(0, rows, grain, [&](int64_t b, int64_t e) {
      for (int64_t r = b; r < e; ++r) {
        int64_t o = r / m, j = r % m;
        int64_t i = idx[j] < 0 ? idx[j] + n : idx[j];
        const U* src = xs + (o * n + i) * inner;
        U* dst = os + r * inner;
        for (int64_t k = 0; k < inner; ++k) dst[k] = src[k];
      }
    });
  });
}

void gather_loop(const Loop& loop, int64_t elem_size, void* out, const int64_t* idx, const void* x,
                 int64_t x_dim_stride, int64_t dim_size) {
  dispatch_elem_size(elem_size, [&](auto tag) {
    using U = decltype(tag);
    std::array<char*, 3> base{static_cast<char*>(out), reinterpret_cast<char*>(const_cast<int64_t*>(idx)),
                              static_cast<char*>(const_cast<void*>(x))};
    std::array<int64_t, 3> es{int64_t(sizeof(U)), 8, int64_t(sizeof(U))};
    run_loop<3>(loop, base, es, kElementwiseGrain,
                [&](const std::array<char*, 3>& p, int64_t cnt, const std::array<int64_t, 3>& s) {
                  U* o = reinterpret_cast<U*>(p[0]);
                  const int64_t* ix = reinterpret_cast<const int64_t*>(p[1]);
                  const U* xs = reinterpret_cast<const U*>(p[2]);
                  if (s[1] == 0) {  // one index for the whole stretch (index_select-like)
                    int64_t i = ix[0] < 0 ? ix[0] + dim_size : ix[0];
                    const U* src = xs + i * x_dim_stride;
                    for (int64_t k = 0; k < cnt; ++k) o[k * s[0]] = src[k * s[2]];
                    return;
                  }
                  for (int64_t k = 0; k < cnt; ++k) {
                    int64_t i = ix[k * s[1]];
                    i += i < 0 ? dim_size : 0;
                    o[k * s[0]] = xs[k * s[2] + i * x_dim_stride];
                  }
                });
  });
}

void masked_fill_loop(const Loop& loop, int64_t elem_size, void* out, const bool* mask, const void* value) {
  dispatch_elem_size(elem_size, [&](auto tag) {
    using U = decltype(tag);
    U v;
    std::memcpy(&v, value, sizeof(U));
    std::array<char*, 2> base{static_cast<char*>(out), reinterpret_cast<char*>(const_cast<bool*>(mask))};
    std::array<int64_t, 2> es{int64_t(sizeof(U)), 1};
    run_loop<2>(loop, base, es, kElementwiseGrain,
                [&](const std::array<char*, 2>& p, int64_t cnt, const std::array<int64_t, 2>& s) {
                  U* o = reinterpret_cast<U*>(p[0]);
                  const bool* mk = reinterpret_cast<const bool*>(p[1]);
                  if (s[0] == 1 && s[1] == 1) {
                    for (int64_t k = 0; k < cnt; ++k) o[k] = mk[k] ? v : o[k];
                  } else {
                    for (int64_t k = 0; k < cnt; ++k)
                      if (mk[k * s[1]]) o[k * s[0]] = v;
                  }
                });
  });
}

void count_true(const bool* mask, int64_t n, int64_t* counts) {
  parallel_chunks(n, kMaskChunk, [&](int64_t c, int64_t b, int64_t e) {
    int64_t cnt = 0;
    for (int64_t i = b; i < e; ++i) cnt += mask[i] ? 1 : 0;
    counts[c] = cnt;
  });
}

void masked_select(int64_t elem_size, const void* x, const bool* mask, int64_t n, const int64_t* offsets,
                   void* out) {
  dispatch_elem_size(elem_size, [&](auto tag) {
    using U = decltype(tag);
    const U* xs = static_cast<const U*>(x);
    U* os = static_cast<U*>(out);
    parallel_chunks(n, kMaskChunk, [&](int64_t c, int64_t b, int64_t e) {
      U* o = os + offsets[c];
      for (int64_t i = b; i < e; ++i)
        if (mask[i]) *o++ = xs[i];
    });
  });
}

void nonzero_coords(const bool* mask, int ndim, const int64_t* sizes, const int64_t* offsets, int64_t* out) {
  int64_t n = 1;
  for (int d = 0; d < ndim; ++d) n *= sizes[d];
  parallel_chunks(n, kMaskChunk, [&](int64_t c, int64_t b, int64_t e) {
    // Multi-index of the chunk's first element, then incremented like an odometer.
    int64_t coord[kMaxDims] = {};
    int64_t rem = b;
    for (int d = ndim - 1; d >= 0; --d) {
      coord[d] = rem % sizes[d];
      rem /= sizes[d];
    }
    int64_t* o = out + offsets[c] * ndim;
    for (int64_t i = b; i < e; ++i) {
      if (mask[i]) {
        for (int d = 0; d < ndim; ++d) o[d] = coord[d];
        o += ndim;
      }
      for (int d = ndim - 1; d >= 0; --d) {
        if (++coord[d] < sizes[d]) break;
        coord[d] = 0;
      }
    }
  });
}

void one_hot(const int64_t* idx, int64_t n, int64_t classes, int64_t* out) {
  parallel_for(0, n, kElementwiseGrain, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) out[i * classes + idx[i]] = 1;
  });
}

}  // namespace kiln::cpu
