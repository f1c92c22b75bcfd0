#include "kiln/kernels/cpu/shape_ops.h"

#include <algorithm>
#include <array>
#include <cstring>

#include "kiln/kernels/cpu/indexing.h"
#include "kiln/kernels/cpu/loop_runner.h"
#include "kiln/kernels/cpu/parallel.h"
#include "kiln/kernels/loop.h"

namespace kiln::cpu {

void pad_mapped(int64_t elem_size, const void* in, void* out, int64_t outer, int k, const int64_t* in_sizes,
                const int64_t* out_sizes, const int64_t* const* maps) {
  int64_t in_plane = 1, out_rows_per_plane = 1;
  for (int d = 0; d < k; ++d) in_plane *= in_sizes[d];
  for (int d = 0; d + 1 < k; ++d) out_rows_per_plane *= out_sizes[d];
  const int64_t w_out = out_sizes[k - 1], w_in = in_sizes[k - 1];
  const int64_t rows = outer * out_rows_per_plane;
  if (rows == 0 || w_out == 0) return;
  const int64_t* wmap = maps[k - 1];
  dispatch_elem_size(elem_size, [&](auto tag) {
    using U = decltype(tag);
    const U* src = static_cast<const U*>(in);
    U* dst = static_cast<U*>(out);
    int64_t grain = std::max<int64_t>(1, kElementwiseGrain / w_out);
    parallel_for(0, rows, grain, [&](int64_t rb, int64_t re) {
      for (int64_t r = rb; r < re; ++r) {
        // Source row: map each padded coordinate but the last (one index computation per row).
        int64_t o = r / out_rows_per_plane, rem = r % out_rows_per_plane;
        int64_t in_off = 0, in_stride = w_in;
        for (int d = k - 2; d >= 0; --d) {
          int64_t c = rem % out_sizes[d];
          rem /= out_sizes[d];
          in_off += maps[d][c] * in_stride;
          in_stride *= in_sizes[d];
        }
        const U* s = src + o * in_plane + in_off;
        U* t = dst + r * w_out;
        for (int64_t w = 0; w < w_out; ++w) t[w] = s[wmap[w]];
      }
    });
  });
}

void flip_copy(const Loop& loop, int64_t elem_size, void* out, const void* in) {
  dispatch_elem_size(elem_size, [&](auto tag) {
    using U = decltype(tag);
    std::array<char*, 2> base{static_cast<char*>(out), static_cast<char*>(const_cast<void*>(in))};
    std::array<int64_t, 2> es{int64_t(sizeof(U)), int64_t(sizeof(U))};
    run_loop<2>(loop, base, es, kElementwiseGrain,
                [](const std::array<char*, 2>& p, int64_t n, const std::array<int64_t, 2>& s) {
                  U* o = reinterpret_cast<U*>(p[0]);
                  const U* i = reinterpret_cast<const U*>(p[1]);
                  if (s[0] == 1 && s[1] == -1) {
                    for (int64_t k = 0; k < n; ++k) o[k] = i[-k];
                  } else if (s[0] == 1 && s[1] == 1) {
                    std::memcpy(o, i, size_t(n) * sizeof(U));
                  } else {
                    for (int64_t k = 0; k < n; ++k) o[k * s[0]] = i[k * s[1]];
                  }
                });
  });
}

void triangle_zero(int64_t elem_size, void* data, int64_t batch, int64_t M, int64_t N, int64_t k, bool lower) {
  const int64_t rows = batch * M;
  if (rows == 0 || N == 0) return;
  char* base = static_cast<char*>(data);
  int64_t grain = std::max<int64_t>(1, kElementwiseGrain / N);
  parallel_for(0, rows, grain, [&](int64_t rb, int64_t re) {
    for (int64_t r = rb; r < re; ++r) {
      int64_t i = r % M;
      // tril keeps j <= i + k: zero [i + k + 1, N); triu keeps j >= i + k: zero [0, i + k).
      int64_t b = lower ? std::clamp<int64_t>(i + k + 1, 0, N) : 0;
      int64_t e = lower ? N : std::clamp<int64_t>(i + k, 0, N);
      if (e > b) std::memset(base + (r * N + b) * elem_size, 0, size_t((e - b) * elem_size));
    }
  });
}

}  // namespace kiln::cpu
