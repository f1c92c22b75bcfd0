// CUDA side of the Philox streams (Note [Philox streams] in kernels/philox.h). One thread computes
// one Philox block (4 words) and writes the 4 / W elements it holds, exactly the split of the CPU's
// for_each_element, with the formulas of kernels/random_math.h. This file is compiled with
// --fmad=false (kernels/CMakeLists.txt; Note [Bit-identical samplers]): a fused multiply-add would
// round differently from the CPU's separate multiply and add.
#include <cuda_runtime.h>

#include "kiln/kernels/convert.h"
#include "kiln/kernels/cuda/check.h"
#include "kiln/kernels/cuda/random.h"
#include "kiln/kernels/philox.h"
#include "kiln/kernels/random_math.h"

namespace kiln::cuda {
namespace {

constexpr int kThreads = 256;
constexpr int64_t kMaxBlocks = 65536;

// f(i, w) for every element i < n, w pointing at its W words; grid-stride over Philox blocks.
template <uint32_t W, class F>
__global__ void __launch_bounds__(kThreads) philox_kernel(int64_t n, uint64_t seed, uint64_t offset, F f) {
  constexpr int64_t kPer = 4 / W;
  const int64_t nblocks = (n + kPer - 1) / kPer;
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  for (int64_t b = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; b < nblocks; b += stride) {
    const Philox4 r = philox_block(seed, offset + uint64_t(b));
#pragma unroll
    for (int64_t k = 0; k < kPer; ++k) {
      const int64_t i = b * kPer + k;
      if (i < n) f(i, r.v + k * W);
    }
  }
}

template <uint32_t W, class F>
void launch(int64_t n, uint64_t seed, uint64_t offset, F f, Stream s) {
  if (n <= 0) return;
  constexpr int64_t kPer = 4 / W;
  const int64_t nblocks = (n + kPer - 1) / kPer;
  int64_t grid = (nblocks + kThreads - 1) / kThreads;
  grid = grid > kMaxBlocks ? kMaxBlocks : grid;
  philox_kernel<W, F><<<unsigned(grid), kThreads, 0, s>>>(n, seed, offset, f);
  KILN_CUDA_CHECK_LAUNCH("random");
}

// The per-element functors (device code cannot take host lambdas without --extended-lambda).
template <class T>
struct UniformSmall {
  T* o;
  float flo, fw, fhi;
  bool degenerate;
  __device__ void operator()(int64_t i, const uint32_t* w) const {
    o[i] = rnd::uniform_small<T>(w[0], flo, fw, fhi, degenerate);
  }
};
struct UniformF64 {
  double* o;
  double lo, hi;
  __device__ void operator()(int64_t i, const uint32_t* w) const { o[i] = rnd::uniform_f64(w[0], w[1], lo, hi); }
};
template <class T>
struct NormalSmall {
  T* o;
  float fm, fs;
  __device__ void operator()(int64_t i, const uint32_t* w) const { o[i] = T(rnd::normal_f32(w[0], w[1], fm, fs)); }
};
struct NormalF64 {
  double* o;
  double mean, sd;
  __device__ void operator()(int64_t i, const uint32_t* w) const {
    o[i] = rnd::normal_f64(w[0], w[1], w[2], w[3], mean, sd);
  }
};
template <class T>
struct Threshold {
  T* o;
  double p;
  T below, above;
  __device__ void operator()(int64_t i, const uint32_t* w) const { o[i] = rnd::threshold(w[0], p, below, above); }
};
template <class T>
struct BernoulliTensor {
  T* o;
  const T* prob;
  __device__ void operator()(int64_t i, const uint32_t* w) const {
    o[i] = rnd::threshold(w[0], convert<double>(prob[i]), convert<T>(1), convert<T>(0));
  }
};
template <class T, bool kTwoWords>
struct RandInt {
  T* o;
  int64_t low;
  uint64_t range;
  __device__ void operator()(int64_t i, const uint32_t* w) const {
    if constexpr (kTwoWords) o[i] = convert<T>(rnd::randint_two_words(w[0], w[1], low, range));
    else o[i] = convert<T>(rnd::randint_one_word(w[0], low, range));
  }
};

template <class T>
constexpr bool is_float_type() {
  return std::is_floating_point_v<compute_t<T>>;
}

}  // namespace

void random_uniform(DType d, void* out, int64_t n, uint64_t seed, uint64_t offset, double lo, double hi, Stream s) {
  KILN_CHECK(is_floating(d), "cuda::random_uniform: floating dtype expected, got ", dtype_name(d));
  dispatch_dtype(d, [&](auto tag) {
    using T = decltype(tag);
    if constexpr (std::is_same_v<T, double>) {
      launch<2>(n, seed, offset, UniformF64{static_cast<double*>(out), lo, hi}, s);
    } else if constexpr (is_float_type<T>()) {
      launch<1>(n, seed, offset,
                UniformSmall<T>{static_cast<T*>(out), float(lo), float(hi - lo), float(hi), lo == hi}, s);
    }
  });
}

void random_normal(DType d, void* out, int64_t n, uint64_t seed, uint64_t offset, double mean, double std, Stream s) {
  KILN_CHECK(is_floating(d), "cuda::random_normal: floating dtype expected, got ", dtype_name(d));
  dispatch_dtype(d, [&](auto tag) {
    using T = decltype(tag);
    if constexpr (std::is_same_v<T, double>) {
      launch<4>(n, seed, offset, NormalF64{static_cast<double*>(out), mean, std}, s);
    } else if constexpr (is_float_type<T>()) {
      launch<2>(n, seed, offset, NormalSmall<T>{static_cast<T*>(out), float(mean), float(std)}, s);
    }
  });
}

void random_threshold(DType d, void* out, int64_t n, uint64_t seed, uint64_t offset, double p, double below,
                      double above, Stream s) {
  dispatch_dtype(d, [&](auto tag) {
    using T = decltype(tag);
    launch<1>(n, seed, offset, Threshold<T>{static_cast<T*>(out), p, convert<T>(below), convert<T>(above)}, s);
  });
}

void random_bernoulli_tensor(DType d, void* out, const void* prob, int64_t n, uint64_t seed, uint64_t offset,
                             Stream s) {
  dispatch_dtype(d, [&](auto tag) {
    using T = decltype(tag);
    launch<1>(n, seed, offset, BernoulliTensor<T>{static_cast<T*>(out), static_cast<const T*>(prob)}, s);
  });
}

void random_int(DType d, void* out, int64_t n, uint64_t seed, uint64_t offset, int64_t low, uint64_t range,
                Stream s) {
  KILN_CHECK(range >= 1, "cuda::random_int: empty range");
  dispatch_dtype(d, [&](auto tag) {
    using T = decltype(tag);
    if (range <= (uint64_t(1) << 32)) launch<1>(n, seed, offset, RandInt<T, false>{static_cast<T*>(out), low, range}, s);
    else launch<2>(n, seed, offset, RandInt<T, true>{static_cast<T*>(out), low, range}, s);
  });
}

}  // namespace kiln::cuda
