#pragma once
// Random tensors from the counter-based Philox4x32-10 generator (DESIGN.md section 3). A Generator
// is a (seed, offset) pair; every call reads a fresh stretch of its stream and advances the offset,
// and element i of a call is a pure function of (seed, offset, i), so the values are the same on
// every device and thread count (Note [Philox streams] in kernels/philox.h says exactly which
// words each element uses and how far each call advances the offset).
//
// Every function takes an optional Generator*; null means default_generator(). Functions that create
// a tensor take its Device last (CPU by default); the CUDA samplers give the same values as the CPU. Reserving a stretch
// of the stream is atomic, so threads may share a generator (each call then gets its own stretch,
// in whatever order the calls happen); give each thread its own generator for reproducible streams.
#include <atomic>
#include <cstdint>

#include "kiln/tensor/tensor.h"

namespace kiln {

class Generator {
 public:
  static constexpr uint64_t kDefaultSeed = 67280421310721ull;
  explicit Generator(uint64_t seed = kDefaultSeed) : seed_(seed) {}
  Generator(const Generator& o) : seed_(o.seed_), offset_(o.offset()) {}
  Generator& operator=(const Generator& o) {
    seed_ = o.seed_;
    offset_.store(o.offset());
    return *this;
  }
  // Restarts the stream: seed = s, offset = 0.
  void manual_seed(uint64_t s) {
    seed_ = s;
    offset_.store(0);
  }
  uint64_t seed() const { return seed_; }
  uint64_t offset() const { return offset_.load(); }
  void set_offset(uint64_t offset) { offset_.store(offset); }
  // Reserves `blocks` Philox blocks for one call and returns the offset the call starts at.
  uint64_t advance(uint64_t blocks) { return offset_.fetch_add(blocks); }

 private:
  uint64_t seed_;
  std::atomic<uint64_t> offset_{0};
};

// The process-wide generator used when a call passes no Generator.
Generator& default_generator();
// Reseeds the default generator (offset back to 0).
void manual_seed(uint64_t seed);

// Uniform in [0, 1) of a floating dtype.
Tensor rand(const Shape& shape, DType dtype = DType::f32, Generator* gen = nullptr, Device device = kCPU);
// Standard normal (Box-Muller, cosine branch, see Note [Philox streams]) of a floating dtype.
Tensor randn(const Shape& shape, DType dtype = DType::f32, Generator* gen = nullptr, Device device = kCPU);
// Normal(mean, std), std >= 0.
Tensor normal(double mean, double std, const Shape& shape, DType dtype = DType::f32, Generator* gen = nullptr,
              Device device = kCPU);
// Integers uniform in [low, high) (low < high), any non-bool dtype.
Tensor randint(int64_t low, int64_t high, const Shape& shape, DType dtype = DType::i64, Generator* gen = nullptr,
               Device device = kCPU);
// A random permutation of 0..n-1 (n >= 0), i64. On CUDA it is computed on the CPU (a sort of
// Philox keys) and copied.
Tensor randperm(int64_t n, Generator* gen = nullptr, Device device = kCPU);
// 1 with probability p (in [0, 1]) and 0 otherwise.
Tensor bernoulli(Scalar p, const Shape& shape, DType dtype = DType::f32, Generator* gen = nullptr,
                 Device device = kCPU);
// Elementwise: 1 with probability probs[i] (each in [0, 1]); result has the shape, dtype and device
// of probs. On the CPU a probability outside [0, 1] is an error; on CUDA it is not checked (that
// would need a host synchronisation): below 0 (or NaN) acts as 0, above 1 as 1.
Tensor bernoulli(const Tensor& probs, Generator* gen = nullptr);
// Fills t in place (floating t) and returns it.
Tensor& uniform_(Tensor& t, double lo = 0, double hi = 1, Generator* gen = nullptr);
Tensor& normal_(Tensor& t, double mean = 0, double std = 1, Generator* gen = nullptr);
// Dropout mask: each element is 0 with probability p and 1 / (1 - p) otherwise (p in [0, 1);
// p = 0 gives all ones). Multiplying by it keeps the expected value of the input.
Tensor dropout_mask(const Shape& shape, double p, Generator* gen = nullptr, DType dtype = DType::f32,
                    Device device = kCPU);

}  // namespace kiln
