#pragma once
// Order-preserving unsigned sort keys (Note [CUDA sort keys] in kernels/cuda/sort.h), shared by
// the CUDA radix sorts and the CPU test that checks them against Note [Sort order] in
// kernels/cpu/sort.h: for values a, b of one dtype, sort_key(a) < sort_key(b) exactly when a sorts
// before b ascending, and the keys are equal exactly when a and b are equal (NaN equals NaN,
// -0.0 equals 0.0). 8-byte dtypes get 64-bit keys, the others 32-bit keys (16-bit floats are keyed
// through f32).
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "kiln/kernels/dtype.h"

namespace kiln {

template <class T>
using SortKey = std::conditional_t<sizeof(T) == 8, unsigned long long, unsigned int>;

// The key bits a radix sort must look at: u8 and bool only use their low 8 bits (also when the
// key is complemented for a descending sort, which orders the low 8 bits in reverse).
template <class T>
constexpr int sort_key_bits() {
  if constexpr (sizeof(T) == 1)
    return 8;
  else
    return int(sizeof(SortKey<T>) * 8);
}

template <class T>
KILN_HD SortKey<T> sort_key(T v) {
  if constexpr (std::is_same_v<T, double>) {
    double f = v;
    if (f != f) return ~0ull;  // every NaN: the one largest key
    if (f == 0.0) f = 0.0;     // -0.0 sorts as +0.0
    unsigned long long u;
#if defined(__CUDA_ARCH__)
    u = static_cast<unsigned long long>(__double_as_longlong(f));
#else
    std::memcpy(&u, &f, 8);
#endif
    // Negative numbers: all bits flipped (larger magnitude, smaller key); others: sign bit set.
    return (u >> 63) ? ~u : (u | (1ull << 63));
  } else if constexpr (std::is_same_v<T, float> || std::is_same_v<T, Half> || std::is_same_v<T, BFloat16>) {
    float f = float(v);
    if (f != f) return ~0u;
    if (f == 0.0f) f = 0.0f;
    const unsigned int u = float_bits(f);
    return (u >> 31) ? ~u : (u | 0x80000000u);
  } else if constexpr (std::is_same_v<T, int64_t>) {
    return static_cast<unsigned long long>(v) ^ (1ull << 63);
  } else if constexpr (std::is_same_v<T, int32_t>) {
    return static_cast<unsigned int>(v) ^ 0x80000000u;
  } else {  // uint8_t, bool
    return static_cast<unsigned int>(v);
  }
}

}  // namespace kiln
