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

// Weight gradients with fewer elements than this are split over images rather than over
// columns (backward_weight_implicit): at most kMaxWeightChunks partial sums of 1 MB each.
constexpr int64_t kSmallWeightGrad = 1 << 18;

// At most this many partial weight gradients (one per chunk of images) are summed.
constexpr int64_t kMaxWeightChunks = 8;

// Strided input gradients of images with fewer output positions than this go through tiles
// that run across images (backward_data_strided_batch).
constexpr int64_t kSmallImage = 1024;

// Note [Convolution as an implicit GEMM]
// A convolution is the product of the weight [O, K = cg*KH*KW] by the im2col matrix [K, B*OH*OW] of
// the whole batch. That matrix is never written: gemm_tables reads it through two offset tables,
// X(k, j) = xp[row[k] + col[j]] with row[(c, kh, kw)] = c*plane + kh*DH*Wp + kw*DW and
// col[(n, oh, ow)] = n*C*plane + oh*SH*Wp + ow*SW into the zero-padded input xp (the input itself
// when there is no padding), and packs its register slivers straight from there: runs of output
// positions along a row are contiguous (stride 1) or every other element (stride 2). The output
// positions of all images form one N dimension, so small images (14 x 14 = 196 positions) still
// fill whole register tiles, and the two threads split one large product; output column j lives
// at y[n*O*OH*OW + oh*OW + ow] (a tile that straddles two images is written column by column).
// The bias is added by the GEMM when it stores its last K block.
//   - input gradient, stride 1: the convolution of dy by the flipped weight (channels swapped);
//     1x1 unpadded: W^T [C, O] times dy read through the same position table.
//   - weight gradient: dy [O, B*OH*OW] times the im2col matrix transposed: M = O, N = K and the
//     depth is the batch's positions; threads split the columns of dw, so each element is one
//     fixed-order sum (deterministic) and no partial sums are needed.
struct Padded {
  int64_t Hp, Wp, plane;  // padded height/width, plane size
  bool copy;              // false when there is no padding: the input is read in place
};
Padded padded(const Conv2dGeom& g) {
  Padded p;
  p.Hp = g.H + 2 * g.PH;
  p.Wp = g.W + 2 * g.PW;
  p.plane = p.Hp * p.Wp;
  p.copy = g.PH > 0 || g.PW > 0;
  return p;
}

// xp [B*C planes of Hp x Wp] <- x [B*C planes of H x W] with zero borders; planes in parallel.
template <class T>
const T* pad_input(const Conv2dGeom& g, const Padded& p, const T* x) {
  if (!p.copy) return x;
  const int64_t planes = g.B * g.C;
  T* xp = col_scratch<T>(size_t(planes * p.plane));
  parallel_for(0, planes, std::max<int64_t>(1, 16384 / std::max<int64_t>(p.plane, 1)), [&](int64_t q0, int64_t q1) {
    for (int64_t q = q0; q < q1; ++q) {
      T* plane = xp + q * p.plane;
      const T* src = x + q * g.H * g.W;
      std::fill(plane, plane + g.PH * p.Wp, T(0));  // top rows
      for (int64_t h = 0; h < g.H; ++h) {
        T* row = plane + (h + g.PH) * p.Wp;
        std::fill(row, row + g.PW, T(0));
        std::copy(src + h * g.W, src + (h + 1) * g.W, row + g.PW);
        std::fill(row + g.PW + g.W, row + p.Wp, T(0));
      }
      std::fill(plane + (g.PH + g.H) * p.Wp, plane + p.plane, T(0));  // bottom rows
    }
  });
  return xp;
}

// The offset tables of Note [Convolution as an implicit GEMM].
struct ConvTables {
  std::vector<int64_t> tap;    // [cg*KH*KW]: offset of tap (c, kh, kw) in a padded image group
  std::vector<int64_t> pos;    // [B*OH*OW]: offset of output position (n, oh, ow)'s window in xp
  std::vector<int64_t> out;    // [B*OH*OW]: offset of output position (n, oh, ow) in y (channel 0)
};
ConvTables conv_tables(const Conv2dGeom& g, const Padded& p) {
  ConvTables t;
  const int64_t cg = g.cg(), ohw = g.ohw();
  t.tap.resize(size_t(g.kdim()));
  for (int64_t c = 0; c < cg; ++c)
    for (int64_t kh = 0; kh < g.KH; ++kh)
      for (int64_t kw = 0; kw < g.KW; ++kw)
        t.tap[size_t((c * g.KH + kh) * g.KW + kw)] = c * p.plane + kh * g.DH * p.Wp + kw * g.DW;
  t.pos.resize(size_t(g.B * ohw));
  t.out.resize(size_t(g.B * ohw));
  for (int64_t n = 0; n < g.B; ++n)
    for (int64_t oh = 0; oh < g.OH; ++oh)
      for (int64_t ow = 0; ow < g.OW; ++ow) {
        const size_t j = size_t(n * ohw + oh * g.OW + ow);
        t.pos[j] = n * g.C * p.plane + oh * g.SH * p.Wp + ow * g.SW;
        t.out[j] = n * g.O * ohw + oh * g.OW + ow;
      }
  return t;
}

// Row offsets i * stride for i < n (a plain row-major operand).
std::vector<int64_t> ramp(int64_t n, int64_t stride) {
  std::vector<int64_t> v(size_t(std::max<int64_t>(n, 0)));
  for (int64_t i = 0; i < n; ++i) v[size_t(i)] = i * stride;
  return v;
}

template <class T>
void forward_implicit(const Conv2dGeom& g, const T* x, const T* w, const T* bias, T* y) {
  const int64_t og = g.og(), cg = g.cg(), kdim = g.kdim(), ohw = g.ohw();
  const Padded p = padded(g);
  const T* xp = pad_input(g, p, x);
  const ConvTables t = conv_tables(g, p);
  const std::vector<int64_t> w_rows = ramp(og, kdim), w_cols = ramp(kdim, 1);
  for (int64_t grp = 0; grp < g.groups; ++grp) {
    gemm_tables(og, g.B * ohw, kdim, TableMatrix<T>{w + grp * og * kdim, w_rows.data(), w_cols.data()},
                TableMatrix<T>{xp + grp * cg * p.plane, t.tap.data(), t.pos.data()}, y + grp * og * ohw, ohw,
                t.out.data(), bias ? bias + grp * og : nullptr, false);
  }
}

// dw [O, cg*KH*KW] of any convolution, one product per group.
template <class T>
void backward_weight_implicit(const Conv2dGeom& g, const T* dy, const T* x, T* dw) {
  const int64_t og = g.og(), cg = g.cg(), kdim = g.kdim(), ohw = g.ohw();
  const Padded p = padded(g);
  const T* xp = pad_input(g, p, x);
  const ConvTables t = conv_tables(g, p);
  const std::vector<int64_t> dy_rows = ramp(og, ohw);
  // Positions of images [b0, b1) into out [O, kdim] (overwritten).
  auto product = [&](int64_t b0, int64_t b1, T* out) {
    for (int64_t grp = 0; grp < g.groups; ++grp)
      gemm_tables(og, kdim, (b1 - b0) * ohw,
                  TableMatrix<T>{dy + grp * og * ohw, dy_rows.data(), t.out.data() + b0 * ohw},
                  TableMatrix<T>{xp + grp * cg * p.plane, t.pos.data() + b0 * ohw, t.tap.data()},
                  out + grp * og * kdim, kdim, nullptr, nullptr, false);
  };
  const int64_t wsize = g.O * kdim;
  if (wsize >= kSmallWeightGrad || g.B == 1) return product(0, g.B, dw);
  // A small dw splits badly over threads: by columns when it is narrow (the stem: 3*7*7 = 147
  // columns), and by columns or rows each thread would pack all of dy or all of the input. Split
  // the images instead, in chunks fixed by B alone (each chunk's product on one thread, packing
  // only its images), and add the partial sums in chunk order.
  const int64_t per = (g.B + kMaxWeightChunks - 1) / kMaxWeightChunks;
  const int64_t nchunks = num_chunks(g.B, per);
  std::vector<T> partial(size_t(nchunks * wsize));
  parallel_chunks(g.B, per, [&](int64_t c, int64_t b0, int64_t b1) { product(b0, b1, partial.data() + c * wsize); });
  parallel_for(0, wsize, 4096, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) {
      T s = partial[size_t(i)];
      for (int64_t c = 1; c < nchunks; ++c) s += partial[size_t(c * wsize + i)];
      dw[i] = s;
    }
  });
}

// dx of a 1x1 unpadded stride-1 convolution: W^T [cg, og] times dy, per group, over all positions.
template <class T>
void backward_data_pointwise(const Conv2dGeom& g, const T* dy, const T* w, T* dx) {
  const int64_t og = g.og(), cg = g.cg(), hw = g.hw();
  const Padded p = padded(g);
  const ConvTables t = conv_tables(g, p);  // pos: offsets in x (= dx); out: offsets in dy
  const std::vector<int64_t> wt_rows = ramp(cg, 1), wt_cols = ramp(og, cg), dy_rows = ramp(og, hw);
  for (int64_t grp = 0; grp < g.groups; ++grp) {
    gemm_tables(cg, g.B * hw, og, TableMatrix<T>{w + grp * og * cg, wt_rows.data(), wt_cols.data()},
                TableMatrix<T>{dy + grp * og * hw, dy_rows.data(), t.out.data()}, dx + grp * cg * hw, hw,
                t.pos.data(), nullptr, false);
  }
}

// Input gradient of a strided convolution with small output images: dcol = W^T dy over tiles of
// output positions that run across images (so small images still fill whole register tiles and
// the packed weight serves many images), then col2im of each tile with the input channels split
// over threads (disjoint parts of dx: no races, and each element of dx receives its terms in
// the same order whatever the thread count).
template <class T>
void backward_data_strided_batch(const Conv2dGeom& g, const T* dy, const T* w, T* dx) {
  const int64_t og = g.og(), cg = g.cg(), kdim = g.kdim(), ohw = g.ohw(), hw = g.hw();
  const int64_t total = g.B * ohw;
  const int64_t budget = int64_t(2 << 20) / int64_t(sizeof(T)) / std::max<int64_t>(kdim, 1);
  const int64_t tile = std::min(total, std::max<int64_t>(96, budget / 96 * 96));
  const ConvTables t = conv_tables(g, padded(g));  // out: offsets of the positions in dy
  const std::vector<int64_t> wt_rows = ramp(kdim, 1), wt_cols = ramp(og, kdim), dy_rows = ramp(og, ohw);
  T* dcol = col_scratch<T>(size_t(kdim * tile));
  parallel_for(0, g.B * g.C, std::max<int64_t>(1, 16384 / std::max<int64_t>(hw, 1)), [&](int64_t q0, int64_t q1) {
    std::fill(dx + q0 * hw, dx + q1 * hw, T(0));
  });
  for (int64_t grp = 0; grp < g.groups; ++grp) {
    for (int64_t j0 = 0; j0 < total; j0 += tile) {
      const int64_t np = std::min(tile, total - j0);
      gemm_tables(kdim, np, og, TableMatrix<T>{w + grp * og * kdim, wt_rows.data(), wt_cols.data()},
                  TableMatrix<T>{dy + grp * og * ohw, dy_rows.data(), t.out.data() + j0}, dcol, np, nullptr, nullptr,
                  false);
      parallel_for(0, cg, std::max<int64_t>(1, cg / 8), [&](int64_t c0, int64_t c1) {
        for (int64_t n = j0 / ohw; n * ohw < j0 + np; ++n) {
          const int64_t p0 = std::max(j0, n * ohw) - n * ohw, p1 = std::min(j0 + np, (n + 1) * ohw) - n * ohw;
          col2im(g, dcol + (n * ohw + p0 - j0), np, dx + (n * g.C + grp * cg) * hw, p0, p1, c0, c1);
        }
      });
    }
  }
}

}  // namespace

template <class T>
void conv2d_forward(const Conv2dGeom& g, const T* x, const T* w, const T* bias, T* y) {
  if (g.B == 0 || g.ohw() == 0) return;
  forward_implicit(g, x, w, bias, y);
}

template <class T>
void conv2d_backward_data(const Conv2dGeom& g, const T* dy, const T* w, T* dx) {
  const int64_t fph = g.DH * (g.KH - 1) - g.PH, fpw = g.DW * (g.KW - 1) - g.PW;
  if (g.pointwise() && g.B > 0 && g.hw() > 0) return backward_data_pointwise(g, dy, w, dx);
  if (g.SH == 1 && g.SW == 1 && fph >= 0 && fpw >= 0 && g.B > 0 && g.hw() > 0) {
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
    return forward_implicit(t, dy, wt.data(), static_cast<const T*>(nullptr), dx);
  }
  const int64_t og = g.og(), cg = g.cg(), kdim = g.kdim(), ohw = g.ohw(), hw = g.hw();
  if (g.B > 1 && ohw < kSmallImage) return backward_data_strided_batch(g, dy, w, dx);
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
  if (g.B == 0 || g.ohw() == 0) {
    std::fill(dw, dw + g.O * g.kdim(), T(0));
    return;
  }
  backward_weight_implicit(g, dy, x, dw);
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
