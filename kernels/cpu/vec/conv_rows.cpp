// Compiled once per instruction set (Note [ISA dispatch] in kernels/cpu/isa.h); only the AVX-512
// copy computes (kernels/cpu/conv_rows.h).
//
// Note [Weight gradient along rows]
// The implicit GEMM's weight gradient (Note [Convolution as an implicit GEMM] in conv2d.cpp) is
// dy [O, positions] times im2col [positions, K]: its register tile is 8 output channels by 48
// depth elements (channel, kh, kw), and its depth is the batch's positions. When the weight is small
// (the stem of simple_cnn: O = 8, K = 1 * 3 * 3 = 9) most of the tile multiplies zero padding, and
// every position's 9 values are packed into a 48-wide sliver first: the 1 -> 8 stride-2 conv on
// 28 x 28 took 2.4x oneDNN's time. Here the vector side is the positions instead: 16 output columns
// of one row of one image, which are consecutive in dy and (stride 1, or stride 2 stored as phases)
// in the padded input, so both operands are plain (masked) loads read in place and nothing is
// packed. A register block holds the sums of up to 4 output channels x 6 depth elements, each a
// vector of 16 per-lane partial sums; one pass over the images' rows fills it, and its lanes are
// added at the end. Each output element is one sum in a fixed order (lanes, rows, images).
#include <algorithm>
#include <array>
#include <cstdint>
#include <utility>
#include <vector>

#include "kiln/kernels/cpu/conv_rows.h"
#include "kiln/kernels/macros.h"

#if defined(__AVX512F__)
#include "kiln/kernels/cpu/vec/gemm_kernel.h"  // scratch, stride2_masks, even_lanes
#endif

namespace KILN_ISA_NAMESPACE {

#if !defined(__AVX512F__)
bool conv_rows_weight_f32(const kiln::cpu::RowsWeightGrad&) { return false; }
#else
KILN_INTRINSIC_WARNINGS_OFF
namespace {
using kiln::cpu::RowsWeightGrad;

// Output channels [o0, o0 + OG) by depth elements [k0, k0 + KG) of d.out over images [b0, b1): the
// block's running sums start from zero (first) or from acc_mem, and go back to acc_mem, or (last)
// have their lanes added into d.out. S: the input's column step (d.xstep).
template <int S, int OG, int KG>
__attribute__((noinline)) void rows_block(const RowsWeightGrad& d, int64_t o0, int64_t k0, int64_t b0, int64_t b1,
                                          float* acc_mem, bool first, bool last) {
  __m512 acc[OG][KG];
#pragma GCC unroll 8
  for (int i = 0; i < OG; ++i)
#pragma GCC unroll 8
    for (int j = 0; j < KG; ++j) acc[i][j] = first ? _mm512_setzero_ps() : _mm512_load_ps(acc_mem + (i * KG + j) * 16);
  int64_t tap[KG];
#pragma GCC unroll 8
  for (int j = 0; j < KG; ++j) tap[j] = d.tap[k0 + j];
  const int64_t ohw = d.OH * d.OW, nv = (d.OW + 15) / 16;
  const int tail_lanes = int(d.OW - 16 * (nv - 1));
  const __mmask16 tail = __mmask16((1u << tail_lanes) - 1u);
  const Stride2Masks full2 = stride2_masks(16), tail2 = stride2_masks(tail_lanes);
  const __m512i even = even_lanes();
  for (int64_t b = b0; b < b1; ++b)
    for (int64_t oy = 0; oy < d.OH; ++oy) {
      const float* g = d.dy + b * d.dy_image + o0 * ohw + oy * d.OW;
      const float* x = d.x + b * d.image + oy * d.row;
      // 16 columns from column 16 v, masks m (stride 1) or m2 (stride 2) keeping the valid ones.
      auto columns = [&](int64_t v, __mmask16 m, Stride2Masks m2) __attribute__((always_inline)) {
        __m512 gv[OG];
#pragma GCC unroll 8
        for (int i = 0; i < OG; ++i) gv[i] = _mm512_maskz_loadu_ps(m, g + i * ohw + 16 * v);
#pragma GCC unroll 8
        for (int j = 0; j < KG; ++j) {
          // Lanes past the row multiply dy's zeroed lanes; the masks keep the loads inside the
          // buffer (the last row of the last image).
          __m512 xv;
          if constexpr (S == 1) {
            xv = _mm512_maskz_loadu_ps(m, x + tap[j] + 16 * v);
          } else {
            const float* p = x + tap[j] + 32 * v;
            xv = _mm512_permutex2var_ps(_mm512_maskz_loadu_ps(m2.lo, p), even, _mm512_maskz_loadu_ps(m2.hi, p + 16));
          }
#pragma GCC unroll 8
          for (int i = 0; i < OG; ++i) acc[i][j] = _mm512_fmadd_ps(gv[i], xv, acc[i][j]);
        }
      };
      for (int64_t v = 0; v + 1 < nv; ++v) columns(v, __mmask16(0xffff), full2);
      columns(nv - 1, tail, tail2);
    }
#pragma GCC unroll 8
  for (int i = 0; i < OG; ++i)
#pragma GCC unroll 8
    for (int j = 0; j < KG; ++j) {
      if (last)
        d.out[(o0 + i) * d.K + k0 + j] = _mm512_reduce_add_ps(acc[i][j]);
      else
        _mm512_store_ps(acc_mem + (i * KG + j) * 16, acc[i][j]);
    }
}

constexpr int kOG = 4, kKG = 6;
// A group of images holds at most kGroupFloats floats of dy per block of output channels and (when
// images are small) kGroupInputFloats of input, so that both stay in L1 while the group runs every
// block of depth elements.
constexpr int64_t kGroupFloats = 4096, kGroupInputFloats = 8192;
using BlockFn = void (*)(const RowsWeightGrad&, int64_t, int64_t, int64_t, int64_t, float*, bool, bool);
template <int S, int OG, int... KG>
constexpr auto block_row(std::integer_sequence<int, KG...>) {
  return std::array<BlockFn, sizeof...(KG)>{&rows_block<S, OG, KG + 1>...};
}
template <int S, int... OG>
constexpr auto block_table(std::integer_sequence<int, OG...>) {
  return std::array<std::array<BlockFn, kKG>, sizeof...(OG)>{
      block_row<S, OG + 1>(std::make_integer_sequence<int, kKG>{})...};
}
constexpr std::array<std::array<std::array<BlockFn, kKG>, kOG>, 2> kBlocks{
    block_table<1>(std::make_integer_sequence<int, kOG>{}), block_table<2>(std::make_integer_sequence<int, kOG>{})};
}  // namespace

bool conv_rows_weight_f32(const RowsWeightGrad& d) {
  if (d.B <= 0 || d.O <= 0 || d.OH <= 0 || d.OW <= 0 || d.K <= 0 || (d.xstep != 1 && d.xstep != 2)) return false;
  // Per block of output channels: images in groups (their dy rows stay in L1), each group running
  // every block of depth elements, whose sums wait in acc_mem between groups.
  const int64_t nkb = (d.K + kKG - 1) / kKG;
  const int64_t group =
      std::max<int64_t>(1, std::min(kGroupFloats / (kOG * d.OH * d.OW), kGroupInputFloats / std::max<int64_t>(1, d.image)));
  static thread_local std::vector<float> acc_buf;
  float* acc_mem = scratch(acc_buf, size_t(nkb * kOG * kKG * 16));
  for (int64_t o0 = 0; o0 < d.O; o0 += kOG) {
    const int og = int(std::min<int64_t>(kOG, d.O - o0));
    for (int64_t b0 = 0; b0 < d.B; b0 += group) {
      const int64_t b1 = std::min(d.B, b0 + group);
      for (int64_t kb = 0; kb < nkb; ++kb) {
        const int64_t k0 = kb * kKG;
        const int kg = int(std::min<int64_t>(kKG, d.K - k0));
        kBlocks[size_t(d.xstep - 1)][size_t(og - 1)][size_t(kg - 1)](d, o0, k0, b0, b1, acc_mem + kb * kOG * kKG * 16, b0 == 0, b1 == d.B);
      }
    }
  }
  return true;
}
KILN_INTRINSIC_WARNINGS_ON
#endif

}  // namespace KILN_ISA_NAMESPACE
