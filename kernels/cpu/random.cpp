// CPU side of the Philox streams (Note [Philox streams] in kernels/philox.h).
#include "kiln/kernels/cpu/random.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

#include "kiln/kernels/convert.h"
#include "kiln/kernels/cpu/parallel.h"
#include "kiln/kernels/philox.h"

namespace kiln::cpu {
namespace {

constexpr int64_t kRandomGrainBlocks = 4096;

// Calls f(i, words) for every element i < n, words pointing at its W words of the stream.
// Work is split by whole Philox blocks, each computed once.
template <uint32_t W, class F>
void for_each_element(int64_t n, uint64_t seed, uint64_t offset, F&& f) {
  static_assert(W == 1 || W == 2 || W == 4);
  constexpr int64_t per_block = 4 / W;
  const int64_t nblocks = int64_t(philox_blocks(uint64_t(n), W));
  parallel_for(0, nblocks, kRandomGrainBlocks, [&](int64_t bb, int64_t be) {
    for (int64_t b = bb; b < be; ++b) {
      Philox4 r = philox_block(seed, offset + uint64_t(b));
      for (int64_t k = 0; k < per_block; ++k) {
        int64_t i = b * per_block + k;
        if (i < n) f(i, r.v + k * W);
      }
    }
  });
}

template <class T>
constexpr int uniform_bits() {
  if constexpr (std::is_same_v<T, Half>) return 11;
  if constexpr (std::is_same_v<T, BFloat16>) return 8;
  return 24;
}

template <class T>
constexpr bool is_float_type() {
  return std::is_floating_point_v<compute_t<T>>;
}

}  // namespace

void random_uniform(DType d, void* out, int64_t n, uint64_t seed, uint64_t offset, double lo, double hi) {
  dispatch_dtype(d, [&](auto tag) {
    using T = decltype(tag);
    if constexpr (is_float_type<T>()) {
      T* o = static_cast<T*>(out);
      if constexpr (std::is_same_v<T, double>) {
        for_each_element<2>(n, seed, offset, [&](int64_t i, const uint32_t* w) {
          double v = lo + (hi - lo) * philox_u53(w[0], w[1]);
          o[i] = v < hi ? v : lo;
        });
      } else {
        const float flo = float(lo), fw = float(hi - lo);
        for_each_element<1>(n, seed, offset, [&](int64_t i, const uint32_t* w) {
          float v = flo + fw * philox_uniform_bits(w[0], uniform_bits<T>());
          T t = T(v);
          // Rounding to the dtype may land on hi; fold it back to lo to keep [lo, hi).
          o[i] = float(compute_t<T>(t)) < float(hi) || lo == hi ? t : T(flo);
        });
      }
    }
  });
}

void random_normal(DType d, void* out, int64_t n, uint64_t seed, uint64_t offset, double mean, double std) {
  dispatch_dtype(d, [&](auto tag) {
    using T = decltype(tag);
    if constexpr (is_float_type<T>()) {
      T* o = static_cast<T*>(out);
      if constexpr (std::is_same_v<T, double>) {
        for_each_element<4>(n, seed, offset, [&](int64_t i, const uint32_t* w) {
          double u1 = philox_u53(w[0], w[1]), u2 = philox_u53(w[2], w[3]);
          double z = std::sqrt(-2.0 * std::log(1.0 - u1)) * std::cos(6.283185307179586 * u2);
          o[i] = mean + std * z;
        });
      } else {
        const float fm = float(mean), fs = float(std);
        for_each_element<2>(n, seed, offset, [&](int64_t i, const uint32_t* w) {
          float u1 = philox_u24(w[0]), u2 = philox_u24(w[1]);
          float z = std::sqrt(-2.0f * std::log(1.0f - u1)) * std::cos(6.2831853f * u2);
          o[i] = T(fm + fs * z);
        });
      }
    }
  });
}

void random_threshold(DType d, void* out, int64_t n, uint64_t seed, uint64_t offset, double p, double below,
                      double above) {
  dispatch_dtype(d, [&](auto tag) {
    using T = decltype(tag);
    T* o = static_cast<T*>(out);
    const T vb = convert<T>(below), va = convert<T>(above);
    for_each_element<kBernoulliWords>(n, seed, offset, [&](int64_t i, const uint32_t* w) {
      o[i] = double(philox_u24(w[0])) < p ? vb : va;
    });
  });
}

void random_bernoulli_tensor(DType d, void* out, DType pd, const void* prob, int64_t n, uint64_t seed,
                             uint64_t offset) {
  dispatch_dtype(d, [&](auto tag) {
    using T = decltype(tag);
    dispatch_dtype(pd, [&](auto ptag) {
      using P = decltype(ptag);
      T* o = static_cast<T*>(out);
      const P* pr = static_cast<const P*>(prob);
      const T one = convert<T>(1), zero = convert<T>(0);
      for_each_element<kBernoulliWords>(n, seed, offset, [&](int64_t i, const uint32_t* w) {
        o[i] = double(philox_u24(w[0])) < convert<double>(pr[i]) ? one : zero;
      });
    });
  });
}

void random_int(DType d, void* out, int64_t n, uint64_t seed, uint64_t offset, int64_t low, uint64_t range) {
  dispatch_dtype(d, [&](auto tag) {
    using T = decltype(tag);
    T* o = static_cast<T*>(out);
    if (randint_words(range) == 1) {
      for_each_element<1>(n, seed, offset, [&](int64_t i, const uint32_t* w) {
        uint64_t r = (uint64_t(w[0]) * range) >> 32;
        o[i] = convert<T>(int64_t(uint64_t(low) + r));
      });
    } else {
      for_each_element<2>(n, seed, offset, [&](int64_t i, const uint32_t* w) {
        uint64_t r = (uint64_t(w[0]) << 32 | w[1]) % range;
        o[i] = convert<T>(int64_t(uint64_t(low) + r));
      });
    }
  });
}

void random_perm(int64_t* out, int64_t n, uint64_t seed, uint64_t offset) {
  std::vector<uint64_t> key(static_cast<size_t>(n));
  for_each_element<kRandpermWords>(n, seed, offset, [&](int64_t i, const uint32_t* w) {
    key[size_t(i)] = uint64_t(w[0]) << 32 | w[1];
  });
  std::iota(out, out + n, int64_t(0));
  std::sort(out, out + n, [&](int64_t a, int64_t b) {
    return key[size_t(a)] != key[size_t(b)] ? key[size_t(a)] < key[size_t(b)] : a < b;
  });
}

}  // namespace kiln::cpu
