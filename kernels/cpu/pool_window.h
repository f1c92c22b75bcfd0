#pragma once
// Helpers shared by the CPU pools (kernels/cpu/pool.cpp and the per-ISA kernels/cpu/vec/pool.cpp):
// the parallel grain and the scalar window max.
#include <algorithm>
#include <cstdint>
#include <limits>

#include "kiln/kernels/pool_math.h"

namespace kiln::cpu::pool_window {

// Planes per parallel chunk: about 16K elements of work each.
inline int64_t plane_grain(int64_t work_per_plane) {
  return std::max<int64_t>(1, 16384 / std::max<int64_t>(1, work_per_plane));
}

// Max over the window rows h0, h0+hs, ... < h1 and columns w0, w0+ws, ... < w1. As PyTorch, a
// NaN replaces the running max (so the last NaN wins) and the index starts at the first position.
template <class C>
inline void window_max(const C* xp, int64_t W, int64_t h0, int64_t h1, int64_t hs, int64_t w0, int64_t w1,
                       int64_t ws, C& best, int64_t& best_i) {
  best = -std::numeric_limits<C>::infinity();
  best_i = h0 * W + w0;
  for (int64_t ih = h0; ih < h1; ih += hs) {
    const C* row = xp + ih * W;
    for (int64_t iw = w0; iw < w1; iw += ws) {
      const C v = row[iw];
      if (pool::max_takes(v, best)) {
        best = v;
        best_i = ih * W + iw;
      }
    }
  }
}

}  // namespace kiln::cpu::pool_window
