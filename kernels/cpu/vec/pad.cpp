// Zero-padding of image planes, compiled once per instruction set (Note [ISA dispatch] in
// kernels/cpu/isa.h). Planes are small (a 7 x 7 map padded to 9 x 9 has rows of 9 values; a 4 x 4
// map, 6 x 6), so the per-row cost is what matters: no library calls per border. With AVX-512 a
// small padded plane is written 16 values at a time, each vector one expand-load (vexpandps: the
// next popcount(mask) source values go to the mask's lanes in order, the other lanes are zero) and
// one store; the masks and source offsets depend only on the geometry, so they are worked out once
// per call. Larger planes go row by row: one zero-masked load of the source row shifted by `left`
// (the border lanes come out as zeros) and one masked store per 16 values. Also here: the strided
// row scatter that puts a stride phase of an input gradient in place (scatter_rows_*), and the
// split of a padded input into its stride-2 phases (split_phases2_*).
#include <algorithm>
#include <cstdint>

#include "kiln/kernels/cpu/pad_planes.h"
#include "kiln/kernels/macros.h"

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

namespace KILN_ISA_NAMESPACE {
namespace {

template <class T>
void pad_generic(const T* src, int64_t planes, int64_t H, int64_t W, int64_t top, int64_t left, int64_t Hp,
                 int64_t Wp, T* dst) {
  const int64_t plane = Hp * Wp;
  for (int64_t q = 0; q < planes; ++q) {
    T* d = dst + q * plane;
    const T* s = src + q * H * W;
    for (int64_t i = 0; i < top * Wp; ++i) d[i] = T(0);
    for (int64_t h = 0; h < H; ++h) {
      T* row = d + (top + h) * Wp;
      const T* sr = s + h * W;
      for (int64_t c = 0; c < left; ++c) row[c] = T(0);
      for (int64_t c = 0; c < W; ++c) row[left + c] = sr[c];
      for (int64_t c = left + W; c < Wp; ++c) row[c] = T(0);
    }
    for (int64_t i = (top + H) * Wp; i < plane; ++i) d[i] = T(0);
  }
}

template <class T>
void scatter_generic(const T* src, int64_t src_block, int64_t src_stride, int64_t blocks, int64_t rows, int64_t n,
                     T* dst, int64_t dst_block, int64_t dst_stride, int64_t step) {
  for (int64_t b = 0; b < blocks; ++b)
    for (int64_t r = 0; r < rows; ++r) {
      const T* s = src + b * src_block + r * src_stride;
      T* d = dst + b * dst_block + r * dst_stride;
      for (int64_t i = 0; i < n; ++i) d[i * step] = s[i];
    }
}

template <class T>
void split2_generic(const T* src, int64_t planes, int64_t H, int64_t W, int64_t top, int64_t left, int64_t Hq,
                    int64_t Wq, T* dst) {
  for (int64_t q = 0; q < planes; ++q)
    for (int64_t ph = 0; ph < 2; ++ph)
      for (int64_t pw = 0; pw < 2; ++pw) {
        T* d = dst + (q * 4 + ph * 2 + pw) * Hq * Wq;
        for (int64_t i = 0; i < Hq; ++i)
          for (int64_t j = 0; j < Wq; ++j) {
            const int64_t r = 2 * i + ph - top, c = 2 * j + pw - left;
            d[i * Wq + j] = r >= 0 && r < H && c >= 0 && c < W ? src[(q * H + r) * W + c] : T(0);
          }
      }
}

}  // namespace

KILN_INTRINSIC_WARNINGS_OFF  // GCC 12: false maybe-uninitialized inside the permute intrinsics
void scatter_rows_f32(const float* src, int64_t src_block, int64_t src_stride, int64_t blocks, int64_t rows,
                      int64_t n, float* dst, int64_t dst_block, int64_t dst_stride, int64_t step) {
#if defined(__AVX512F__)
  if (step == 2) {
    // 16 source values fill the even lanes of two 16-lane vectors: spread by a permute, written by
    // stores masked to the even lanes (the odd elements belong to the other phase).
    const __m512i lo_idx = _mm512_set_epi32(7, 7, 6, 6, 5, 5, 4, 4, 3, 3, 2, 2, 1, 1, 0, 0);
    const __m512i hi_idx = _mm512_set_epi32(15, 15, 14, 14, 13, 13, 12, 12, 11, 11, 10, 10, 9, 9, 8, 8);
    // Rows are short (3 to 14 values in the models' stride-2 layers), so the masks are worked out
    // once per call and the loops carry no division.
    const int64_t whole = n / 16 * 16, m = n - whole;
    const __mmask16 load_tail = __mmask16((1u << m) - 1u);
    const uint32_t even_tail = 0x55555555u & ((uint32_t(1) << (2 * m - 1)) - 1u);  // (unused when m == 0)
    for (int64_t b = 0; b < blocks; ++b)
      for (int64_t r = 0; r < rows; ++r) {
        const float* s = src + b * src_block + r * src_stride;
        float* d = dst + b * dst_block + r * dst_stride;
        for (int64_t i = 0; i < whole; i += 16) {
          const __m512 v = _mm512_loadu_ps(s + i);
          _mm512_mask_storeu_ps(d + 2 * i, __mmask16(0x5555), _mm512_permutexvar_ps(lo_idx, v));
          _mm512_mask_storeu_ps(d + 2 * i + 16, __mmask16(0x5555), _mm512_permutexvar_ps(hi_idx, v));
        }
        if (m == 0) continue;
        // Even lanes below 2m - 1 of the 32 destination slots from 2 * whole.
        const __m512 v = _mm512_maskz_loadu_ps(load_tail, s + whole);
        _mm512_mask_storeu_ps(d + 2 * whole, __mmask16(even_tail & 0xFFFFu), _mm512_permutexvar_ps(lo_idx, v));
        if (m > 8) _mm512_mask_storeu_ps(d + 2 * whole + 16, __mmask16(even_tail >> 16), _mm512_permutexvar_ps(hi_idx, v));
      }
    return;
  }
#endif
  scatter_generic(src, src_block, src_stride, blocks, rows, n, dst, dst_block, dst_stride, step);
}
KILN_INTRINSIC_WARNINGS_ON

void scatter_rows_f64(const double* src, int64_t src_block, int64_t src_stride, int64_t blocks, int64_t rows,
                      int64_t n, double* dst, int64_t dst_block, int64_t dst_stride, int64_t step) {
  scatter_generic(src, src_block, src_stride, blocks, rows, n, dst, dst_block, dst_stride, step);
}

void pad_planes_f32(const float* src, int64_t planes, int64_t H, int64_t W, int64_t top, int64_t left, int64_t Hp,
                    int64_t Wp, float* dst) {
#if defined(__AVX512F__)
  const int64_t plane = Hp * Wp;
  const __m512 zero = _mm512_setzero_ps();
  constexpr int64_t kMaxVectors = 128;  // planes up to 2048 values (a 32 x 32 map padded by 1: 73 vectors)
  const int64_t nv = (plane + 15) / 16;
  if (nv <= kMaxVectors && planes >= 4) {
    // Vector v covers padded positions [16v, 16v + 16): lane bits where a source value lands, and
    // how many source values come before position 16v (they are read in padded-position order).
    __mmask16 mask[kMaxVectors];
    int32_t off[kMaxVectors];
    int32_t seen = 0;
    for (int64_t v = 0; v < nv; ++v) {
      uint32_t bits = 0;
      off[v] = seen;
      for (int64_t l = 0; l < 16; ++l) {
        const int64_t pos = 16 * v + l, r = pos / Wp - top, c = pos % Wp - left;
        if (pos < plane && r >= 0 && r < H && c >= 0 && c < W) bits |= 1u << l, ++seen;
      }
      mask[v] = __mmask16(bits);
    }
    const __mmask16 tail = __mmask16((1u << (plane - 16 * (nv - 1))) - 1u);
    for (int64_t q = 0; q < planes; ++q) {
      float* d = dst + q * plane;
      const float* s = src + q * H * W;
      for (int64_t v = 0; v + 1 < nv; ++v) _mm512_storeu_ps(d + 16 * v, _mm512_maskz_expandloadu_ps(mask[v], s + off[v]));
      _mm512_mask_storeu_ps(d + 16 * (nv - 1), tail, _mm512_maskz_expandloadu_ps(mask[nv - 1], s + off[nv - 1]));
    }
    return;
  }
  for (int64_t q = 0; q < planes; ++q) {
    float* d = dst + q * plane;
    const float* s = src + q * H * W;
    int64_t i = 0;
    for (; i + 16 <= top * Wp; i += 16) _mm512_storeu_ps(d + i, zero);
    if (i < top * Wp) _mm512_mask_storeu_ps(d + i, __mmask16((1u << (top * Wp - i)) - 1u), zero);
    for (int64_t h = 0; h < H; ++h) {
      float* row = d + (top + h) * Wp;
      // Output lane c of a 16-wide piece at column c0 takes source column c0 + c - left when that
      // lies in [0, W); the load never touches columns outside the row.
      for (int64_t c0 = 0; c0 < Wp; c0 += 16) {
        const int64_t n = std::min<int64_t>(16, Wp - c0);
        const int64_t lo = std::clamp<int64_t>(left - c0, 0, n), hi = std::clamp<int64_t>(left + W - c0, 0, n);
        const __mmask16 load = __mmask16(((1u << hi) - 1u) & ~((1u << lo) - 1u));
        const __m512 v = _mm512_maskz_loadu_ps(load, s + h * W + c0 - left);
        _mm512_mask_storeu_ps(row + c0, __mmask16((1u << n) - 1u), v);
      }
    }
    i = (top + H) * Wp;
    for (; i + 16 <= plane; i += 16) _mm512_storeu_ps(d + i, zero);
    if (i < plane) _mm512_mask_storeu_ps(d + i, __mmask16((1u << (plane - i)) - 1u), zero);
  }
#else
  pad_generic(src, planes, H, W, top, left, Hp, Wp, dst);
#endif
}

void pad_planes_f64(const double* src, int64_t planes, int64_t H, int64_t W, int64_t top, int64_t left, int64_t Hp,
                    int64_t Wp, double* dst) {
  pad_generic(src, planes, H, W, top, left, Hp, Wp, dst);
}

KILN_INTRINSIC_WARNINGS_OFF  // GCC 12: false maybe-uninitialized inside the permute intrinsics
void split_phases2_f32(const float* src, int64_t planes, int64_t H, int64_t W, int64_t top, int64_t left,
                       int64_t Hq, int64_t Wq, float* dst) {
#if defined(__AVX512F__)
  // Per phase row, chunks of 16 output columns: lane l takes source column base + 2l, so 32 source
  // values are loaded (masked to the columns inside the row, the rest read as zeros) and their even
  // elements kept by one permute. Masks and bases depend on (pw, chunk) only: worked out once.
  constexpr int kMaxChunks = 8;  // rows up to 128 phase columns
  const int64_t chunks = (Wq + 15) / 16;
  if (chunks <= kMaxChunks) {
    const __m512i even = _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0);
    __mmask16 lo[2][kMaxChunks], hi[2][kMaxChunks], out[kMaxChunks];
    int64_t base[2][kMaxChunks];
    for (int64_t k = 0; k < chunks; ++k) {
      out[k] = __mmask16((1u << std::min<int64_t>(16, Wq - 16 * k)) - 1u);
      for (int pw = 0; pw < 2; ++pw) {
        const int64_t b = 32 * k + pw - left;  // source column of lane 0
        uint32_t bits = 0;
        for (int t = 0; t < 32; ++t)
          if (b + t >= 0 && b + t < W) bits |= 1u << t;
        base[pw][k] = b;
        lo[pw][k] = __mmask16(bits & 0xFFFFu);
        hi[pw][k] = __mmask16(bits >> 16);
      }
    }
    const __m512 zero = _mm512_setzero_ps();
    for (int64_t q = 0; q < planes; ++q) {
      const float* s = src + q * H * W;
      for (int64_t ph = 0; ph < 2; ++ph)
        for (int64_t i = 0; i < Hq; ++i) {
          const int64_t r = 2 * i + ph - top;
          for (int pw = 0; pw < 2; ++pw) {
            float* d = dst + (q * 4 + ph * 2 + pw) * Hq * Wq + i * Wq;
            if (r < 0 || r >= H) {
              for (int64_t k = 0; k < chunks; ++k) _mm512_mask_storeu_ps(d + 16 * k, out[k], zero);
              continue;
            }
            const float* row = s + r * W;
            for (int64_t k = 0; k < chunks; ++k) {
              // (masked-off lanes are not read, so the base may lie before the row)
              const __m512 a = _mm512_maskz_loadu_ps(lo[pw][k], row + base[pw][k]);
              const __m512 b = _mm512_maskz_loadu_ps(hi[pw][k], row + base[pw][k] + 16);
              _mm512_mask_storeu_ps(d + 16 * k, out[k], _mm512_permutex2var_ps(a, even, b));
            }
          }
        }
    }
    return;
  }
#endif
  split2_generic(src, planes, H, W, top, left, Hq, Wq, dst);
}
KILN_INTRINSIC_WARNINGS_ON

void split_phases2_f64(const double* src, int64_t planes, int64_t H, int64_t W, int64_t top, int64_t left,
                       int64_t Hq, int64_t Wq, double* dst) {
  split2_generic(src, planes, H, W, top, left, Hq, Wq, dst);
}

}  // namespace KILN_ISA_NAMESPACE
