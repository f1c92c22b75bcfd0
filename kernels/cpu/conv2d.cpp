#include "kiln/kernels/cpu/conv2d.h"

#include <algorithm>
#include <vector>

#include "kiln/kernels/cpu/gemm.h"
#include "kiln/kernels/cpu/parallel.h"

namespace kiln::cpu {
namespace {

// Column-matrix scratch owned by the calling thread, grown on demand and reused across calls:
// re-allocating megabytes per image would cost more in page faults than im2col itself.
template <class T>
T* col_scratch(size_t n) {
  static thread_local std::vector<T> buf;
  if (buf.size() < n) buf.resize(n);
  return buf.data();
}

template <class F>
void for_each_image(int64_t B, F&& body) {
  if (B >= 2 && num_threads() > 1 && !in_parallel_region()) {
    parallel_for(0, B, 1, [&](int64_t b0, int64_t b1) {
      for (int64_t n = b0; n < b1; ++n) body(n);
    });
  } else {
    for (int64_t n = 0; n < B; ++n) body(n);
  }
}

// Output positions per tile of the column matrix: about 1 MB of it, so that it stays in a 2 MB L2
// between im2col and the GEMM that reads it. A multiple of 64 (whole GEMM register tiles), and
// tiles of balanced length. Depends only on the geometry, so results do not depend on threads.
int64_t tile_positions(const Conv2dGeom& g, size_t elem) {
  const int64_t ohw = g.ohw();
  const int64_t budget = int64_t(1 << 20) / int64_t(elem) / std::max<int64_t>(g.kdim(), 1);
  const int64_t want = std::max<int64_t>(64, budget / 64 * 64);
  if (want >= ohw) return std::max<int64_t>(ohw, 1);
  const int64_t ntiles = (ohw + want - 1) / want;
  const int64_t even = (ohw + ntiles - 1) / ntiles;
  return std::min(ohw, (even + 63) / 64 * 64);
}

// At most this many partial weight gradients (one per chunk of images) are summed.
constexpr int64_t kMaxWeightChunks = 8;

}  // namespace

template <class T>
void conv2d_forward(const Conv2dGeom& g, const T* x, const T* w, const T* bias, T* y) {
  const int64_t og = g.og(), cg = g.cg(), kdim = g.kdim(), ohw = g.ohw(), hw = g.hw();
  const int64_t tile = tile_positions(g, sizeof(T));
  for_each_image(g.B, [&](int64_t n) {
    const T* xn = x + n * g.C * hw;
    T* yn = y + n * g.O * ohw;
    T* col = g.pointwise() ? nullptr : col_scratch<T>(size_t(kdim * tile));
    for (int64_t grp = 0; grp < g.groups; ++grp) {
      const T* xg = xn + grp * cg * hw;
      const T* wg = w + grp * og * kdim;
      T* yg = yn + grp * og * ohw;
      T beta = T(0);
      if (bias) {
        for (int64_t o = 0; o < og; ++o) std::fill(yg + o * ohw, yg + (o + 1) * ohw, bias[grp * og + o]);
        beta = T(1);
      }
      if (g.pointwise()) {
        gemm(false, false, og, ohw, kdim, T(1), wg, kdim, xg, ohw, beta, yg, ohw);
        continue;
      }
      for (int64_t p0 = 0; p0 < ohw; p0 += tile) {
        const int64_t np = std::min(tile, ohw - p0);
        im2col(g, xg, col, p0, p0 + np);
        gemm(false, false, og, np, kdim, T(1), wg, kdim, col, np, beta, yg + p0, ohw);
      }
    }
  });
}

template <class T>
void conv2d_backward_data(const Conv2dGeom& g, const T* dy, const T* w, T* dx) {
  const int64_t og = g.og(), cg = g.cg(), kdim = g.kdim(), ohw = g.ohw(), hw = g.hw();
  const int64_t tile = tile_positions(g, sizeof(T));
  for_each_image(g.B, [&](int64_t n) {
    const T* dyn = dy + n * g.O * ohw;
    T* dxn = dx + n * g.C * hw;
    if (g.pointwise()) {
      for (int64_t grp = 0; grp < g.groups; ++grp)
        gemm(true, false, cg, hw, og, T(1), w + grp * og * kdim, kdim, dyn + grp * og * ohw, ohw, T(0),
             dxn + grp * cg * hw, hw);
      return;
    }
    std::fill(dxn, dxn + g.C * hw, T(0));
    T* dcol = col_scratch<T>(size_t(kdim * tile));
    for (int64_t grp = 0; grp < g.groups; ++grp) {
      for (int64_t p0 = 0; p0 < ohw; p0 += tile) {
        const int64_t np = std::min(tile, ohw - p0);
        gemm(true, false, kdim, np, og, T(1), w + grp * og * kdim, kdim, dyn + grp * og * ohw + p0, ohw, T(0), dcol,
             np);
        col2im(g, dcol, dxn + grp * cg * hw, p0, p0 + np);
      }
    }
  });
}

template <class T>
void conv2d_backward_weight(const Conv2dGeom& g, const T* dy, const T* x, T* dw) {
  const int64_t og = g.og(), cg = g.cg(), kdim = g.kdim(), ohw = g.ohw(), hw = g.hw();
  const int64_t wsize = g.O * kdim;
  const int64_t tile = g.pointwise() ? ohw : tile_positions(g, sizeof(T));
  if (g.B == 0 || ohw == 0) {
    std::fill(dw, dw + wsize, T(0));
    return;
  }
  // Sum of dy_n x col_n^T over the images [b0, b1) into out (overwritten), one tile of output
  // positions at a time.
  auto accumulate = [&](int64_t b0, int64_t b1, T* out) {
    T* col = g.pointwise() ? nullptr : col_scratch<T>(size_t(kdim * tile));
    for (int64_t n = b0; n < b1; ++n) {
      for (int64_t grp = 0; grp < g.groups; ++grp) {
        const T* xg = x + (n * g.C + grp * cg) * hw;
        const T* dyg = dy + (n * g.O + grp * og) * ohw;
        for (int64_t p0 = 0; p0 < ohw; p0 += tile) {
          const int64_t np = std::min(tile, ohw - p0);
          const T* rhs = xg;
          int64_t ld = hw;
          if (!g.pointwise()) {
            im2col(g, xg, col, p0, p0 + np);
            rhs = col;
            ld = np;
          }
          gemm(false, true, og, kdim, np, T(1), dyg + p0, ohw, rhs, ld, n == b0 && p0 == 0 ? T(0) : T(1),
               out + grp * og * kdim, kdim);
        }
      }
    }
  };
  const int64_t per = (g.B + kMaxWeightChunks - 1) / kMaxWeightChunks;
  const int64_t nchunks = num_chunks(g.B, per);
  if (nchunks == 1) {
    accumulate(0, g.B, dw);
    return;
  }
  std::vector<T> partial(size_t(nchunks * wsize));
  parallel_chunks(g.B, per, [&](int64_t c, int64_t b0, int64_t b1) { accumulate(b0, b1, partial.data() + c * wsize); });
  parallel_for(0, wsize, 4096, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) {
      T s = partial[size_t(i)];
      for (int64_t c = 1; c < nchunks; ++c) s += partial[size_t(c * wsize + i)];
      dw[i] = s;
    }
  });
}

template <class T>
void conv2d_backward_bias(int64_t B, int64_t O, int64_t HW, const T* dy, T* db) {
  parallel_for(0, O, std::max<int64_t>(1, 32768 / std::max<int64_t>(B * HW, 1)), [&](int64_t o0, int64_t o1) {
    for (int64_t o = o0; o < o1; ++o) {
      double s = 0;
      for (int64_t n = 0; n < B; ++n) {
        const T* p = dy + (n * O + o) * HW;
        for (int64_t i = 0; i < HW; ++i) s += double(p[i]);
      }
      db[o] = T(s);
    }
  });
}

template void conv2d_forward<float>(const Conv2dGeom&, const float*, const float*, const float*, float*);
template void conv2d_forward<double>(const Conv2dGeom&, const double*, const double*, const double*, double*);
template void conv2d_backward_data<float>(const Conv2dGeom&, const float*, const float*, float*);
template void conv2d_backward_data<double>(const Conv2dGeom&, const double*, const double*, double*);
template void conv2d_backward_weight<float>(const Conv2dGeom&, const float*, const float*, float*);
template void conv2d_backward_weight<double>(const Conv2dGeom&, const double*, const double*, double*);
template void conv2d_backward_bias<float>(int64_t, int64_t, int64_t, const float*, float*);
template void conv2d_backward_bias<double>(int64_t, int64_t, int64_t, const double*, double*);

}  // namespace kiln::cpu
