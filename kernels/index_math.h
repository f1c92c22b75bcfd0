#pragma once
// The index arithmetic of the CUDA gathers and scatters (kernels/cuda/indexing.h) and their
// per-destination combine step, as KILN_HD functions so that the CPU tests can run them against the
// CPU kernels (kernels/cpu/indexing.h) on the host.
#include <cstdint>
#include <type_traits>

#include "kiln/kernels/convert.h"
#include "kiln/kernels/dtype.h"
#include "kiln/kernels/loop.h"

namespace kiln {

// One gather or scatter over a box of positions c in sizes[ndim]: the index value at c is
// idx[sum c[a] * idx_strides[a]] (i, wrapped into dim_size when negative); the indexed tensor (x of
// a gather, the destination of a scatter) is at sum_{a != dim} c[a] * data_strides[a] +
// i * data_strides[dim]; the other operand (out of a gather, src of a scatter) at
// sum c[a] * other_strides[a]. Strides in elements, non-negative.
struct IndexGeometry {
  int ndim = 0;
  int dim = 0;
  int64_t dim_size = 0;
  int64_t sizes[kMaxDims] = {};
  int64_t idx_strides[kMaxDims] = {};
  int64_t data_strides[kMaxDims] = {};
  int64_t other_strides[kMaxDims] = {};
  int64_t numel() const {
    int64_t n = 1;
    for (int a = 0; a < ndim; ++a) n *= sizes[a];
    return n;
  }
};

KILN_HD int64_t wrap_index(int64_t i, int64_t size) { return i < 0 ? i + size : i; }

// Offsets of position e (row-major over sizes) into the index, the indexed tensor (without the
// indexed dim's term, which needs the index value) and the other operand.
struct IndexOffsets {
  int64_t idx = 0, data = 0, other = 0;
};
KILN_HD IndexOffsets index_offsets(const IndexGeometry& g, int64_t e) {
  IndexOffsets o;
  for (int a = g.ndim - 1; a >= 0; --a) {
    const int64_t c = e % g.sizes[a];
    e /= g.sizes[a];
    o.idx += c * g.idx_strides[a];
    o.other += c * g.other_strides[a];
    if (a != g.dim) o.data += c * g.data_strides[a];
  }
  return o;
}

enum class ScatterMode {
  assign,     // dest = src; repeated destinations: the last source in position order wins
  add_each,   // scatter_add: dest = T(C(dest) + C(src)) per source (16-bit floats rounded each time)
  add_alpha,  // index_add / index_put(accumulate): summed in compute_t<T> (dest first, then
              // alpha * src in position order), rounded to T once
};

// Products kept apart from the add that follows: the CPU kernels compute them unfused, and nvcc
// would otherwise contract a * b + c into one fma with a different rounding.
KILN_HD float mul_unfused(float a, float b) {
#if defined(__CUDA_ARCH__)
  return __fmul_rn(a, b);
#else
  return a * b;
#endif
}
KILN_HD double mul_unfused(double a, double b) {
#if defined(__CUDA_ARCH__)
  return __dmul_rn(a, b);
#else
  return a * b;
#endif
}
template <class A, class B>
KILN_HD auto mul_unfused(A a, B b) {
  return a * b;
}

// The new value of one destination d that receives the count > 0 sources src_at(0 .. count-1), in
// that (position) order, with exactly the CPU kernels' arithmetic: scatter_loop (assign),
// scatter_add_loop (add_each), index_add_rows / index_copy_rows (add_alpha / assign). alpha is
// compute_t<T>(alpha_f) for floating T, compute_t<T>(alpha_i) otherwise; unit when both are 1.
template <class T, class SrcAt>
KILN_HD T scatter_combine(ScatterMode mode, T d, const SrcAt& src_at, int64_t count, compute_t<T> alpha, bool unit) {
  using C = compute_t<T>;
  if (mode == ScatterMode::assign) return src_at(count - 1);
  if (mode == ScatterMode::add_each) {
    for (int64_t j = 0; j < count; ++j) d = convert<T>(C(d) + C(src_at(j)));
    return d;
  }
  if constexpr (std::is_same_v<T, Half> || std::is_same_v<T, BFloat16>) {
    C acc = C(d);
    for (int64_t j = 0; j < count; ++j) acc = acc + mul_unfused(alpha, C(src_at(j)));
    return T(acc);
  } else if constexpr (std::is_same_v<T, bool>) {
    for (int64_t j = 0; j < count; ++j) d = d || (alpha && src_at(j));
    return d;
  } else {
    for (int64_t j = 0; j < count; ++j) {
      const T s = src_at(j);
      d = unit ? T(d + s) : T(d + mul_unfused(alpha, s));
    }
    return d;
  }
}

}  // namespace kiln
