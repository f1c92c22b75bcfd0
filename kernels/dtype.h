#pragma once
// Element types. DType lives in the kernels layer because kernels switch on it; the tensor layer
// re-uses it as kiln::DType. Half and BFloat16 are stored natively (16 bits) and computed in f32.
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "kiln/kernels/error.h"
#include "kiln/kernels/macros.h"

namespace kiln {

enum class DType : uint8_t { f32, f64, f16, bf16, i64, i32, u8, b8 };
constexpr int kNumDTypes = 8;

// ---- IEEE binary16 ---------------------------------------------------------------------------
KILN_HD uint32_t float_bits(float f) {
#if defined(__CUDA_ARCH__)
  return __float_as_uint(f);
#else
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
#endif
}
KILN_HD float bits_float(uint32_t u) {
#if defined(__CUDA_ARCH__)
  return __uint_as_float(u);
#else
  float f;
  std::memcpy(&f, &u, 4);
  return f;
#endif
}

// float -> half bits, round to nearest even; overflow gives inf, NaN stays NaN.
KILN_HD uint16_t float_to_half_bits(float f) {
  uint32_t x = float_bits(f);
  uint32_t sign = (x >> 16) & 0x8000u;
  uint32_t ax = x & 0x7fffffffu;
  if (ax >= 0x7f800000u) return uint16_t(sign | (ax > 0x7f800000u ? 0x7e00u : 0x7c00u));
  if (ax >= 0x477ff000u) return uint16_t(sign | 0x7c00u);  // rounds to >= 65520: inf
  if (ax < 0x38800000u) {                                 // result is subnormal or zero
    // Add 0.5 (as float) so the hardware rounding does round-to-nearest-even into the
    // subnormal half grid, whose spacing is 2^-24.
    float r = bits_float(ax) + 0.5f;
    return uint16_t(sign | (float_bits(r) - 0x3f000000u));
  }
  uint32_t mant_odd = (ax >> 13) & 1u;
  ax += 0xc8000fffu + mant_odd;  // rebias exponent (-112 << 23) and round
  return uint16_t(sign | (ax >> 13));
}

KILN_HD float half_bits_to_float(uint16_t h) {
  uint32_t sign = uint32_t(h & 0x8000u) << 16;
  uint32_t exp = (h >> 10) & 0x1fu;
  uint32_t mant = h & 0x3ffu;
  if (exp == 0x1f) return bits_float(sign | 0x7f800000u | (mant << 13));
  if (exp == 0) {
    // subnormal or zero: mant * 2^-24
    float v = float(mant) * 5.9604644775390625e-08f;
    return sign ? -v : v;
  }
  return bits_float(sign | ((exp + 112u) << 23) | (mant << 13));
}

// bfloat16: top 16 bits of a float, round to nearest even; NaN stays a quiet NaN.
KILN_HD uint16_t float_to_bf16_bits(float f) {
  uint32_t x = float_bits(f);
  if ((x & 0x7fffffffu) > 0x7f800000u) return uint16_t((x >> 16) | 0x40u);
  x += 0x7fffu + ((x >> 16) & 1u);
  return uint16_t(x >> 16);
}
KILN_HD float bf16_bits_to_float(uint16_t b) { return bits_float(uint32_t(b) << 16); }

struct Half {
  uint16_t bits = 0;
  Half() = default;
  KILN_HD Half(float f) : bits(float_to_half_bits(f)) {}
  KILN_HD operator float() const { return half_bits_to_float(bits); }
  static KILN_HD Half from_bits(uint16_t b) {
    Half h;
    h.bits = b;
    return h;
  }
};

struct BFloat16 {
  uint16_t bits = 0;
  BFloat16() = default;
  KILN_HD BFloat16(float f) : bits(float_to_bf16_bits(f)) {}
  KILN_HD operator float() const { return bf16_bits_to_float(bits); }
  static KILN_HD BFloat16 from_bits(uint16_t b) {
    BFloat16 h;
    h.bits = b;
    return h;
  }
};

// C++ type for each DType, and back.
template <DType D> struct DTypeTraits;
template <> struct DTypeTraits<DType::f32> { using type = float; };
template <> struct DTypeTraits<DType::f64> { using type = double; };
template <> struct DTypeTraits<DType::f16> { using type = Half; };
template <> struct DTypeTraits<DType::bf16> { using type = BFloat16; };
template <> struct DTypeTraits<DType::i64> { using type = int64_t; };
template <> struct DTypeTraits<DType::i32> { using type = int32_t; };
template <> struct DTypeTraits<DType::u8> { using type = uint8_t; };
template <> struct DTypeTraits<DType::b8> { using type = bool; };
template <DType D> using dtype_t = typename DTypeTraits<D>::type;

template <class T> constexpr DType dtype_of();
template <> constexpr DType dtype_of<float>() { return DType::f32; }
template <> constexpr DType dtype_of<double>() { return DType::f64; }
template <> constexpr DType dtype_of<Half>() { return DType::f16; }
template <> constexpr DType dtype_of<BFloat16>() { return DType::bf16; }
template <> constexpr DType dtype_of<int64_t>() { return DType::i64; }
template <> constexpr DType dtype_of<int32_t>() { return DType::i32; }
template <> constexpr DType dtype_of<uint8_t>() { return DType::u8; }
template <> constexpr DType dtype_of<bool>() { return DType::b8; }

// The type arithmetic on T is carried out in: f32 for the 16-bit floats, T otherwise.
template <class T> struct ComputeType { using type = T; };
template <> struct ComputeType<Half> { using type = float; };
template <> struct ComputeType<BFloat16> { using type = float; };
template <class T> using compute_t = typename ComputeType<T>::type;

constexpr int dtype_size(DType d) {
  switch (d) {
    case DType::f32: return 4;
    case DType::f64: return 8;
    case DType::f16: return 2;
    case DType::bf16: return 2;
    case DType::i64: return 8;
    case DType::i32: return 4;
    case DType::u8: return 1;
    case DType::b8: return 1;
  }
  return 0;
}
constexpr bool is_floating(DType d) {
  return d == DType::f32 || d == DType::f64 || d == DType::f16 || d == DType::bf16;
}
constexpr bool is_integral(DType d, bool include_bool = false) {
  return d == DType::i64 || d == DType::i32 || d == DType::u8 || (include_bool && d == DType::b8);
}
const char* dtype_name(DType d);

// Calls f(T{}) with T the C++ type of d: the one switch from a runtime dtype to a template.
template <class F>
decltype(auto) dispatch_dtype(DType d, F&& f) {
  switch (d) {
    case DType::f32: return f(float{});
    case DType::f64: return f(double{});
    case DType::f16: return f(Half{});
    case DType::bf16: return f(BFloat16{});
    case DType::i64: return f(int64_t{});
    case DType::i32: return f(int32_t{});
    case DType::u8: return f(uint8_t{});
    case DType::b8: return f(bool{});
  }
  return f(float{});
}
// Calls f(T{}) for the floating dtypes only (ops computed in floating point); CPU and CUDA kernels.
template <class F>
void dispatch_floating(DType d, const char* op, F&& f) {
  switch (d) {
    case DType::f32: return f(float{});
    case DType::f64: return f(double{});
    case DType::f16: return f(Half{});
    case DType::bf16: return f(BFloat16{});
    default: KILN_FAIL(op, ": kernel called with unsupported dtype ", dtype_name(d));
  }
}
// Calls f(T{}) for every dtype but bool.
template <class F>
void dispatch_numeric(DType d, const char* op, F&& f) {
  if (d == DType::b8) KILN_FAIL(op, ": kernel called with unsupported dtype bool");
  dispatch_dtype(d, [&](auto tag) {
    if constexpr (!std::is_same_v<decltype(tag), bool>) f(tag);
  });
}

// For kernels that compute only in f32 or f64: calls f(double{}) for f64 and f(float{}) for every
// other dtype (the tensor layer hands such kernels f32 data for f16/bf16 inputs).
template <class F>
decltype(auto) dispatch_float_dtype(DType d, F&& f) {
  if (d == DType::f64) return f(double{});
  return f(float{});
}

}  // namespace kiln
