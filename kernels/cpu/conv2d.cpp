#include "kiln/kernels/cpu/conv2d.h"

#include <algorithm>
#include <vector>

#include "kiln/kernels/cpu/gemm.h"
#include "kiln/kernels/cpu/parallel.h"

namespace kiln::cpu {
namespace {

// Column-matrix scratch owned by the calling thread, grown on demand and reused across calls:
// re-allocating megabytes per image would cost more in page faults than im2col itself.
// Slot tells apart the buffers one call needs at the same time.
template <class T, int Slot = 0>
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
// between im2col and the GEMM that reads it. A multiple of 96 (whole GEMM register tiles for
// every ISA copy), and tiles of balanced length. Depends only on the geometry, so results do not
// depend on threads.
int64_t tile_positions(const Conv2dGeom& g, size_t elem) {
  const int64_t ohw = g.ohw();
  const int64_t budget = int64_t(1 << 20) / int64_t(elem) / std::max<int64_t>(g.kdim(), 1);
  const int64_t want = std::max<int64_t>(96, budget / 96 * 96);
  if (want >= ohw) return std::max<int64_t>(ohw, 1);
  const int64_t ntiles = (ohw + want - 1) / want;
  const int64_t even = (ohw + ntiles - 1) / ntiles;
  return std::min(ohw, (even + 95) / 96 * 96);
}

// At most this many partial weight gradients (one per chunk of images) are summed.
constexpr int64_t kMaxWeightChunks = 8;

// Note [Convolution as shifted rows]
// With stride 1, row (c, kh, kw) of the im2col matrix is the zero-padded input channel c read
// from offset kh*DH*Wp + kw*DW, if the output grid is laid out with the padded row width Wp
// instead of OW: position oh*Wp + ow reads xp[c, oh + kh*DH, ow + kw*DW]. So the GEMM can read
// its B operand straight from one padded copy of the input through a table of row pointers
// (gemm_rows) and no im2col matrix is ever written; the Wp - OW extra columns per output row are
// computed and dropped (a few percent for 3x3 kernels on 56-wide images). The input gradient of
// a stride-1 convolution is itself such a convolution (of dy by the flipped, transposed weight),
// and the weight gradient reads the same row table as the transposed B operand.
bool shifted_rows(const Conv2dGeom& g) { return g.SH == 1 && g.SW == 1 && !g.pointwise(); }

struct Padded {
  int64_t Hp, Wp, plane, N;  // padded height/width, plane size, output positions (OH * Wp)
  int64_t size;              // elements of the padded copy, with slack for the last row reads
};
Padded padded(const Conv2dGeom& g, int64_t channels) {
  Padded p;
  p.Hp = g.H + 2 * g.PH;
  p.Wp = g.W + 2 * g.PW;
  p.plane = p.Hp * p.Wp;
  p.N = g.OH * p.Wp;
  p.size = channels * p.plane + g.DW * (g.KW - 1);
  return p;
}

// xp [channels, Hp, Wp] (+ zero slack) <- x [channels, H, W] with zero borders.
template <class T>
void pad_input(const Conv2dGeom& g, const Padded& p, const T* x, int64_t channels, T* xp) {
  for (int64_t c = 0; c < channels; ++c) {
    T* plane = xp + c * p.plane;
    std::fill(plane, plane + g.PH * p.Wp, T(0));  // top rows
    for (int64_t h = 0; h < g.H; ++h) {
      T* row = plane + (h + g.PH) * p.Wp;
      std::fill(row, row + g.PW, T(0));
      std::copy(x + (c * g.H + h) * g.W, x + (c * g.H + h + 1) * g.W, row + g.PW);
      std::fill(row + g.PW + g.W, row + p.Wp, T(0));
    }
    std::fill(plane + (g.PH + g.H) * p.Wp, plane + p.plane, T(0));  // bottom rows
  }
  std::fill(xp + channels * p.plane, xp + p.size, T(0));  // slack read by the last row's taps
}

// rows[(c*KH + kh)*KW + kw] = start of the shifted row of channel c of the padded group input.
template <class T>
void fill_rows(const Conv2dGeom& g, const Padded& p, const T* xp_group, const T** rows) {
  for (int64_t c = 0; c < g.cg(); ++c)
    for (int64_t kh = 0; kh < g.KH; ++kh)
      for (int64_t kw = 0; kw < g.KW; ++kw)
        rows[(c * g.KH + kh) * g.KW + kw] = xp_group + c * p.plane + kh * g.DH * p.Wp + kw * g.DW;
}

template <class T>
void forward_shifted(const Conv2dGeom& g, const T* x, const T* w, const T* bias, T* y) {
  const int64_t og = g.og(), cg = g.cg(), kdim = g.kdim(), ohw = g.ohw(), hw = g.hw();
  const Padded p = padded(g, g.C);
  for_each_image(g.B, [&](int64_t n) {
    T* xp = col_scratch<T, 0>(size_t(p.size));
    T* yp = col_scratch<T, 1>(size_t(og * p.N));
    const T** rows = col_scratch<const T*>(size_t(kdim));
    pad_input(g, p, x + n * g.C * hw, g.C, xp);
    for (int64_t grp = 0; grp < g.groups; ++grp) {
      fill_rows(g, p, xp + grp * cg * p.plane, rows);
      gemm_rows(false, false, og, p.N, kdim, T(1), w + grp * og * kdim, kdim, rows, T(0), yp, p.N);
      T* yg = y + (n * g.O + grp * og) * ohw;
      for (int64_t o = 0; o < og; ++o) {
        const T b = bias ? bias[grp * og + o] : T(0);
        for (int64_t oh = 0; oh < g.OH; ++oh) {
          const T* src = yp + o * p.N + oh * p.Wp;
          T* dst = yg + o * ohw + oh * g.OW;
          for (int64_t ow = 0; ow < g.OW; ++ow) dst[ow] = src[ow] + b;
        }
      }
    }
  });
}

// Sum over images [b0, b1) of dy_n x rows_n^T into out (overwritten): the weight gradient of a
// stride-1 convolution read through the shifted rows of the padded input.
template <class T>
void backward_weight_shifted(const Conv2dGeom& g, const T* dy, const T* x, int64_t b0, int64_t b1, T* out) {
  const int64_t og = g.og(), cg = g.cg(), kdim = g.kdim(), ohw = g.ohw(), hw = g.hw();
  const Padded p = padded(g, g.C);
  T* xp = col_scratch<T, 0>(size_t(p.size));
  T* dyp = col_scratch<T, 1>(size_t(og * p.N));
  const T** rows = col_scratch<const T*>(size_t(kdim));
  for (int64_t n = b0; n < b1; ++n) {
    pad_input(g, p, x + n * g.C * hw, g.C, xp);
    for (int64_t grp = 0; grp < g.groups; ++grp) {
      // dy in the padded-width layout, zero in the dropped columns so they add nothing.
      const T* dyg = dy + (n * g.O + grp * og) * ohw;
      for (int64_t o = 0; o < og; ++o)
        for (int64_t oh = 0; oh < g.OH; ++oh) {
          T* dst = dyp + o * p.N + oh * p.Wp;
          std::copy(dyg + o * ohw + oh * g.OW, dyg + o * ohw + (oh + 1) * g.OW, dst);
          std::fill(dst + g.OW, dst + p.Wp, T(0));
        }
      fill_rows(g, p, xp + grp * cg * p.plane, rows);
      gemm_rows(false, true, og, kdim, p.N, T(1), dyp, p.N, rows, n == b0 ? T(0) : T(1), out + grp * og * kdim, kdim);
    }
  }
}

}  // namespace

template <class T>
void conv2d_forward(const Conv2dGeom& g, const T* x, const T* w, const T* bias, T* y) {
  if (shifted_rows(g)) return forward_shifted(g, x, w, bias, y);
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
  const int64_t fph = g.DH * (g.KH - 1) - g.PH, fpw = g.DW * (g.KW - 1) - g.PW;
  if (shifted_rows(g) && fph >= 0 && fpw >= 0) {
    // Stride 1: dx is the convolution of dy by the weight flipped in space with the roles of input
    // and output channels swapped (per group), padded by the kernel's extent minus the padding.
    Conv2dGeom t = g;
    t.C = g.O, t.H = g.OH, t.W = g.OW, t.O = g.C, t.OH = g.H, t.OW = g.W, t.PH = fph, t.PW = fpw;
    const int64_t og = g.og(), cg = g.cg(), kk = g.KH * g.KW;
    std::vector<T> wt(size_t(g.C * og * kk));  // [C, og, KH, KW]
    for (int64_t grp = 0; grp < g.groups; ++grp)
      for (int64_t o = 0; o < og; ++o)
        for (int64_t c = 0; c < cg; ++c)
          for (int64_t k = 0; k < kk; ++k)
            wt[size_t(((grp * cg + c) * og + o) * kk + (kk - 1 - k))] = w[((grp * og + o) * cg + c) * kk + k];
    return forward_shifted(t, dy, wt.data(), static_cast<const T*>(nullptr), dx);
  }
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
    if (shifted_rows(g)) return backward_weight_shifted(g, dy, x, b0, b1, out);
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
