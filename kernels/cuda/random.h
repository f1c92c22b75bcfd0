#pragma once
// CUDA random kernels: the device twins of kernels/cpu/random.h over the same Philox streams
// (Note [Philox streams] in kernels/philox.h), with the same per-element formulas
// (kernels/random_math.h), so the same (seed, offset) gives bit-identical values on both devices
// (Note [Bit-identical samplers] names the one exception, f64 normals). Each writes n contiguous
// elements of device memory asynchronously on `stream`; the caller advances the generator's offset
// by philox_blocks(n, words) with the words of cpu::uniform_words etc. randperm has no CUDA kernel:
// the tensor layer computes it on the CPU and copies.
#include <cstdint>

#include "kiln/kernels/cuda/stream.h"
#include "kiln/kernels/dtype.h"

namespace kiln::cuda {

// Uniform in [lo, hi) for a floating dtype d.
void random_uniform(DType d, void* out, int64_t n, uint64_t seed, uint64_t offset, double lo, double hi,
                    Stream stream);
// Normal(mean, std) for a floating dtype d.
void random_normal(DType d, void* out, int64_t n, uint64_t seed, uint64_t offset, double mean, double std,
                   Stream stream);
// out[i] = u(i) < p ? below : above (u from 24 bits); any dtype d.
void random_threshold(DType d, void* out, int64_t n, uint64_t seed, uint64_t offset, double p, double below,
                      double above, Stream stream);
// out[i] = u(i) < prob[i] ? 1 : 0; prob is n contiguous values of the same dtype d as out (the
// tensor layer's bernoulli(probs) returns probs' dtype). Probabilities are not checked on the
// device: below 0 (or NaN) acts as 0 and above 1 as 1, which is what the comparison gives.
void random_bernoulli_tensor(DType d, void* out, const void* prob, int64_t n, uint64_t seed, uint64_t offset,
                             Stream stream);
// Integers uniform in [low, low + range) (range >= 1), any dtype d.
void random_int(DType d, void* out, int64_t n, uint64_t seed, uint64_t offset, int64_t low, uint64_t range,
                Stream stream);

}  // namespace kiln::cuda
