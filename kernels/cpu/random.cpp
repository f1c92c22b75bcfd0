// CPU side of the Philox streams (Note [Philox streams] in kernels/philox.h); the per-element
// formulas are in kernels/random_math.h, shared with kernels/cuda/random.cu (Note [Bit-identical
// samplers]).
#include "kiln/kernels/cpu/random.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

#include "kiln/kernels/convert.h"
#include "kiln/kernels/cpu/parallel.h"
#include "kiln/kernels/philox.h"
#include "kiln/kernels/random_math.h"

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
          o[i] = rnd::uniform_f64(w[0], w[1], lo, hi);
        });
      } else {
        const float flo = float(lo), fw = float(hi - lo), fhi = float(hi);
        const bool degenerate = lo == hi;
        for_each_element<1>(n, seed, offset, [&](int64_t i, const uint32_t* w) {
          o[i] = rnd::uniform_small<T>(w[0], flo, fw, fhi, degenerate);
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
          o[i] = rnd::normal_f64(w[0], w[1], w[2], w[3], mean, std);
        });
      } else {
        const float fm = float(mean), fs = float(std);
        for_each_element<2>(n, seed, offset, [&](int64_t i, const uint32_t* w) {
          o[i] = T(rnd::normal_f32(w[0], w[1], fm, fs));
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
      o[i] = rnd::threshold(w[0], p, vb, va);
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
        o[i] = rnd::threshold(w[0], convert<double>(pr[i]), one, zero);
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
        o[i] = convert<T>(rnd::randint_one_word(w[0], low, range));
      });
    } else {
      for_each_element<2>(n, seed, offset, [&](int64_t i, const uint32_t* w) {
        o[i] = convert<T>(rnd::randint_two_words(w[0], w[1], low, range));
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
