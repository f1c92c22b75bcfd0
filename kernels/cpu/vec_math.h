#pragma once
// Vectorisable single-precision math: exp, log, log1p, expm1, tanh, sigmoid, sin, cos, erf, erfc,
// gelu.
//
// Note [Vectorisable math]
// libm's float functions are opaque calls, so a loop over expf() never vectorises. These versions
// are straight-line code (range reduction, a polynomial, exponent arithmetic on the bit pattern)
// with every special case handled by a select (`c ? a : b`) instead of a branch, so GCC turns a
// loop over them into SIMD code in the AVX2 / AVX-512 copies of kernels/cpu/vec/*.cpp. Each is
// within a few ulp of the correctly rounded result over its whole domain (tests/tensor/
// test_elementwise.cpp sweeps them against double libm). They are KILN_HD so that the CUDA
// backend can compute bit-for-bit the same values. f64 uses libm (see kernels/scalar_ops.h).
#include <cmath>
#include <cstdint>

#include "kiln/kernels/dtype.h"

namespace kiln::vm {

constexpr float kInf = __builtin_inff();
constexpr float kNaN = __builtin_nanf("");

KILN_HD float fabs_(float x) { return bits_float(float_bits(x) & 0x7fffffffu); }
// |mag| with the sign of sgn.
KILN_HD float copysign_(float mag, float sgn) {
  return bits_float((float_bits(mag) & 0x7fffffffu) | (float_bits(sgn) & 0x80000000u));
}
// Nearest integer (ties to even) of x as a float, for |x| < 2^22: adding 1.5 * 2^23 pushes the
// fraction bits out of the significand and the hardware rounds.
KILN_HD float round_small(float x) {
  const float kMagic = 12582912.0f;
  return (x + kMagic) - kMagic;
}
// 2^n for integer n in [-126, 128] (128 gives inf), built from the exponent field.
KILN_HD float pow2i(int32_t n) { return bits_float(uint32_t(n + 127) << 23); }

// exp(r) - 1 - r for |r| <= ln2/2 (minimax polynomial of degree 7, Cephes' expf).
KILN_HD float expm1_poly(float r) {
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  return p * (r * r);
}

// Round-to-integer by the shifter 1.5 * 2^23: for |v| < 2^22, v + kShifter has the nearest
// integer of v in its low significand bits, so the integer is read from the bit pattern (no float
// to int conversion, and no undefined behaviour for NaN).
constexpr float kShifter = 12582912.0f;
KILN_HD int32_t shifted_int(float shifted) { return int32_t(float_bits(shifted)) - 0x4B400000; }

// exp(r) for |r| <= ln2/2 + a little.
KILN_HD float exp_reduced(float r) { return expm1_poly(r) + r + 1.0f; }

// e * 2^n for e in [0.5, 2] and n in [-152, 128]: two exact power-of-two factors, so that
// subnormal results are rounded once and n = 128 overflows to inf.
KILN_HD float scale_pow2(float e, int32_t n) {
  int32_t n1 = n >> 1;
  return e * pow2i(n1) * pow2i(n - n1);
}

// exp(hi + lo): hi + lo = n ln2 + r with |r| <= ln2/2, where r = (hi - n ln2) + lo keeps the
// bits of lo that the rounded sum hi + lo loses, exp(r) by a polynomial, then scaled by 2^n.
// Note [Fast vectorised exp]: the clamps are written `v < c ? v : c` (the operand order of the
// x86 min/max instructions) and n is read from the shifter's bits, so GCC emits ~30 vector
// instructions per 16 values with no masked fix-up paths; NaN is restored by the last select.
KILN_HD float exp_hl(float hi, float lo) {
  float h = hi < 88.76f ? hi : 88.76f;
  h = h > -104.0f ? h : -104.0f;
  float l = hi == h ? lo : 0.0f;  // a clamped argument overflows / underflows whatever lo is
  float sh = (h + l) * 1.44269504088896341f + kShifter;
  float n = sh - kShifter;
  // hi - n ln2 first: ln2 is split in two, the high part has 9 significant bits so n * it is exact.
  float r = h - n * 0.693359375f;
  r = r - n * -2.12194440e-4f + l;
  float res = scale_pow2(exp_reduced(r), shifted_int(sh));
  return hi != hi ? hi : res;
}
KILN_HD float exp(float x) {
  float h = x < 88.76f ? x : 88.76f;
  h = h > -104.0f ? h : -104.0f;
  float sh = h * 1.44269504088896341f + kShifter;
  float n = sh - kShifter;
  float r = h - n * 0.693359375f;
  r = r - n * -2.12194440e-4f;
  float res = scale_pow2(exp_reduced(r), shifted_int(sh));
  return x != x ? x : res;
}

// log: x = 2^e m with m in [sqrt(1/2), sqrt(2)), log(m) = f - f^2/2 + f^3 P(f) with f = m - 1.
KILN_HD float log(float x) {
  bool sub = x < 1.17549435e-38f;  // subnormal (or zero / negative: fixed up below)
  float xs = sub ? x * 8388608.0f : x;
  uint32_t u = float_bits(xs);
  int32_t e = int32_t((u >> 23) & 0xffu) - 126 - (sub ? 23 : 0);
  float m = bits_float((u & 0x007fffffu) | 0x3f000000u);  // [0.5, 1)
  bool lo = m < 0.707106781186547524f;
  e = lo ? e - 1 : e;
  float f = lo ? m + m - 1.0f : m - 1.0f;
  float z = f * f;
  float p = 7.0376836292e-2f;
  p = p * f - 1.1514610310e-1f;
  p = p * f + 1.1676998740e-1f;
  p = p * f - 1.2420140846e-1f;
  p = p * f + 1.4249322787e-1f;
  p = p * f - 1.6668057665e-1f;
  p = p * f + 2.0000714765e-1f;
  p = p * f - 2.4999993993e-1f;
  p = p * f + 3.3333331174e-1f;
  float fe = float(e);
  float y = f * z * p + fe * -2.12194440e-4f - 0.5f * z;
  float res = (f + y) + fe * 0.693359375f;
  res = x == kInf ? x : res;
  res = x < 0.0f ? kNaN : res;
  res = x == 0.0f ? -kInf : res;
  return x != x ? x : res;
}

// log1p: with u = 1 + x rounded, log1p(x) = log(u) * x / (u - 1) corrects the rounding of u
// (W. Kahan's method); exact x when u == 1.
KILN_HD float log1p(float x) {
  float u = 1.0f + x;
  float d = u - 1.0f;
  float res = d == 0.0f ? x : vm::log(u) * (x / d);
  return x == kInf ? x : res;
}

// expm1: x = n ln2 + r, expm1(x) = 2^n expm1(r) + (2^n - 1). For n = 128 (the result
// overflows) 2^n itself is not a float: 2 (2^127 exp(r)) overflows to inf instead.
KILN_HD float expm1(float x) {
  float xc = x > 88.76f ? 88.76f : x;
  xc = xc < -25.0f ? -25.0f : xc;  // expm1(-25) rounds to -1
  float n = round_small(xc * 1.44269504088896341f);
  float r = xc - n * 0.693359375f;
  r = r - n * -2.12194440e-4f;
  float em = expm1_poly(r) + r;
  int32_t ni = int32_t(n);
  bool big = ni > 127;
  float s = pow2i(big ? 127 : ni);
  float res = big ? (s * (em + 1.0f)) * 2.0f : s * em + (s - 1.0f);
  return x != x ? x : res;
}

// tanh: odd polynomial for |x| < 0.625, 1 - 2 / (exp(2|x|) + 1) with the sign of x beyond.
KILN_HD float tanh(float x) {
  float ax = fabs_(x);
  float z = x * x;
  float p = -5.70498872745e-3f;
  p = p * z + 2.06390887954e-2f;
  p = p * z - 5.37397155531e-2f;
  p = p * z + 1.33314422036e-1f;
  p = p * z - 3.33332819422e-1f;
  float small = x + x * z * p;
  float ac = ax > 10.0f ? 10.0f : ax;
  float large = copysign_(1.0f - 2.0f / (vm::exp(ac + ac) + 1.0f), x);
  return ax < 0.625f ? small : large;
}

// sigmoid: e = exp(-|x|) never overflows; 1 / (1 + e) for x >= 0, e / (1 + e) below.
KILN_HD float sigmoid(float x) {
  float e = vm::exp(-fabs_(x));
  float s = 1.0f / (1.0f + e);
  return x >= 0.0f ? s : e * s;
}

// sin and cos share the reduction x = n pi/2 + r, |r| <= pi/4. It is carried out in double with
// pi/2 split in two (33 + 53 bits), so r is exact to far below float precision for |x| up to
// kTrigMaxArg; larger arguments are computed by the caller with libm (see trig_needs_libm).
constexpr float kTrigMaxArg = 1.0e6f;
KILN_HD bool trig_needs_libm(float x) { return !(fabs_(x) <= kTrigMaxArg) && x == x && fabs_(x) != kInf; }

KILN_HD float sin_poly(float r, float z) {  // sin(r), z = r^2
  float p = -1.9515295891e-4f;
  p = p * z + 8.3321608736e-3f;
  p = p * z - 1.6666654611e-1f;
  return r + r * z * p;
}
KILN_HD float cos_poly(float z) {  // cos(r), z = r^2
  float p = 2.443315711809948e-5f;
  p = p * z - 1.388731625493765e-3f;
  p = p * z + 4.166664568298827e-2f;
  return 1.0f - 0.5f * z + z * z * p;
}
// Quadrant q (of n) and reduced argument r.
KILN_HD float trig_reduce(float x, int32_t& q) {
  double xd = double(x);
  const double kMagic = 6755399441055744.0;  // 1.5 * 2^52
  double n = (xd * 0.63661977236758134308 + kMagic) - kMagic;
  double r = xd - n * 1.57079632673412561417e+00;  // pi/2 high part, 33 significant bits
  r = r - n * 6.07710050650619224932e-11;          // the rest of pi/2
  q = int32_t(n);
  return float(r);
}
KILN_HD float sin(float x) {
  int32_t q;
  float r = trig_reduce(x, q);
  float z = r * r;
  float s = sin_poly(r, z), c = cos_poly(z);
  float v = (q & 1) ? c : s;
  v = (q & 2) ? -v : v;
  return fabs_(x) == kInf ? kNaN : v;
}
KILN_HD float cos(float x) {
  int32_t q;
  float r = trig_reduce(x, q);
  float z = r * r;
  float s = sin_poly(r, z), c = cos_poly(z);
  float v = (q & 1) ? s : c;
  v = ((q + 1) & 2) ? -v : v;
  return fabs_(x) == kInf ? kNaN : v;
}

// erfc for x >= 0 (relative error ~1e-7 everywhere): t = 1 / (1 + x/2),
// erfc(x) = t exp(-x^2 + P(t)), the Chebyshev fit of Numerical Recipes (section 6.2). The caller
// passes x^2 as sq_hi + sq_lo with sq_hi exact, so that exp sees it without the rounding error of
// a float x^2, which would cost ~x^2 ulp.
KILN_HD float erfc_pos_sq(float x, float sq_hi, float sq_lo) {
  float t = 1.0f / (1.0f + 0.5f * x);
  float p = 0.17087277f;
  p = p * t - 0.82215223f;
  p = p * t + 1.48851587f;
  p = p * t - 1.13520398f;
  p = p * t + 0.27886807f;
  p = p * t - 0.18628806f;
  p = p * t + 0.09678418f;
  p = p * t + 0.37409196f;
  p = p * t + 1.00002368f;
  p = p * t - 1.26551223f;
  return t * exp_hl(-sq_hi, p - sq_lo);
}
// x^2 = hi + lo with hi exact: xh keeps the top 12 significant bits of x, so xh^2 fits a float.
KILN_HD void square_split(float x, float& hi, float& lo) {
  float xh = bits_float(float_bits(x) & 0xfffff000u);
  hi = xh * xh;
  lo = (x - xh) * (x + xh);
}
KILN_HD float erfc_pos(float x) {
  float xc = x > 10.5f ? 10.5f : x;  // erfc(10.5) is below the smallest float
  float hi, lo;
  square_split(xc, hi, lo);
  return erfc_pos_sq(xc, hi, lo);
}
// erf for |x| < 0.8: odd Taylor polynomial (its terms decrease, no cancellation).
KILN_HD float erf_small(float x) {
  float z = x * x;
  float p = -1.63658447e-7f;  // 2/sqrt(pi) (-1)^k / (k! (2k+1)), k = 9 .. 0
  p = p * z + 1.64621144e-06f;
  p = p * z - 1.49256504e-05f;
  p = p * z + 1.20553330e-04f;
  p = p * z - 8.54832702e-04f;
  p = p * z + 5.22397763e-03f;
  p = p * z - 2.68661706e-02f;
  p = p * z + 1.12837917e-01f;
  p = p * z - 3.76126389e-01f;
  p = p * z + 1.12837917e+00f;
  return x * p;
}
// erf: erf_small below 0.8, 1 - erfc(|x|) with the sign of x beyond.
KILN_HD float erf(float x) {
  float ax = fabs_(x);
  float large = copysign_(1.0f - erfc_pos(ax), x);
  float res = ax < 0.8f ? erf_small(x) : large;
  return x != x ? x : res;
}
// erfc on the whole line: erfc(-x) = 2 - erfc(x).
KILN_HD float erfc(float x) {
  float e = erfc_pos(fabs_(x));
  float res = x < 0.0f ? 2.0f - e : e;
  return x != x ? x : res;
}

// a * b + c where it cancels (c ~ -a b), as exactly as a fused multiply-add: the FMA instruction
// where the target has one, else Dekker's exact product (Veltkamp splits), which stays vectorisable
// where a call to fmaf would not.
KILN_HD float fma_cancel(float a, float b, float c) {
#if defined(__FMA__) || defined(__CUDA_ARCH__)
  return std::fma(a, b, c);
#else
  float p = a * b;
  float ca = 4097.0f * a, cb = 4097.0f * b;
  float ah = ca - (ca - a), bh = cb - (cb - b);
  float al = a - ah, bl = b - bh;
  float err = ((ah * bh - p) + ah * bl + al * bh) + al * bl;  // a b - p, exactly
  return (p + c) + err;
#endif
}

// gelu(x) = x Phi(x), Phi the normal CDF, within a few ulp everywhere (including the far negative
// tail, where the result is tiny and 1 + erf(x/sqrt2) would cancel).
//
// Note [Fast gelu]
// One formula for both signs: q = Phi(-|x|) = erfc(|x|/sqrt2) / 2, then gelu = x q for x <= 0
// and x - |x| q for x > 0 (q <= 1/2, so its error is not amplified). With t = 1 / (1 + k|x|),
//   erfc(|x|/sqrt2) = t exp(-x^2/2 + P(t)),
// P a degree-9 polynomial fitted (in double, relative error of erfc < 8e-8 for |x| <= 14.5) in
// powers of t - 0.6, which keeps the float evaluation error small. Three details keep the result
// within 3 ulp for x > 0 and 7 ulp for -13 <= x < 0 (and ~12 subnormal ulp further out):
// - x^2/2 enters exp as h/2 + l/2 with h + l = x^2 exactly (an FMA gives l),
//   so exp does not see the rounding error of x^2, which would cost ~x^2/2 ulp in the tail;
// - t's own rounding error rho (t = (1 + rho) / d exactly, computed with the residual of d and of
//   the division) is fed back to first order: erfc changes by S(t) rho with S = 1 + t P'(t), a
//   smooth function of t that a line approximates well enough (near x = 0, S ~ 2.3 would
//   otherwise cost ~2 ulp);
// - q is formed as (t exp(r)) 2^(n+64) by exponent arithmetic, which is exact because that value
//   is normal, then scaled by 2^-64, so a subnormal result is rounded only once more.
// exp(r) is a plain Horner polynomial here (one instruction less than exp_reduced's form).
// |x| is clamped to 14.5 (beyond it q underflows to 0): +inf gives inf, -inf gives -inf * 0 = NaN
// as in PyTorch, NaN propagates through x.
KILN_HD float gelu(float x) {
  uint32_t ab = float_bits(x) & 0x7fffffffu;
  ab = ab < 0x41680000u ? ab : 0x41680000u;  // min(|x|, 14.5) on the bit patterns (NaN -> 14.5)
  float ax = bits_float(ab);
  float h = ax * ax;
  float l = fma_cancel(ax, ax, -h);
  const float k = 0.353553385f;
  float d = 1.0f + k * ax;
  float t = 1.0f / d;
  float dl = fma_cancel(k, ax, 1.0f - d);                 // d's rounding error
  float rho = fma_cancel(-t, dl, fma_cancel(-t, d, 1.0f));  // relative error of t
  float s = t - 0.6f;
  float p = 1.440579295e-01f;
  p = p * s + 1.016267762e-01f;
  p = p * s - 2.325367481e-01f;
  p = p * s - 7.105171680e-02f;
  p = p * s + 2.894247770e-01f;
  p = p * s - 1.090211235e-02f;
  p = p * s - 4.089311659e-01f;
  p = p * s + 7.028943300e-02f;
  p = p * s + 1.371420503e+00f;
  p = p * s - 5.357598066e-01f;
  float hi = -0.5f * h;
  float lo = p - 0.5f * l + (0.975f + 1.282f * t) * rho;
  float sh = (hi + lo) * 1.44269504088896341f + kShifter;
  float n = sh - kShifter;
  float r = hi - n * 0.693359375f;
  r = r - n * -2.12194440e-4f + lo;
  // exp(r) by Horner (Taylor coefficients to r^7: |r| <= 0.36 keeps the error below 2^-26).
  float e = 1.9875691500e-4f;
  e = e * r + 1.3981999507e-3f;
  e = e * r + 8.3334519073e-3f;
  e = e * r + 4.1665795894e-2f;
  e = e * r + 1.6666665459e-1f;
  e = e * r + 5.0000001201e-1f;
  e = e * r + 1.0f;
  e = e * r + 1.0f;
  float m = t * e;
  int32_t ni = shifted_int(sh) + 63;  // -1: q = erfc / 2; +64: kept normal, undone below
  float q = bits_float(float_bits(m) + (uint32_t(ni) << 23)) * 5.42101086e-20f;  // 2^-64
  return x <= 0.0f ? x * q : x - ax * q;
}

}  // namespace kiln::vm
