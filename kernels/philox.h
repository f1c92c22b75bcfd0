#pragma once
// Philox4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3", SC 2011) and the
// scalar formulas that turn its words into samples. Everything here is KILN_HD so the CPU and the
// CUDA kernels compute bit-identical streams.
//
// Note [Philox streams]
// A generator is a pair (seed, offset). Each call that draws n elements with W words per element
// (W is fixed by the distribution and dtype, see the table below) reads the word stream
//
//   word(j) = philox4x32_10(counter = (lo32(b), hi32(b), 0, 0), key = (lo32(seed), hi32(seed)))[j % 4]
//             with b = offset + j / 4 (64-bit block number, wrapping),
//
// and element i of the call (row-major over the output) is a pure function of the W words
// word(i * W) .. word(i * W + W - 1). So the value of every element depends only on (seed, offset, i):
// the same on every device, thread count and split of the work. After the call the generator's
// offset advances by philox_blocks(n, W) = ceil(n * W / 4) blocks, so the next call starts on a fresh
// block. Two calls of n1 and n2 elements give the same values as one call of n1 + n2 elements when
// n1 * W is a multiple of 4.
//
//   distribution                     W   formula (u24, u53... below)
//   uniform f32 / f16 / bf16         1   lo + (hi - lo) * u  with u from the top 24/11/8 bits
//   uniform f64                      2   lo + (hi - lo) * u53(w0, w1)
//   normal f32 / f16 / bf16          2   Box-Muller, cosine branch: sqrt(-2 ln(1 - u1)) cos(2 pi u2)
//   normal f64                       4   the same with u53 uniforms (w0, w1) and (w2, w3)
//   bernoulli / dropout (any dtype)  1   1 when u24(w0) < p (dropout keeps when u24(w0) >= p)
//   randint, range <= 2^32           1   low + (w0 * range) >> 32
//   randint, larger range            2   low + ((w0 << 32 | w1) mod range)
//   randperm(n)                      2   sort 0..n-1 by the 64-bit key (w0 << 32 | w1), ties by index
//
// The words, and every sample made from them (uniform, bernoulli, dropout, randint, randperm, f32 /
// f16 / bf16 normals), are bit-identical on every device: the formulas are in kernels/random_math.h
// (Note [Bit-identical samplers]). f64 normals go through the double log and cos of each device's
// math library, whose last bit may differ.
#include <cstdint>

#include "kiln/kernels/macros.h"

namespace kiln {

constexpr uint32_t kPhiloxM0 = 0xD2511F53u;
constexpr uint32_t kPhiloxM1 = 0xCD9E8D57u;
constexpr uint32_t kPhiloxW0 = 0x9E3779B9u;  // golden ratio
constexpr uint32_t kPhiloxW1 = 0xBB67AE85u;  // sqrt(3) - 1

struct Philox4 {
  uint32_t v[4];
};

KILN_HD void philox_mulhilo(uint32_t a, uint32_t b, uint32_t& hi, uint32_t& lo) {
  uint64_t p = uint64_t(a) * uint64_t(b);
  hi = uint32_t(p >> 32);
  lo = uint32_t(p);
}

// One Philox4x32 block: 10 rounds over counter c with key k (the key is bumped between rounds).
KILN_HD Philox4 philox4x32_10(uint32_t c0, uint32_t c1, uint32_t c2, uint32_t c3, uint32_t k0, uint32_t k1) {
  for (int r = 0; r < 10; ++r) {
    if (r > 0) {
      k0 += kPhiloxW0;
      k1 += kPhiloxW1;
    }
    uint32_t hi0, lo0, hi1, lo1;
    philox_mulhilo(kPhiloxM0, c0, hi0, lo0);
    philox_mulhilo(kPhiloxM1, c2, hi1, lo1);
    uint32_t n0 = hi1 ^ c1 ^ k0, n1 = lo1, n2 = hi0 ^ c3 ^ k1, n3 = lo0;
    c0 = n0;
    c1 = n1;
    c2 = n2;
    c3 = n3;
  }
  return Philox4{{c0, c1, c2, c3}};
}

// Block number `block` of the stream of `seed` (Note [Philox streams]).
KILN_HD Philox4 philox_block(uint64_t seed, uint64_t block) {
  return philox4x32_10(uint32_t(block), uint32_t(block >> 32), 0u, 0u, uint32_t(seed), uint32_t(seed >> 32));
}

// Blocks a call of n elements with W words each consumes.
KILN_HD uint64_t philox_blocks(uint64_t n, uint32_t words_per_element) {
  return (n * words_per_element + 3) / 4;
}

// ---- words -> samples
// Uniform in [0, 1) with `bits` significant bits (24 for f32, 11 for f16, 8 for bf16), so the value
// is exactly representable in the target dtype and rounding can never produce 1.
KILN_HD float philox_uniform_bits(uint32_t w, int bits) {
  return float(w >> (32 - bits)) * (1.0f / float(1u << bits));
}
KILN_HD float philox_u24(uint32_t w) { return float(w >> 8) * 5.9604644775390625e-08f; }  // 2^-24
KILN_HD double philox_u53(uint32_t w0, uint32_t w1) {
  uint64_t x = (uint64_t(w0) << 32 | w1) >> 11;
  return double(x) * 1.1102230246251565e-16;  // 2^-53
}

}  // namespace kiln
