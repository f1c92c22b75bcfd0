#pragma once
// Per-element formulas of the random samplers (the table of Note [Philox streams] in
// kernels/philox.h), shared by kernels/cpu/random.cpp and kernels/cuda/random.cu so that both
// devices turn the same Philox words into the same values.
//
// Note [Bit-identical samplers]
// Every formula here is made of integer operations and single IEEE operations (+, -, *, /, sqrt,
// compares, conversions), which both devices round the same way, plus vm::log and vm::cos
// (kernels/cpu/vec_math.h), which are themselves written from such operations. Two things would
// still break bit-equality and are ruled out where the files are compiled:
// - contraction of a * b + c into one fused multiply-add: nvcc does it by default, and GCC does
//   where the target has FMA, so kernels/cuda/random.cu is compiled with --fmad=false and
//   kernels/cpu/random.cpp with -ffp-contract=off (kernels/CMakeLists.txt);
// - libm / CUDA math library differences: the f32 normal uses vm::log / vm::cos instead of
//   std::log / std::cos. The f64 normal still uses the double std::log / std::cos of each device
//   (glibc vs CUDA's libdevice), so it agrees to about one ulp, not bit for bit.
#include <cmath>
#include <cstdint>
#include <type_traits>

#include "kiln/kernels/convert.h"
#include "kiln/kernels/cpu/vec_math.h"
#include "kiln/kernels/dtype.h"
#include "kiln/kernels/philox.h"

namespace kiln::rnd {

// Significant bits of a uniform of element type T (24 for f32, 11 for f16, 8 for bf16).
// (A variable, not a function: nvcc refuses host constexpr functions in device code.)
template <class T>
constexpr int kUniformBits = std::is_same_v<T, Half> ? 11 : std::is_same_v<T, BFloat16> ? 8 : 24;

// Uniform in [lo, hi) for f32 / f16 / bf16 from one word: flo = float(lo), fw = float(hi - lo).
// Rounding to the dtype may land on hi; that value is folded back to lo to keep [lo, hi).
template <class T>
KILN_HD T uniform_small(uint32_t w, float flo, float fw, float fhi, bool degenerate) {
  const float v = flo + fw * philox_uniform_bits(w, kUniformBits<T>);
  const T t = T(v);
  return float(compute_t<T>(t)) < fhi || degenerate ? t : T(flo);
}
// Uniform in [lo, hi) for f64 from two words.
KILN_HD double uniform_f64(uint32_t w0, uint32_t w1, double lo, double hi) {
  const double v = lo + (hi - lo) * philox_u53(w0, w1);
  return v < hi ? v : lo;
}

// Standard normal for f32 / f16 / bf16 from two words (Box-Muller, cosine branch), scaled:
// fm + fs * z, in f32 (the caller rounds to the dtype).
KILN_HD float normal_f32(uint32_t w0, uint32_t w1, float fm, float fs) {
  const float u1 = philox_u24(w0), u2 = philox_u24(w1);
  const float z = std::sqrt(-2.0f * vm::log(1.0f - u1)) * vm::cos(6.2831853f * u2);
  return fm + fs * z;
}
// Normal for f64 from four words.
KILN_HD double normal_f64(uint32_t w0, uint32_t w1, uint32_t w2, uint32_t w3, double mean, double sd) {
  const double u1 = philox_u53(w0, w1), u2 = philox_u53(w2, w3);
  const double z = std::sqrt(-2.0 * std::log(1.0 - u1)) * std::cos(6.283185307179586 * u2);
  return mean + sd * z;
}

// bernoulli(p) / dropout: below when the 24-bit uniform of w is < p, else above.
template <class T>
KILN_HD T threshold(uint32_t w, double p, T below, T above) {
  return double(philox_u24(w)) < p ? below : above;
}

// Integers in [low, low + range): one word when range <= 2^32, else two.
KILN_HD int64_t randint_one_word(uint32_t w, int64_t low, uint64_t range) {
  return int64_t(uint64_t(low) + ((uint64_t(w) * range) >> 32));
}
KILN_HD int64_t randint_two_words(uint32_t w0, uint32_t w1, int64_t low, uint64_t range) {
  return int64_t(uint64_t(low) + (uint64_t(w0) << 32 | w1) % range);
}

}  // namespace kiln::rnd
