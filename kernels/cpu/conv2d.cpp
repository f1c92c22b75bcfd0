#include "kiln/kernels/cpu/conv2d.h"

#include <algorithm>
#include <array>
#include <type_traits>
#include <vector>

#include "kiln/kernels/cpu/conv_direct.h"
#include "kiln/kernels/cpu/conv_rows.h"
#include "kiln/kernels/cpu/gemm.h"
#include "kiln/kernels/cpu/isa.h"
#include "kiln/kernels/cpu/pad_planes.h"
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

// Weight gradients with fewer elements than this are split over images rather than over
// columns (backward_weight_implicit): at most kMaxWeightChunks partial sums of 1 MB each.
constexpr int64_t kSmallWeightGrad = 1 << 18;

// At most this many partial weight gradients (one per chunk of images) are summed.
constexpr int64_t kMaxWeightChunks = 8;

// Note [Convolution as an implicit GEMM]
// A convolution is the product of the weight [O, K = cg*KH*KW] by the im2col matrix [K, B*OH*OW] of
// the whole batch. That matrix is never written: gemm_tables reads it through two offset tables,
// X(k, j) = xp[row[k] + col[j]] with row[(c, kh, kw)] = c*plane + kh*DH*Wp + kw*DW and
// col[(n, oh, ow)] = n*C*plane + oh*SH*Wp + ow*SW into the zero-padded input xp (the input itself
// when there is no padding), and packs its register slivers straight from there: runs of output
// positions along a row are contiguous (stride 1, and stride 2 on wide outputs, whose xp is stored as
// its stride phases: Note [Stride phases of the input]) or every other element. The output
// positions of all images form one N dimension, so small images (14 x 14 = 196 positions) still
// fill whole register tiles, and the two threads split one large product; output column j lives
// at y[n*O*OH*OW + oh*OW + ow] (a tile that straddles images is stored piece by piece, TilePieces).
// The bias is added by the GEMM when it stores its last K block.
//   - input gradient: one product per stride phase (Note [Input gradient by phases]); 1x1
//     unpadded: W^T [C, O] times dy read through the same position table.
//   - weight gradient: dy [O, B*OH*OW] times the im2col matrix transposed: M = O, N = K and the
//     depth is the batch's positions; threads split the columns of dw, so each element is one
//     fixed-order sum (deterministic) and no partial sums are needed.
struct Padded {
  int64_t Hp, Wp, plane;  // padded height/width, elements per channel in xp
  bool copy;              // false when there is no padding: the input is read in place
  // Note [Stride phases of the input]: with split, xp holds each padded channel as SH x SW phase
  // planes of Hq x Wq (phase (ph, pw) plane: padded rows ph, ph + SH, ..., columns pw, pw + SW, ...).
  bool split = false;
  int64_t Hq = 0, Wq = 0, sub = 0;  // phase plane height, width, size
};
// Note [Stride phases of the input]
// A stride-2 convolution reads every other input column, so its im2col runs (output positions along
// a row, in the forward's packing and as the weight gradient's depth) have step 2: two loads and a
// permute per 16 values. With the padded input stored as its SH x SW stride phases, padded element
// (r, c) lives in phase (r mod SH, c mod SW) at (r / SH, c / SW), and output (oh, ow) with tap
// (kh, kw) reads phase ((kh DH) mod SH, (kw DW) mod SW) at (oh + kh DH / SH, ow + kw DW / SW):
// every run has step 1 again. Only stride 2 (the common downsampling conv) uses it, and only for
// outputs at least kSplitMinWidth wide: on narrower ones (runs of 2 to 4) the split pass costs more
// than the permutes it saves (simple_cnn's 7x7 -> 4x4 layer: forward 144 -> 155 us single-threaded;
// its 14x14 -> 7x7 one about even, its 28x28 -> 14x14 one 71 -> 62 us, weight gradient 200 -> 188).
constexpr int64_t kSplitMinWidth = 7;
Padded padded(const Conv2dGeom& g) {
  Padded p;
  p.Hp = g.H + 2 * g.PH;
  p.Wp = g.W + 2 * g.PW;
  p.plane = p.Hp * p.Wp;
  p.copy = g.PH > 0 || g.PW > 0;
  if (g.SH == 2 && g.SW == 2 && g.OW >= kSplitMinWidth) {
    p.split = p.copy = true;
    p.Hq = (p.Hp + g.SH - 1) / g.SH;
    p.Wq = (p.Wp + g.SW - 1) / g.SW;
    p.sub = p.Hq * p.Wq;
    p.plane = g.SH * g.SW * p.sub;
  }
  return p;
}
// Offset, inside one channel of xp, of padded element (r, c) (split or not).
inline int64_t padded_offset(const Conv2dGeom& g, const Padded& p, int64_t r, int64_t c) {
  if (!p.split) return r * p.Wp + c;
  return ((r % g.SH) * g.SW + c % g.SW) * p.sub + (r / g.SH) * p.Wq + c / g.SW;
}

// dst [planes of Hp x Wp] <- src [planes of H x W] placed at (top, left), zero elsewhere (Hp >= top
// + H, Wp >= left + W); planes in parallel (kernels/cpu/pad_planes.h). Used for the input
// (symmetric padding) and for dy in the input gradient (Note [Input gradient by phases]).
template <class T>
void pad_planes(const T* src, int64_t planes, int64_t H, int64_t W, int64_t top, int64_t left, int64_t Hp,
                int64_t Wp, T* dst) {
  const int64_t plane = Hp * Wp;
  parallel_for(0, planes, std::max<int64_t>(1, 16384 / std::max<int64_t>(plane, 1)), [&](int64_t q0, int64_t q1) {
    isa_pad_planes(src + q0 * H * W, q1 - q0, H, W, top, left, Hp, Wp, dst + q0 * plane);
  });
}

// xp [B*C channels of 2 x 2 phase planes] <- x zero-padded (Note [Stride phases of the input]).
template <class T>
void split_phases(const T* x, const Conv2dGeom& g, const Padded& p, T* xp) {
  parallel_for(0, g.B * g.C, std::max<int64_t>(1, 16384 / std::max<int64_t>(p.plane, 1)), [&](int64_t q0, int64_t q1) {
    isa_split_phases2(x + q0 * g.hw(), q1 - q0, g.H, g.W, g.PH, g.PW, p.Hq, p.Wq, xp + q0 * p.plane);
  });
}

// xp [B*C planes of Hp x Wp] <- x with zero borders (x itself when there is no padding).
template <class T>
const T* pad_input(const Conv2dGeom& g, const Padded& p, const T* x) {
  if (!p.copy) return x;
  T* xp = col_scratch<T>(size_t(g.B * g.C * p.plane));
  if (p.split) {
    split_phases(x, g, p, xp);
    return xp;
  }
  pad_planes(x, g.B * g.C, g.H, g.W, g.PH, g.PW, p.Hp, p.Wp, xp);
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
        t.tap[size_t((c * g.KH + kh) * g.KW + kw)] = c * p.plane + padded_offset(g, p, kh * g.DH, kw * g.DW);
  t.pos.resize(size_t(g.B * ohw));
  t.out.resize(size_t(g.B * ohw));
  for (int64_t n = 0; n < g.B; ++n)
    for (int64_t oh = 0; oh < g.OH; ++oh)
      for (int64_t ow = 0; ow < g.OW; ++ow) {
        const size_t j = size_t(n * ohw + oh * g.OW + ow);
        // (split: the phase planes' row and column steps are 1 per output)
        t.pos[j] = n * g.C * p.plane + (p.split ? oh * p.Wq + ow : oh * g.SH * p.Wp + ow * g.SW);
        t.out[j] = n * g.O * ohw + oh * g.OW + ow;
      }
  return t;
}

// conv_tables depends on the geometry alone, and a training step asks for the same tables in the
// forward and the weight gradient of every layer: the last few geometries' tables are kept per
// thread (entries are never handed to another thread, so no locking).
const ConvTables& cached_conv_tables(const Conv2dGeom& g, const Padded& p) {
  struct Entry {
    std::array<int64_t, 16> key;
    ConvTables tables;
  };
  static thread_local std::vector<Entry> cache;
  static thread_local size_t next = 0;
  const std::array<int64_t, 16> key{g.B, g.C, g.H, g.W, g.O, g.OH, g.OW, g.KH, g.KW, g.SH, g.SW, g.PH, g.PW, g.DH, g.DW,
                                    g.groups};
  constexpr size_t kEntries = 16;
  for (const Entry& e : cache)
    if (e.key == key) return e.tables;
  cache.reserve(kEntries);  // entries never move
  if (cache.size() < kEntries) {
    cache.push_back({key, conv_tables(g, p)});
    return cache.back().tables;
  }
  Entry& e = cache[next];
  next = (next + 1) % kEntries;
  e = {key, conv_tables(g, p)};
  return e.tables;
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
  const ConvTables& t = cached_conv_tables(g, p);
  const std::vector<int64_t> w_rows = ramp(og, kdim), w_cols = ramp(kdim, 1);
  for (int64_t grp = 0; grp < g.groups; ++grp) {
    gemm_tables(og, g.B * ohw, kdim, TableMatrix<T>{w + grp * og * kdim, w_rows.data(), w_cols.data()},
                TableMatrix<T>{xp + grp * cg * p.plane, t.tap.data(), t.pos.data()}, y + grp * og * ohw, ohw,
                t.out.data(), bias ? bias + grp * og : nullptr, false);
  }
}

// Whether the weight gradient runs along output rows (Note [Weight gradient along rows] in
// kernels/cpu/vec/conv_rows.cpp): f32 with AVX-512, a row's windows 1 or 2 elements apart in xp,
// and a weight whose depth fills under one 48-wide register sliver of the GEMM or whose output
// channels fill under one 8-row sliver. Batch 64, two threads, min of 100, implicit GEMM -> rows:
// 1 -> 8 stride 2 on 28 x 28 137 -> 37-39 us, 3 -> 32 stride 2 on 64 x 64 1.6-2.1 -> 0.77-0.80 ms,
// 32 -> 2 stride 2 on 4 x 4 74-88 -> 60-66 us; but 8 -> 16 stride 2 on 14 x 14 (depth 72, 7 columns)
// 140 -> 190-200 us, 16 -> 32 stride 2 on 7 x 7 110-170 -> 380-460 us and 32 -> 32 on 32 x 32 8.2 ->
// 8.4 ms (the GEMM is as good once its slivers are full).
template <class T>
bool rows_weight_grad(const Conv2dGeom& g, const Padded& p) {
  if (!std::is_same_v<T, float> || cpu_isa() != Isa::avx512) return false;
  if (!p.split && g.SW > 2) return false;
  return g.kdim() < 48 || g.og() < 8;
}
// Images per chunk of the weight gradient along rows: 1, 2, 4 or 8 (kMaxWeightChunks) chunks of
// about equal size, as many as give each at least kRowsChunkWork vector FMAs (a number fixed by the
// shape, like the GEMM's chunks).
constexpr int64_t kRowsChunkWork = 32768;
int64_t rows_chunk(const Conv2dGeom& g) {
  const int64_t work = g.B * g.O * g.kdim() * g.OH * ((g.OW + 15) / 16);
  int64_t n = 1;
  while (n < kMaxWeightChunks && n < g.B && work >= 2 * n * kRowsChunkWork) n *= 2;
  return (g.B + n - 1) / n;
}

// dw [O, cg*KH*KW] of any convolution, one product per group.
template <class T>
void backward_weight_implicit(const Conv2dGeom& g, const T* dy, const T* x, T* dw) {
  const int64_t og = g.og(), cg = g.cg(), kdim = g.kdim(), ohw = g.ohw();
  const Padded p = padded(g);
  const T* xp = pad_input(g, p, x);
  const ConvTables& t = cached_conv_tables(g, p);
  const std::vector<int64_t> dy_rows = ramp(og, ohw);
  // Positions of images [b0, b1) into out [O, kdim] (overwritten).
  const bool rows = rows_weight_grad<T>(g, p);
  auto product = [&](int64_t b0, int64_t b1, T* out) {
    for (int64_t grp = 0; grp < g.groups; ++grp) {
      if constexpr (std::is_same_v<T, float>) {
        const RowsWeightGrad d{dy + b0 * g.O * ohw + grp * og * ohw, b1 - b0, og, g.OH, g.OW, g.O * ohw,
                               xp + b0 * g.C * p.plane + grp * cg * p.plane, g.C * p.plane,
                               p.split ? p.Wq : g.SH * p.Wp, p.split ? 1 : g.SW, t.tap.data(), kdim,
                               out + grp * og * kdim};
        if (rows && KILN_ISA_CALL(conv_rows_weight_f32, d)) continue;
      }
      gemm_tables(og, kdim, (b1 - b0) * ohw,
                  TableMatrix<T>{dy + grp * og * ohw, dy_rows.data(), t.out.data() + b0 * ohw},
                  TableMatrix<T>{xp + grp * cg * p.plane, t.pos.data() + b0 * ohw, t.tap.data()},
                  out + grp * og * kdim, kdim, nullptr, nullptr, false);
    }
  };
  const int64_t wsize = g.O * kdim;
  if (!rows && (wsize >= kSmallWeightGrad || g.B == 1)) return product(0, g.B, dw);
  // A small dw splits badly over threads: by columns when it is narrow (the stem: 3*7*7 = 147
  // columns), and by columns or rows each thread would pack all of dy or all of the input. Split
  // the images instead, in chunks fixed by B alone (each chunk's product on one thread, packing
  // only its images), and add the partial sums in chunk order. The rows path always splits the
  // images, in chunks of at least kRowsChunkWork (its tiny products have little to split).
  const int64_t per = rows ? rows_chunk(g) : (g.B + kMaxWeightChunks - 1) / kMaxWeightChunks;
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
  const ConvTables& t = cached_conv_tables(g, p);  // pos: offsets in x (= dx); out: offsets in dy
  const std::vector<int64_t> wt_rows = ramp(cg, 1), wt_cols = ramp(og, cg), dy_rows = ramp(og, hw);
  for (int64_t grp = 0; grp < g.groups; ++grp) {
    gemm_tables(cg, g.B * hw, og, TableMatrix<T>{w + grp * og * cg, wt_rows.data(), wt_cols.data()},
                TableMatrix<T>{dy + grp * og * hw, dy_rows.data(), t.out.data()}, dx + grp * cg * hw, hw,
                t.pos.data(), nullptr, false);
  }
}

// Note [Input gradient by phases]
// dx[c, h, w] = sum over o, kh, kw of w[o, c, kh, kw] dy[o, oh, ow] where h + PH = oh SH + kh DH
// (likewise along w). Input rows fall into SH phases by ph = (h + PH) mod SH; a row of phase ph
// receives only the taps with kh DH = ph (mod SH), each tap from the dy row oh = qh - e with
// qh = (h + PH - ph) / SH and e = (kh DH - ph) / SH >= 0. So per phase pair (ph, pw), dx at that
// phase's positions is one implicit GEMM (Note [Convolution as an implicit GEMM]): M = cg input
// channels, depth K = og x the phase's taps, N = the phase's positions over the whole batch, B read
// from dy zero-padded by the largest e above (and as far below as qh reaches past OH). Every element
// of dx is written once by one fixed-order sum: no col2im scatter, no scratch column matrix, no
// zeroing pass (except for phases that no tap reaches, whose positions are zero), deterministic.
// Stride 1 is the single phase (0, 0): the convolution of dy by the flipped weight.
struct PhaseTaps {
  std::vector<int64_t> k, e;  // taps of the phase along one axis and their dy offsets
};
// The S phases of one axis (kernel extent K, dilation D), the largest e, and whether some phase has
// no tap.
struct AxisPhases {
  std::vector<PhaseTaps> ph;
  int64_t emax = 0;
  bool any_empty = false;
};
AxisPhases axis_phases(int64_t K, int64_t S, int64_t D) {
  AxisPhases a;
  a.ph.resize(static_cast<size_t>(S));
  for (int64_t k = 0; k < K; ++k) {
    const int64_t r = (k * D) % S, e = (k * D - r) / S;
    a.ph[size_t(r)].k.push_back(k);
    a.ph[size_t(r)].e.push_back(e);
    a.emax = std::max(a.emax, e);
  }
  for (const PhaseTaps& p : a.ph) a.any_empty = a.any_empty || p.k.empty();
  return a;
}

template <class T>
void backward_data_phases(const Conv2dGeom& g, const T* dy, const T* w, T* dx) {
  const int64_t og = g.og(), cg = g.cg(), kk = g.KH * g.KW, hw = g.hw();
  const AxisPhases ah = axis_phases(g.KH, g.SH, g.DH), aw = axis_phases(g.KW, g.SW, g.DW);
  const bool empty_phase = ah.any_empty || aw.any_empty;
  // dy zero-padded: emax rows/columns before, and after as far as the largest q reaches.
  const int64_t qmax_h = (g.H - 1 + g.PH) / g.SH, qmax_w = (g.W - 1 + g.PW) / g.SW;
  const int64_t pad_top = ah.emax, pad_left = aw.emax;
  const int64_t Hp = pad_top + std::max(g.OH, qmax_h + 1), Wp = pad_left + std::max(g.OW, qmax_w + 1);
  const int64_t plane = Hp * Wp;
  // pad_left elements of slack: the dropped columns of the last row read up to pad_left past it.
  T* dyp = col_scratch<T, 1>(size_t(g.B * g.O * plane + pad_left));
  std::fill(dyp + g.B * g.O * plane, dyp + g.B * g.O * plane + pad_left, T(0));
  pad_planes(dy, g.B * g.O, g.OH, g.OW, pad_top, pad_left, Hp, Wp, dyp);
  if (empty_phase)
    parallel_for(0, g.B * g.C, std::max<int64_t>(1, 16384 / std::max<int64_t>(hw, 1)), [&](int64_t q0, int64_t q1) {
      std::fill(dx + q0 * hw, dx + q1 * hw, T(0));
    });
  const std::vector<int64_t> w_rows = ramp(cg, kk);
  std::vector<int64_t> tap, w_cols, pos, out;
  for (int64_t ph = 0; ph < g.SH; ++ph) {
    for (int64_t pw = 0; pw < g.SW; ++pw) {
      const PhaseTaps& a = ah.ph[size_t(ph)];
      const PhaseTaps& b = aw.ph[size_t(pw)];
      if (a.k.empty() || b.k.empty()) continue;
      // Positions of the phase: h = ph - PH + SH q for the q with 0 <= h < H.
      const int64_t q0h = (g.PH - ph + g.SH - 1) / g.SH, q0w = (g.PW - pw + g.SW - 1) / g.SW;
      std::vector<int64_t> hs, ws;
      for (int64_t q = std::max<int64_t>(q0h, 0); ph - g.PH + g.SH * q < g.H; ++q) hs.push_back(q);
      for (int64_t q = std::max<int64_t>(q0w, 0); pw - g.PW + g.SW * q < g.W; ++q) ws.push_back(q);
      if (hs.empty() || ws.empty()) continue;
      const int64_t depth = og * int64_t(a.k.size() * b.k.size());
      tap.clear(), w_cols.clear(), pos.clear(), out.clear();
      for (int64_t o = 0; o < og; ++o)
        for (size_t i = 0; i < a.k.size(); ++i)
          for (size_t j = 0; j < b.k.size(); ++j) {
            tap.push_back(o * plane + (pad_top - a.e[i]) * Wp + (pad_left - b.e[j]));
            w_cols.push_back(o * cg * kk + a.k[i] * g.KW + b.k[j]);
          }
      // Stride 1: the phase's positions, stored straight into dx. Strided: every column of dy's
      // padded rows (only ws are real; the others are computed and dropped by the scatter below),
      // so that one image's positions are one run of consecutive addresses in dyp and pack as
      // plain vector copies, however narrow the image.
      const bool direct = g.SH == 1 && g.SW == 1;
      const int64_t nh = int64_t(hs.size()), row_len = direct ? int64_t(ws.size()) : Wp;
      pos.resize(size_t(g.B * nh * row_len));
      if (direct) out.resize(pos.size());
      for (int64_t n = 0, j = 0; n < g.B; ++n)
        for (int64_t qh : hs)
          for (int64_t t = 0; t < row_len; ++t, ++j) {
            const int64_t qw = direct ? ws[size_t(t)] : t;
            pos[size_t(j)] = n * g.O * plane + qh * Wp + qw;
            if (direct) out[size_t(j)] = n * g.C * hw + (ph - g.PH + qh) * g.W + (pw - g.PW + qw);
          }
      const int64_t np = int64_t(pos.size());
      for (int64_t grp = 0; grp < g.groups; ++grp) {
        const TableMatrix<T> a_mat{w + grp * og * cg * kk, w_rows.data(), w_cols.data()};
        const TableMatrix<T> b_mat{dyp + grp * og * plane, tap.data(), pos.data()};
        T* dxg = dx + grp * cg * hw;
        if (direct) {  // the positions are contiguous: the GEMM stores them directly
          gemm_tables(cg, np, depth, a_mat, b_mat, dxg, hw, out.data(), nullptr, false);
          continue;
        }
        // Strided positions: whole register tiles into a contiguous buffer, then one scatter pass
        // (cheaper than storing every tile column by column).
        T* buf = col_scratch<T, 2>(size_t(cg * np));
        gemm_tables(cg, np, depth, a_mat, b_mat, buf, np, nullptr, nullptr, false);
        const int64_t w0 = ws.front(), w1 = ws.back() + 1, col0 = pw - g.PW, SW = g.SW;
        // The phase's rows hs are consecutive, so its rows of dx are SH rows apart.
        const int64_t row0 = ph - g.PH + g.SH * hs.front();
        parallel_for(0, cg * g.B, std::max<int64_t>(1, 16384 / std::max<int64_t>(nh * Wp, 1)), [&](int64_t q0, int64_t q1) {
          for (int64_t q = q0; q < q1;) {  // q = (c, n): images [n, n + count) of channel c in one call
            const int64_t c = q / g.B, n = q % g.B, count = std::min(q1 - q, g.B - n);
            const T* src = buf + c * np + n * nh * Wp + w0;
            T* d = dxg + n * g.C * hw + c * hw + row0 * g.W + col0 + SW * w0;
            isa_scatter_rows(src, nh * Wp, Wp, count, nh, w1 - w0, d, g.C * hw, g.SH * g.W, SW);
            q += count;
          }
        });
      }
    }
  }
}

// The direct kernel (Note [Direct convolution] in kernels/cpu/vec/conv_direct.cpp) takes f32,
// undilated, ungrouped convolutions whose input (dy for the input gradient) has a multiple of 16
// channels, whose output has at least kDirectMinOut channels and at most kDirectMaxPlane positions;
// false when it does not run (another dtype or shape, or an instruction set without it).
// Single-threaded min of 20, batch 64, 3x3 padding 1, implicit GEMM -> direct, forward / input
// gradient: 128 -> 128 at 8x8 8.7 -> 7.2 ms / 8.8 -> 7.3; 256 -> 256 at 4x4 9.0 -> 5.7 / 11.8 ->
// 6.0; 512 -> 512 at 2x2 15.5 -> 5.8 / 12.7 -> 7.0; stride 2: 128 -> 256 at 8x8 4.8 -> 4.5 / 7.8 ->
// 4.2, 256 -> 512 at 4x4 8.0 -> 3.2 / 12.0 -> 4.0, 64 -> 128 at 16x16 (input gradient) 6.8 -> 5.5;
// 64 -> 64 at 16x16 9.5 -> 9.2 / 9.6 -> 9.3. But 32 -> 32 at 32x32 12.5 -> 18.6 / 12.5 -> 18.0 ms:
// on large maps the im2col runs are long (cheap to pack), the padding is a small share, and with
// few channels the direct tile's per-tap depth is short next to its register loads and stores.
// And the product's output channels fill at least half of its narrowest register sliver (32): the
// input gradient of simple_cnn's 8 -> 16 conv (8 outputs of a 32-wide sliver) took 224 -> 368 us.
constexpr int64_t kDirectMaxPlane = 256, kDirectMinOut = 16, kDirectWeightMinPlane = 64;
// The direct kernels take one group and no dilation (f32 only: the callers' if constexpr).
bool direct_geometry(const Conv2dGeom& g) { return g.groups == 1 && g.DH == 1 && g.DW == 1; }

bool forward_direct(const Conv2dGeom& g, const float* x, const float* w, const float* bias, float* y) {
  if (!direct_geometry(g) || g.C % 16 != 0 || g.O < kDirectMinOut || g.ohw() > kDirectMaxPlane) return false;
  const int64_t kk = g.KH * g.KW;
  const DirectConv d{x,    g.B,  g.C,  g.H,  g.W,  w,    g.C * kk, kk,   g.KW,  1,
                     g.KH, g.KW, bias, y,    g.O,  g.OH, g.OW,     g.SH, g.SW,  g.PH,
                     g.PW, false};
  return KILN_ISA_CALL(conv_direct_f32, d);
}

// The input gradient as the transposed direct convolution of dy (input and output channels of the
// weight swapped, read in place).
bool backward_data_direct(const Conv2dGeom& g, const float* dy, const float* w, float* dx) {
  if (!direct_geometry(g) || g.O % 16 != 0 || g.C < kDirectMinOut || g.hw() > kDirectMaxPlane) return false;
  const int64_t kk = g.KH * g.KW;
  const DirectConv d{dy,   g.B,  g.O,     g.OH, g.OW, w,    kk,   g.C * kk, g.KW,  1,
                     g.KH, g.KW, nullptr, dx,   g.C,  g.H,  g.W,  g.SH,     g.SW,  g.PH,
                     g.PW, true};
  return KILN_ISA_CALL(conv_direct_f32, d);
}

// The weight gradient by the direct kernel (Note [Direct weight gradient] in
// kernels/cpu/vec/conv_direct.cpp): f32, undilated, ungrouped, a multiple of 16 output channels,
// output maps of kDirectWeightMinPlane to kDirectMaxPlane positions. Batch 64, 3x3 padding 1, two
// threads, min of 15, implicit GEMM -> direct: 64 -> 64 at 16x16 5.1 -> 4.9 ms, 128 -> 128 at 8x8
// 6.3 -> 4.2 (5.4), 64 -> 128 stride 2 to 8x8 2.7 -> 2.3; but 256 -> 256 at 4x4 4.2 -> 4.4,
// 128 -> 256 stride 2 to 4x4 2.4 -> 2.7 and 512 -> 512 at 2x2 4.3 -> 7.5: with few positions per
// image the partial sums per chunk are as large as the work (the GEMM splits over columns there).
bool backward_weight_direct(const Conv2dGeom& g, const float* dy, const float* x, float* dw) {
  if (!direct_geometry(g) || g.O % 16 != 0 || g.ohw() > kDirectMaxPlane || g.ohw() < kDirectWeightMinPlane)
    return false;
  const DirectWeightGrad d{x, g.B, g.C, g.H, g.W, dy, g.O, g.OH, g.OW, g.KH, g.KW, g.SH, g.SW, g.PH, g.PW, dw};
  return KILN_ISA_CALL(conv_direct_weight_f32, d);
}

}  // namespace

template <class T>
void conv2d_forward(const Conv2dGeom& g, const T* x, const T* w, const T* bias, T* y) {
  if (g.B == 0 || g.ohw() == 0) return;
  if constexpr (std::is_same_v<T, float>)
    if (forward_direct(g, x, w, bias, y)) return;
  forward_implicit(g, x, w, bias, y);
}

template <class T>
void conv2d_backward_data(const Conv2dGeom& g, const T* dy, const T* w, T* dx) {
  if (g.B == 0 || g.hw() == 0) return;
  if (g.pointwise()) return backward_data_pointwise(g, dy, w, dx);
  if constexpr (std::is_same_v<T, float>)
    if (backward_data_direct(g, dy, w, dx)) return;
  backward_data_phases(g, dy, w, dx);
}

template <class T>
void conv2d_backward_weight(const Conv2dGeom& g, const T* dy, const T* x, T* dw) {
  if (g.B == 0 || g.ohw() == 0) {
    std::fill(dw, dw + g.O * g.kdim(), T(0));
    return;
  }
  if constexpr (std::is_same_v<T, float>)
    if (backward_weight_direct(g, dy, x, dw)) return;
  backward_weight_implicit(g, dy, x, dw);
}

template <class T>
void conv2d_backward_bias(int64_t B, int64_t O, int64_t HW, const T* dy, T* db) {
  parallel_for(0, O, std::max<int64_t>(1, 32768 / std::max<int64_t>(B * HW, 1)), [&](int64_t o0, int64_t o1) {
    for (int64_t o = o0; o < o1; ++o) {
      // Eight running sums (element i of a plane into sum i mod 8, the tail into sum 0): one chain
      // of dependent double adds was ~4 cycles per element (the 1 -> 8 stem of simple_cnn: 100K).
      double acc[8] = {};
      for (int64_t n = 0; n < B; ++n) {
        const T* p = dy + (n * O + o) * HW;
        int64_t i = 0;
        for (; i + 8 <= HW; i += 8)
          for (int j = 0; j < 8; ++j) acc[j] += double(p[i + j]);
        for (; i < HW; ++i) acc[0] += double(p[i]);
      }
      db[o] = T(((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7])));
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
