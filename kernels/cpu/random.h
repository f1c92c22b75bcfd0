#pragma once
// CPU random kernels over the Philox streams of Note [Philox streams] (kernels/philox.h). Each
// writes n contiguous elements; element i depends only on (seed, offset, i), so the work is split
// across threads freely. `offset` is the generator's offset before the call; the caller advances it
// by philox_blocks(n, words) with the words-per-element the function names.
#include <cstdint>

#include "kiln/kernels/dtype.h"

namespace kiln::cpu {

// Words per element of each distribution (the table in Note [Philox streams]).
constexpr uint32_t uniform_words(DType d) { return d == DType::f64 ? 2 : 1; }
constexpr uint32_t normal_words(DType d) { return d == DType::f64 ? 4 : 2; }
constexpr uint32_t randint_words(uint64_t range) { return range <= (uint64_t(1) << 32) ? 1 : 2; }
constexpr uint32_t kBernoulliWords = 1;
constexpr uint32_t kRandpermWords = 2;

// Uniform in [lo, hi) for a floating dtype d.
void random_uniform(DType d, void* out, int64_t n, uint64_t seed, uint64_t offset, double lo, double hi);
// Normal(mean, std) for a floating dtype d.
void random_normal(DType d, void* out, int64_t n, uint64_t seed, uint64_t offset, double mean, double std);
// out[i] = u(i) < p ? below : above, with u(i) uniform [0, 1) from 24 bits; any dtype d.
// bernoulli(p) is (below, above) = (1, 0); a dropout mask is (0, 1 / (1 - p)).
void random_threshold(DType d, void* out, int64_t n, uint64_t seed, uint64_t offset, double p, double below,
                      double above);
// out[i] = u(i) < prob[i] ? 1 : 0 with prob (dtype pd, n contiguous values) and out of dtype d.
void random_bernoulli_tensor(DType d, void* out, DType pd, const void* prob, int64_t n, uint64_t seed,
                             uint64_t offset);
// Integers uniform in [low, low + range) (range >= 1), any dtype d.
void random_int(DType d, void* out, int64_t n, uint64_t seed, uint64_t offset, int64_t low, uint64_t range);
// A random permutation of 0..n-1.
void random_perm(int64_t* out, int64_t n, uint64_t seed, uint64_t offset);

}  // namespace kiln::cpu
