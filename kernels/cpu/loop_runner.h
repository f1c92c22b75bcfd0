#pragma once
// Runs an elementwise Loop on the CPU: splits the work across the thread pool and calls an inner
// function once per contiguous-in-index stretch of the innermost dimension, so the hot loop never
// recomputes N-d indices. The inner function sees raw byte pointers (already offset), a count and
// per-operand strides in elements.
#include <algorithm>
#include <array>
#include <cstdint>

#include "kiln/kernels/cpu/parallel.h"
#include "kiln/kernels/loop.h"

namespace kiln::cpu {

// Typical grain: elementwise work below this many elements runs on one thread.
constexpr int64_t kElementwiseGrain = 32768;

template <int N, class Inner>
void run_loop(const Loop& loop, const std::array<char*, N>& base, const std::array<int64_t, N>& elem_size,
              int64_t grain, Inner&& inner) {
  const int64_t n_inner = loop.inner_size();
  const int64_t rows = loop.outer_size();
  if (n_inner == 0 || rows == 0) return;
  std::array<int64_t, N> istr;
  for (int k = 0; k < N; ++k) istr[k] = loop.inner_stride(k);
  if (rows == 1) {
    parallel_for(0, n_inner, grain, [&](int64_t b, int64_t e) {
      std::array<char*, N> p;
      for (int k = 0; k < N; ++k) p[k] = base[k] + b * istr[k] * elem_size[k];
      inner(p, e - b, istr);
    });
    return;
  }
  int64_t row_grain = std::max<int64_t>(1, grain / n_inner);
  parallel_for(0, rows, row_grain, [&](int64_t rb, int64_t re) {
    for (int64_t r = rb; r < re; ++r) {
      std::array<char*, N> p;
      for (int k = 0; k < N; ++k) p[k] = base[k] + loop.row_offset(k, r) * elem_size[k];
      inner(p, n_inner, istr);
    }
  });
}

}  // namespace kiln::cpu
