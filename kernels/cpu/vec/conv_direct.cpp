// Compiled once per instruction set (Note [ISA dispatch] in kernels/cpu/isa.h); only the AVX-512
// copy computes (kernels/cpu/conv_direct.h).
//
// Note [Direct convolution]
// The implicit GEMM (Note [Convolution as an implicit GEMM] in conv2d.cpp) packs a register sliver
// of im2col values for every depth step: on small maps (8 x 8 and below) a 48-column sliver is six
// or more separate runs, and packing took ~12% of a stride-1 forward; it also multiplies the zeros
// of the padding (a 3x3 kernel on a 4 x 4 map reads 31% padding, on 2 x 2 maps 56%). Here the roles
// are swapped: the broadcast side of the register tile is 8 output POSITIONS, read in place from
// the input through 8 pointers, and the vector side is 48 (or 32) output channels of the weight,
// packed once per call. So nothing is packed per position, and a tile only visits the taps that are
// inside the input for all its positions:
//   - the input is first copied to NHWC, xh [B][H][W][C] (no padding: taps that would read padding
//     are skipped, not multiplied by zero), so a position's channels are one contiguous run;
//   - the weight is packed per sliver of output channels as [kh][kw][c][48];
//   - each output index along an axis has a base input index and a list of valid taps (k, rel):
//     it reads input index base + rel. Forward: base = S o - P, rel = k, valid while inside the
//     input. Transposed (an input gradient, stride S): only the taps k = (o + P) mod S (mod S)
//     reach o, from dy index (o + P - k) / S = base - (k - r) / S. Output positions are grouped
//     into classes by their pair of tap lists (for a 3x3 kernel with padding 1 and stride 1:
//     interior, four edges, four corners; stride-2 input gradients add the phases);
//   - a tile is 8 positions of one class (from any images); it runs the register tile over all
//     C channels of each of the class's taps, keeping its 8 x 48 sums in registers throughout, and
//     stores them once, as rows of an NHWC output block that is transposed to NCHW (with the bias
//     added) when the block is done;
//   - the batch is cut into blocks of images (at most kBlockBytes of input each, as many blocks as
//     a multiple of the threads): a thread copies its block to NHWC and runs every sliver over the
//     block's tiles while the copy is in its L2 (swept over the whole batch once per sliver, the
//     input of a 16 x 16 stage was read from memory again for every sliver).
// Each output element is one sum in a fixed order (taps, then channels), whatever the threads do.
// It pays on small maps (kDirectMaxPlane in conv2d.cpp has the measurements).
#include <algorithm>
#include <cstdint>
#include <utility>
#include <vector>

#include "kiln/kernels/cpu/conv_direct.h"
#include "kiln/kernels/cpu/parallel.h"
#include "kiln/kernels/macros.h"

#if defined(__AVX512F__)
#include "kiln/kernels/cpu/vec/gemm_kernel.h"  // transpose16x16_regs
#endif

namespace KILN_ISA_NAMESPACE {

#if !defined(__AVX512F__)
bool conv_direct_f32(const kiln::cpu::DirectConv&) { return false; }
bool conv_direct_weight_f32(const kiln::cpu::DirectWeightGrad&) { return false; }
#else
namespace {
using kiln::cpu::DirectConv;
using kiln::cpu::DirectWeightGrad;
KILN_INTRINSIC_WARNINGS_OFF

// The calling thread's scratch areas (Slot tells apart the two one call holds at the same time).
template <int Slot>
float* direct_scratch(size_t n) {
  static thread_local std::vector<float> buf;
  return scratch(buf, n);
}

// Lane l of the result holds l * stride (the element offsets of a gather or scatter).
__m512i lane_offsets(int64_t stride) {
  return _mm512_mullo_epi32(_mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0),
                            _mm512_set1_epi32(int(stride)));
}

// Output channels in slivers of 48, with one or two of 32 at the end, so that no sliver is more
// than half padding (O = 64: 32 + 32; 128: 48 + 48 + 32; 256: 4 x 48 + 2 x 32).
struct Sliver {
  int64_t o0;
  int nr;
};
std::vector<Sliver> slivers(int64_t O) {
  std::vector<Sliver> s;
  int64_t n48 = O / 48;
  const int64_t rem = O % 48;
  int tail32 = 0;
  if (rem > 32) {
    ++n48;
  } else if (rem > 16) {
    tail32 = 1;
  } else if (rem > 0) {
    if (n48 > 0) --n48, tail32 = 2;
    else tail32 = 1;
  }
  int64_t o = 0;
  for (int64_t i = 0; i < n48; ++i, o += 48) s.push_back({o, 48});
  for (int i = 0; i < tail32; ++i, o += 32) s.push_back({o, 32});
  return s;
}

// xh[(n*HW + s)*row + c] = x[(n*C + c)*HW + s] for the images n < B and channels c < C, a
// multiple of 16 (NCHW to NHWC, rows of row >= C floats): 16 x 16 transposes, on the calling thread.
void to_nhwc(const float* x, int64_t B, int64_t C, int64_t HW, int64_t row, float* xh) {
  alignas(64) float tmp[256];
  for (int64_t q = 0; q < B * (C / 16); ++q) {
    const int64_t n = q / (C / 16), c0 = q % (C / 16) * 16;
    const float* src = x + (n * C + c0) * HW;
    float* dst = xh + n * HW * row + c0;
    for (int64_t s0 = 0; s0 < HW; s0 += 16) {
      const int m = int(std::min<int64_t>(16, HW - s0));
      const __mmask16 mask = __mmask16((1u << m) - 1u);
      __m512 v[16];
      for (int l = 0; l < 16; ++l) v[l] = _mm512_maskz_loadu_ps(mask, src + l * HW + s0);
      if (m == 16) {
        transpose16x16_regs(v, dst + s0 * row, row);
      } else {
        transpose16x16_regs(v, tmp, 16);
        for (int i = 0; i < m; ++i) _mm512_storeu_ps(dst + (s0 + i) * row, _mm512_load_ps(tmp + 16 * i));
      }
    }
  }
}

// y[(n*C + c)*HW + s] = yh[(n*HW + s)*row + c] + bias[c] (bias may be null) for the images n < B
// and channels c < C (NHWC to NCHW): 16 x 16 transposes, on the calling thread.
void from_nhwc(const float* yh, int64_t B, int64_t C, int64_t HW, int64_t row, const float* bias, float* y) {
  alignas(64) float tmp[256];
  for (int64_t n = 0; n < B; ++n)
    for (int64_t c0 = 0; c0 < C; c0 += 16) {
      const int nc = int(std::min<int64_t>(16, C - c0));
      const __mmask16 cmask = __mmask16((1u << nc) - 1u);
      const __m512 bb = bias ? _mm512_maskz_loadu_ps(cmask, bias + c0) : _mm512_setzero_ps();
      float* dst = y + (n * C + c0) * HW;
      for (int64_t s0 = 0; s0 < HW; s0 += 16) {
        const int m = int(std::min<int64_t>(16, HW - s0));
        const __mmask16 pmask = __mmask16((1u << m) - 1u);
        __m512 v[16];
        for (int l = 0; l < 16; ++l)
          v[l] = l < m ? _mm512_add_ps(_mm512_loadu_ps(yh + (n * HW + s0 + l) * row + c0), bb) : _mm512_setzero_ps();
        if (nc == 16) {
          transpose16x16_regs(v, dst + s0, HW, pmask);
        } else {
          transpose16x16_regs(v, tmp, 16);
          for (int k = 0; k < nc; ++k) _mm512_mask_storeu_ps(dst + k * HW + s0, pmask, _mm512_load_ps(tmp + 16 * k));
        }
      }
    }
}

// wp: sliver after sliver (sliver s at wp + o0 * KK * C), each [kh][kw][c][nr], zero past O.
void pack_weight(const DirectConv& d, const std::vector<Sliver>& sl, float* wp) {
  const int64_t C = d.C, KK = d.KH * d.KW, O = d.O;
  // The forward's weight [O][C][KH][KW]: 16 rows of (c, kh, kw) transposed 16 at a time.
  const bool rows_contiguous = d.skw == 1 && d.skh == d.KW && d.sc == KK;
  const int64_t nblk = (O + 15) / 16;
  kiln::cpu::parallel_for(0, nblk, 1, [&](int64_t b0, int64_t b1) {
    alignas(64) float tmp[256];
    for (int64_t ob = b0; ob < b1; ++ob) {
      const int64_t obase = ob * 16;
      size_t s = 0;
      while (sl[s].o0 + sl[s].nr <= obase) ++s;
      const int nr = sl[s].nr;
      const int64_t j0 = obase - sl[s].o0;
      float* dst = wp + sl[s].o0 * KK * C + j0;
      const int nvalid = int(std::min<int64_t>(16, O - obase));
      const __mmask16 omask = __mmask16((1u << nvalid) - 1u);
      if (rows_contiguous) {
        const int64_t kdim = C * KK;
        for (int64_t k0 = 0; k0 < kdim; k0 += 16) {
          const int m = int(std::min<int64_t>(16, kdim - k0));
          const __mmask16 kmask = __mmask16((1u << m) - 1u);
          __m512 v[16];
          for (int l = 0; l < 16; ++l)
            v[l] = l < nvalid ? _mm512_maskz_loadu_ps(kmask, d.w + (obase + l) * d.so + k0) : _mm512_setzero_ps();
          transpose16x16_regs(v, tmp, 16);
          for (int i = 0; i < m; ++i) {
            const int64_t k = k0 + i, c = k / KK, t = k % KK;
            _mm512_store_ps(dst + (t * C + c) * nr, _mm512_load_ps(tmp + 16 * i));
          }
        }
        continue;
      }
      // Otherwise (the input gradient's weight, so = KK) gathers, all taps of one c in a row: their
      // 16 x KK elements are a few cache lines, in L1 after the first tap.
      const __m512i idx = lane_offsets(d.so);
      for (int64_t c = 0; c < C; ++c)
        for (int64_t t = 0; t < KK; ++t) {
          const float* base = d.w + obase * d.so + c * d.sc + (t / d.KW) * d.skh + (t % d.KW) * d.skw;
          _mm512_storeu_ps(dst + (t * C + c) * nr, _mm512_mask_i32gather_ps(_mm512_setzero_ps(), omask, idx, base, 4));
        }
    }
  });
}

// Output positions with the same valid taps: tap t = kh*KW + kw reads the input at xoff + toff.
struct Class {
  std::vector<std::pair<int64_t, int64_t>> taps;  // (t, toff)
  std::vector<int64_t> xoff, yoff;  // per position: its base offset in xh, its offset in y (channel 0)
};

// One axis of the output: each index o reads input index base[o] + rel for its valid taps (k, rel);
// id[o] numbers the distinct tap lists, lists[id] (Note [Direct convolution]).
struct Axis {
  std::vector<int64_t> base, id;
  std::vector<std::vector<std::pair<int64_t, int64_t>>> lists;
};
Axis axis_taps(int64_t out, int64_t in, int64_t K, int64_t S, int64_t P, bool transposed) {
  Axis a;
  a.base.resize(size_t(out));
  a.id.resize(size_t(out));
  std::vector<std::pair<int64_t, int64_t>> l;
  for (int64_t o = 0; o < out; ++o) {
    l.clear();
    int64_t b;
    if (!transposed) {  // input index S*o - P + k
      b = S * o - P;
      for (int64_t k = 0; k < K; ++k)
        if (b + k >= 0 && b + k < in) l.push_back({k, k});
    } else {  // input index (o + P - k) / S where divisible: q - (k - r) / S for k = r (mod S)
      const int64_t r = (o + P) % S;
      b = (o + P - r) / S;
      for (int64_t k = r; k < K; k += S)
        if (b - (k - r) / S >= 0 && b - (k - r) / S < in) l.push_back({k, -((k - r) / S)});
    }
    a.base[size_t(o)] = b;
    auto it = std::find(a.lists.begin(), a.lists.end(), l);
    a.id[size_t(o)] = it - a.lists.begin();
    if (it == a.lists.end()) a.lists.push_back(l);
  }
  return a;
}

// The output positions of B images in classes, one per pair of a row tap list and a column tap
// list; each image has the same number of positions in each class, listed image after image. Tap
// t = kh * KW + kw. Input offsets count xunit elements per input position (C for NHWC, 1 for NCHW
// planes) and xim per image; output offsets are n * yim + (oh * OW + ow) * yunit.
std::vector<Class> position_classes(const Axis& rows, const Axis& cols, int64_t B, int64_t W, int64_t KW,
                                    int64_t xunit, int64_t xim, int64_t yim, int64_t yunit) {
  const size_t ncols = cols.lists.size();
  const int64_t OH = int64_t(rows.base.size()), OW = int64_t(cols.base.size());
  std::vector<Class> classes(rows.lists.size() * ncols);
  for (size_t i = 0; i < rows.lists.size(); ++i)
    for (size_t j = 0; j < ncols; ++j)
      for (const auto& [kh, rh] : rows.lists[i])
        for (const auto& [kw, rw] : cols.lists[j])
          classes[i * ncols + j].taps.push_back({kh * KW + kw, (rh * W + rw) * xunit});
  for (int64_t n = 0; n < B; ++n)
    for (int64_t oh = 0; oh < OH; ++oh)
      for (int64_t ow = 0; ow < OW; ++ow) {
        Class& k = classes[size_t(rows.id[size_t(oh)]) * ncols + size_t(cols.id[size_t(ow)])];
        k.xoff.push_back(n * xim + (rows.base[size_t(oh)] * W + cols.base[size_t(ow)]) * xunit);
        k.yoff.push_back(n * yim + (oh * OW + ow) * yunit);
      }
  return classes;
}

// One depth step of the 8 x 16 NV register tile: acc[i][v] += p[i][q] * b[16 v + lane].
template <int NV>
__attribute__((always_inline)) inline void tile_step(__m512 (&acc)[8][NV], const float* const (&p)[8], int64_t q,
                                                     const float* KILN_RESTRICT b) {
  __m512 bv[NV];
#pragma GCC unroll 4
  for (int v = 0; v < NV; ++v) bv[v] = _mm512_load_ps(b + 16 * v);
  const float av[8] = {p[0][q], p[1][q], p[2][q], p[3][q], p[4][q], p[5][q], p[6][q], p[7][q]};
#pragma GCC unroll 16
  for (int i = 0; i < 8; ++i) {
    const __m512 s = _mm512_set1_ps(av[i]);
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) acc[i][v] = _mm512_fmadd_ps(s, bv[v], acc[i][v]);
  }
}

// acc[i][v] (lane) = acc_mem[i * 16 NV + 16 v + lane], and back.
template <int NV>
__attribute__((always_inline)) inline void tile_load(__m512 (&acc)[8][NV], const float* KILN_RESTRICT acc_mem) {
#pragma GCC unroll 16
  for (int i = 0; i < 8; ++i)
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) acc[i][v] = _mm512_load_ps(acc_mem + i * 16 * NV + 16 * v);
}
template <int NV>
__attribute__((always_inline)) inline void tile_store(const __m512 (&acc)[8][NV], float* KILN_RESTRICT acc_mem) {
#pragma GCC unroll 16
  for (int i = 0; i < 8; ++i)
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) _mm512_store_ps(acc_mem + i * 16 * NV + 16 * v, acc[i][v]);
}

// acc[i][16 NV] += sum over the taps (t, toff) and c < C of a[i][toff + c] * b[t][c][16 NV] (b rows of
// 16 NV floats, C rows per tap): the register tile of the GEMM micro-kernel
// (kernels/cpu/vec/gemm_kernel.h) with its 8 broadcast rows read through 8 pointers, summed over
// all taps in registers. Not inlined, so that the compiler gives the loop all the vector registers
// (inlined into the tile's loops it kept loop counters in vector registers and spilled a B vector
// on every step).
template <int NV>
__attribute__((noinline)) void accumulate(const std::pair<int64_t, int64_t>* taps, int64_t ntaps, int64_t C,
                                          const float* const* a, const float* KILN_RESTRICT b,
                                          float* KILN_RESTRICT acc_mem) {
  constexpr int NR = 16 * NV;
  __m512 acc[8][NV];
  tile_load<NV>(acc, acc_mem);
  const float* const p[8] = {a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7]};
  for (int64_t k = 0; k < ntaps; ++k) {
    const float* bt = b + taps[k].first * C * NR;
    for (int64_t c = taps[k].second, end = c + C; c < end; ++c, bt += NR) tile_step<NV>(acc, p, c, bt);
  }
  tile_store<NV>(acc, acc_mem);
}

// Tile of 8 positions of one class (count < 8 at a class's end) times one sliver of NV x 16 output
// channels, summed over the class's taps and all channels; stored as rows of the NHWC output block
// yh (the sliver's channel 0; position p of the block at row p - ysub).
template <int NV>
void tile(const float* xh, int64_t xsub, const Class& k, int64_t start, int count, int64_t C, const float* wps,
          float* yh, int64_t ysub, int64_t row) {
  constexpr int MR = 8, NR = 16 * NV;
  alignas(64) float acc[MR * NR] = {};
  const int64_t* xoff = k.xoff.data() + start;
  const float* a[MR];
  for (int i = 0; i < MR; ++i) a[i] = xh + (xoff[std::min(i, count - 1)] - xsub);
  accumulate<NV>(k.taps.data(), int64_t(k.taps.size()), C, a, wps, acc);
  const int64_t* yoff = k.yoff.data() + start;
  for (int i = 0; i < count; ++i)
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v)
      _mm512_store_ps(yh + (yoff[i] - ysub) * row + 16 * v, _mm512_load_ps(acc + i * NR + 16 * v));
}

// acc[i][16 NV] += sum over the np positions j of a[i][xq[j]] * dy[dq[j] - dsub][16 NV] (dy rows of
// 16 NV floats): the tile of accumulate with the depth over output positions; the broadcast rows
// are 8 input channels at one tap, the vector side 16 NV output channels of dy in NHWC (the weight
// gradient).
template <int NV>
__attribute__((noinline)) void accumulate_positions(int64_t np, const int64_t* KILN_RESTRICT xq,
                                                    const int64_t* KILN_RESTRICT dq, int64_t dsub,
                                                    const float* const* a, const float* KILN_RESTRICT dy,
                                                    float* KILN_RESTRICT acc_mem) {
  constexpr int NR = 16 * NV;
  __m512 acc[8][NV];
  tile_load<NV>(acc, acc_mem);
  const float* const p[8] = {a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7]};
  for (int64_t j = 0; j < np; ++j) tile_step<NV>(acc, p, xq[j], dy + (dq[j] - dsub) * NR);
  tile_store<NV>(acc, acc_mem);
}

}  // namespace

bool conv_direct_f32(const DirectConv& d) {
  const int64_t OHW = d.OH * d.OW, HW = d.H * d.W;
  if (d.C <= 0 || d.C % 16 != 0 || d.OH <= 0 || d.OW <= 0 || d.B <= 0 || d.O <= 0 || d.SH < 1 || d.SW < 1)
    return false;
  if (OHW >= (int64_t(1) << 26) || d.so * 16 >= (int64_t(1) << 29) || d.so < 0) return false;
  const int64_t KK = d.KH * d.KW;
  const std::vector<Sliver> sl = slivers(d.O);
  const int64_t opad = sl.back().o0 + sl.back().nr;
  float* wp = direct_scratch<1>(size_t(opad * KK * d.C));
  pack_weight(d, sl, wp);

  const Axis rows = axis_taps(d.OH, d.H, d.KH, d.SH, d.PH, d.transposed);
  const Axis cols = axis_taps(d.OW, d.W, d.KW, d.SW, d.PW, d.transposed);
  const std::vector<Class> classes = position_classes(rows, cols, d.B, d.W, d.KW, d.C, HW * d.C, OHW, 1);

  // Blocks of images (Note [Direct convolution]), each in the calling thread's scratch: xh its
  // input in NHWC, yh its output in NHWC (rows of opad channels).
  constexpr int64_t kBlockBytes = int64_t(384) << 10;
  const int nt = kiln::cpu::in_parallel_region() ? 1 : kiln::cpu::num_threads();
  const int64_t image = HW * d.C;
  int64_t nblocks = (d.B * image * int64_t(sizeof(float)) + kBlockBytes - 1) / kBlockBytes;
  nblocks = std::min<int64_t>(d.B, (std::max<int64_t>(nblocks, 1) + nt - 1) / nt * nt);
  struct Tile {
    int32_t cls;
    int32_t count;
    int64_t start;
  };
  std::vector<Tile> tiles;
  std::vector<size_t> first(size_t(nblocks) + 1);
  for (int64_t j = 0; j < nblocks; ++j) {
    first[size_t(j)] = tiles.size();
    const int64_t n0 = j * d.B / nblocks, n1 = (j + 1) * d.B / nblocks;
    for (size_t c = 0; c < classes.size(); ++c) {
      const int64_t per = int64_t(classes[c].xoff.size()) / d.B, end = n1 * per;
      for (int64_t s = n0 * per; s < end; s += 8)
        tiles.push_back({int32_t(c), int32_t(std::min<int64_t>(8, end - s)), s});
    }
  }
  first[size_t(nblocks)] = tiles.size();
  kiln::cpu::parallel_for(0, nblocks, (nblocks + nt - 1) / nt, [&](int64_t j0, int64_t j1) {
    for (int64_t j = j0; j < j1; ++j) {
      const int64_t n0 = j * d.B / nblocks, n1 = (j + 1) * d.B / nblocks;
      float* xh = direct_scratch<0>(size_t((n1 - n0) * image));
      float* yh = direct_scratch<2>(size_t((n1 - n0) * OHW * opad));
      to_nhwc(d.x + n0 * image, n1 - n0, d.C, HW, d.C, xh);
      for (const Sliver& s : sl) {
        const float* wps = wp + s.o0 * KK * d.C;
        for (size_t t = first[size_t(j)]; t < first[size_t(j) + 1]; ++t) {
          const Tile& tl = tiles[t];
          const Class& k = classes[size_t(tl.cls)];
          if (s.nr == 48)
            tile<3>(xh, n0 * image, k, tl.start, tl.count, d.C, wps, yh + s.o0, n0 * OHW, opad);
          else
            tile<2>(xh, n0 * image, k, tl.start, tl.count, d.C, wps, yh + s.o0, n0 * OHW, opad);
        }
      }
      from_nhwc(yh, n1 - n0, d.O, OHW, opad, d.bias, d.y + n0 * d.O * OHW);
    }
  });
  return true;
}

// Note [Direct weight gradient]
// dw[o, c, t] = sum over images and output positions p of dy[o, p] x[c, p's input at tap t]: the
// direct tile with the roles of Note [Direct convolution] moved once more. The vector side is a
// sliver of 48 (or 32) output channels of dy, copied per chunk of images to [position][48]; the
// broadcast side is 8 input channels at one tap, read in place from the NCHW input through 8
// pointers and the position's offset; the depth is the chunk's output positions of the classes in
// which the tap is valid (so the padding is skipped, as in the forward). A unit of work is one
// sliver of one chunk: it writes its tiles' 8 x 48 sums to the chunk's partial gradient, and the
// partials are added in chunk order. Chunks hold about kChunkBytes of a sliver of dy and the input
// (a number of images fixed by the shape alone, so the bits do not depend on the threads).
bool conv_direct_weight_f32(const DirectWeightGrad& d) {
  const int64_t OHW = d.OH * d.OW, HW = d.H * d.W;
  if (d.O <= 0 || d.O % 16 != 0 || d.C <= 0 || d.OH <= 0 || d.OW <= 0 || d.B <= 0 || d.H <= 0 || d.W <= 0 ||
      d.KH <= 0 || d.KW <= 0 || d.SH < 1 || d.SW < 1)
    return false;
  const int64_t KK = d.KH * d.KW, Cp = (d.C + 7) / 8 * 8;
  const std::vector<Sliver> sl = slivers(d.O);
  const int64_t opad = sl.back().o0 + sl.back().nr, nsl = int64_t(sl.size());
  const Axis rows = axis_taps(d.OH, d.H, d.KH, d.SH, d.PH, false);
  const Axis cols = axis_taps(d.OW, d.W, d.KW, d.SW, d.PW, false);
  // Output offsets count positions (dy's chunk copy is [position][nr]).
  const std::vector<Class> classes = position_classes(rows, cols, d.B, d.W, d.KW, 1, d.C * HW, OHW, 1);
  std::vector<std::vector<std::pair<size_t, int64_t>>> by_tap(static_cast<size_t>(KK));  // (class, toff)
  for (size_t c = 0; c < classes.size(); ++c)
    for (const auto& [t, toff] : classes[c].taps) by_tap[size_t(t)].push_back({c, toff});

  constexpr int64_t kChunkBytes = int64_t(1) << 20;
  const int64_t per_image = (OHW * 48 + d.C * HW) * int64_t(sizeof(float));
  const int64_t chunk = std::clamp<int64_t>(kChunkBytes / per_image, 1, d.B);
  const int64_t nchunks = (d.B + chunk - 1) / chunk;
  // Partial sums per chunk, sliver after sliver (sliver s at o0 * KK * Cp), each [t][c][nr].
  const int64_t psize = opad * KK * Cp;
  std::vector<float> partial(size_t(nchunks * psize));
  kiln::cpu::parallel_for(0, nchunks * nsl, 1, [&](int64_t u0, int64_t u1) {
    for (int64_t u = u0; u < u1; ++u) {
      const int64_t ch = u / nsl, n0 = ch * chunk, n1 = std::min(d.B, n0 + chunk), np = (n1 - n0) * OHW;
      const Sliver& s = sl[size_t(u % nsl)];
      const int64_t valid = std::min<int64_t>(s.nr, d.O - s.o0);
      float* dyh = direct_scratch<0>(size_t(np * s.nr));
      for (int64_t n = n0; n < n1; ++n)
        to_nhwc(d.dy + (n * d.O + s.o0) * OHW, 1, valid, OHW, s.nr, dyh + (n - n0) * OHW * s.nr);
      if (valid < s.nr)
        for (int64_t j = 0; j < np; ++j) std::fill(dyh + j * s.nr + valid, dyh + (j + 1) * s.nr, 0.f);
      float* part = partial.data() + ch * psize + s.o0 * KK * Cp;
      for (int64_t c0 = 0; c0 < d.C; c0 += 8) {
        const float* a[8];
        for (int i = 0; i < 8; ++i) a[i] = d.x + std::min<int64_t>(c0 + i, d.C - 1) * HW;
        for (int64_t t = 0; t < KK; ++t) {
          alignas(64) float acc[8 * 48] = {};
          for (const auto& [cls, toff] : by_tap[size_t(t)]) {
            const Class& k = classes[cls];
            const int64_t per = int64_t(k.xoff.size()) / d.B, j0 = n0 * per;
            const float* at[8];
            for (int i = 0; i < 8; ++i) at[i] = a[i] + toff;
            if (s.nr == 48)
              accumulate_positions<3>((n1 - n0) * per, k.xoff.data() + j0, k.yoff.data() + j0, n0 * OHW, at, dyh, acc);
            else
              accumulate_positions<2>((n1 - n0) * per, k.xoff.data() + j0, k.yoff.data() + j0, n0 * OHW, at, dyh, acc);
          }
          std::copy(acc, acc + 8 * s.nr, part + (t * Cp + c0) * s.nr);
        }
      }
    }
  });
  // dw[o, c, t] = the partials' sums in chunk order, 16 output channels at a time.
  const __m512i idx = lane_offsets(d.C * KK);
  kiln::cpu::parallel_for(0, nsl * d.C, 8, [&](int64_t u0, int64_t u1) {
    for (int64_t u = u0; u < u1; ++u) {
      const Sliver& s = sl[size_t(u / d.C)];
      const int64_t c = u % d.C;
      for (int64_t t = 0; t < KK; ++t) {
        const float* src = partial.data() + s.o0 * KK * Cp + (t * Cp + c) * s.nr;
        for (int v = 0; v < s.nr / 16; ++v) {
          const int lanes = int(std::clamp<int64_t>(d.O - s.o0 - 16 * v, 0, 16));
          if (lanes == 0) break;
          __m512 sum = _mm512_loadu_ps(src + 16 * v);
          for (int64_t ch = 1; ch < nchunks; ++ch) sum = _mm512_add_ps(sum, _mm512_loadu_ps(src + ch * psize + 16 * v));
          _mm512_mask_i32scatter_ps(d.dw + ((s.o0 + 16 * v) * d.C + c) * KK + t, __mmask16((1u << lanes) - 1u), idx,
                                    sum, 4);
        }
      }
    }
  });
  return true;
}
KILN_INTRINSIC_WARNINGS_ON
#endif

}  // namespace KILN_ISA_NAMESPACE
