// CUDA indexing kernels (kernels/cuda/indexing.h). Every kernel is a grid-stride loop over int64
// element numbers, so any size launches at most blocks_for() blocks; n == 0 launches nothing.
#include <cuda_runtime.h>

#include <climits>
#include <cub/device/device_radix_sort.cuh>
#include <cub/device/device_reduce.cuh>
#include <cub/device/device_scan.cuh>
#include <type_traits>

#include "kiln/kernels/cuda/check.h"
#include "kiln/kernels/cuda/indexing.h"
#include "kiln/kernels/cuda/indexing_scratch.cuh"

namespace kiln::cuda {
namespace {

using index_util::blocks_for;
using index_util::kThreads;
using Key = unsigned long long;  // destination offsets as sort keys (non-negative)

// Calls f(U{}) with U the unsigned integer of elem_size bytes: moves copy raw bits.
template <class F>
void dispatch_bits(int64_t elem_size, F&& f) {
  switch (elem_size) {
    case 1:
      f(uint8_t{});
      return;
    case 2:
      f(uint16_t{});
      return;
    case 4:
      f(uint32_t{});
      return;
    default:
      f(uint64_t{});
      return;
  }
}

// ---- validation ----

__global__ void bad_index_kernel(const int64_t* __restrict__ idx, int64_t n, int64_t lo, int64_t hi,
                                 Key* __restrict__ first) {
  KILN_GRID_LOOP(i, n) {
    const int64_t v = idx[i];
    if (v < lo || v >= hi) atomicMin(first, Key(i));
  }
}

// ---- combine_indices ----

struct CombineArgs {
  int k = 0;
  const int64_t* idx[kMaxDims] = {};
  int64_t sizes[kMaxDims] = {};
};

__global__ void combine_kernel(CombineArgs a, int64_t n, int64_t* __restrict__ out) {
  KILN_GRID_LOOP(i, n) {
    int64_t flat = 0;
    for (int j = 0; j < a.k; ++j) flat = flat * a.sizes[j] + wrap_index(a.idx[j][i], a.sizes[j]);
    out[i] = flat;
  }
}

// ---- gather ----

template <class U>
__global__ void gather_kernel(IndexGeometry g, const int64_t* __restrict__ idx, const U* __restrict__ data,
                              U* __restrict__ out, int64_t n) {
  KILN_GRID_LOOP(e, n) {
    const IndexOffsets o = index_offsets(g, e);
    const int64_t i = wrap_index(idx[o.idx], g.dim_size);
    out[o.other] = data[o.data + i * g.data_strides[g.dim]];
  }
}

// ---- scatter (Note [Deterministic CUDA scatter]) ----

__global__ void scatter_pairs_kernel(IndexGeometry g, const int64_t* __restrict__ idx, Key* __restrict__ keys,
                                     int64_t* __restrict__ src_offsets, int64_t n) {
  KILN_GRID_LOOP(e, n) {
    const IndexOffsets o = index_offsets(g, e);
    const int64_t i = wrap_index(idx[o.idx], g.dim_size);
    keys[e] = Key(o.data + i * g.data_strides[g.dim]);
    src_offsets[e] = o.other;
  }
}

// Thread i handles the destination keys[i] if it starts its segment; the segment is combined in
// sorted order, i.e. in source position order (scatter_combine, index_math.h).
template <class T>
__global__ void scatter_apply_kernel(ScatterMode mode, const Key* __restrict__ keys,
                                     const int64_t* __restrict__ src_offsets, int64_t n, T* dest,
                                     const T* src, compute_t<T> alpha, bool unit) {
  KILN_GRID_LOOP(i, n) {
    const Key k = keys[i];
    if (i > 0 && keys[i - 1] == k) continue;
    int64_t count = 1;
    while (i + count < n && keys[i + count] == k) ++count;
    const int64_t* offs = src_offsets + i;
    dest[k] = scatter_combine<T>(mode, dest[k], [&](int64_t j) { return src[offs[j]]; }, count, alpha, unit);
  }
}

// ---- row scatter: only the m row indices are sorted ----

__global__ void row_pairs_kernel(const int64_t* __restrict__ idx, int64_t m, int64_t n, Key* __restrict__ keys,
                                 int64_t* __restrict__ rows) {
  KILN_GRID_LOOP(j, m) {
    keys[j] = Key(wrap_index(idx[j], n));
    rows[j] = j;
  }
}

// Element e = ((o * m) + i) * inner + c: column c (fastest, so loads and stores coalesce) of
// sorted row i of outer slice o. Threads whose sorted row starts a segment combine it.
template <class T>
__global__ void scatter_rows_apply_kernel(ScatterMode mode, const Key* __restrict__ keys,
                                          const int64_t* __restrict__ rows, int64_t outer, int64_t n, int64_t m,
                                          int64_t inner, T* dest, const T* src,
                                          compute_t<T> alpha, bool unit) {
  const int64_t total = outer * m * inner;
  KILN_GRID_LOOP(e, total) {
    const int64_t c = e % inner, t = e / inner;
    const int64_t i = t % m, o = t / m;
    const Key k = keys[i];
    if (i > 0 && keys[i - 1] == k) continue;
    int64_t count = 1;
    while (i + count < m && keys[i + count] == k) ++count;
    const int64_t* r = rows + i;
    const T* s = src + o * m * inner + c;
    T* d = dest + (o * n + int64_t(k)) * inner + c;
    *d = scatter_combine<T>(mode, *d, [&](int64_t j) { return s[r[j] * inner]; }, count, alpha, unit);
  }
}

// alpha as scatter_combine wants it.
template <class T>
compute_t<T> combine_alpha(double alpha_f, int64_t alpha_i) {
  using C = compute_t<T>;
  if constexpr (std::is_floating_point_v<C>)
    return C(alpha_f);
  else
    return C(alpha_i);
}

// ---- masks ----

struct MaskBox {
  int ndim = 0;
  int64_t sizes[kMaxDims] = {};
  int64_t out_strides[kMaxDims] = {};
  int64_t mask_strides[kMaxDims] = {};
};

template <class U>
__global__ void masked_fill_kernel(MaskBox b, U* __restrict__ out, const bool* __restrict__ mask, U value, int64_t n) {
  KILN_GRID_LOOP(e, n) {
    int64_t r = e, oo = 0, mo = 0;
    for (int a = b.ndim - 1; a >= 0; --a) {
      const int64_t c = r % b.sizes[a];
      r /= b.sizes[a];
      oo += c * b.out_strides[a];
      mo += c * b.mask_strides[a];
    }
    if (mask[mo]) out[oo] = value;
  }
}

__global__ void mask_flags_kernel(const bool* __restrict__ mask, int64_t* __restrict__ flags, int64_t n) {
  KILN_GRID_LOOP(i, n) flags[i] = mask[i] ? 1 : 0;
}

template <class U>
__global__ void masked_select_kernel(const U* __restrict__ x, const bool* __restrict__ mask,
                                     const int64_t* __restrict__ incl, int64_t n, U* __restrict__ out) {
  KILN_GRID_LOOP(i, n) {
    if (mask[i]) out[incl[i] - 1] = x[i];
  }
}

__global__ void nonzero_kernel(const bool* __restrict__ mask, const int64_t* __restrict__ incl, MaskBox b, int64_t n,
                               int64_t* __restrict__ out) {
  KILN_GRID_LOOP(i, n) {
    if (!mask[i]) continue;
    int64_t* row = out + (incl[i] - 1) * b.ndim;
    int64_t r = i;
    for (int a = b.ndim - 1; a >= 0; --a) {
      row[a] = r % b.sizes[a];
      r /= b.sizes[a];
    }
  }
}

__global__ void one_hot_kernel(const int64_t* __restrict__ idx, int64_t n, int64_t classes, int64_t* __restrict__ out) {
  KILN_GRID_LOOP(i, n) out[i * classes + idx[i]] = 1;
}

void check_geometry(const char* op, const IndexGeometry& g) {
  KILN_CHECK(g.ndim >= 1 && g.ndim <= kMaxDims && g.dim >= 0 && g.dim < g.ndim, op, ": bad geometry (ndim ", g.ndim,
             ", dim ", g.dim, ")");
  for (int a = 0; a < g.ndim; ++a)
    KILN_CHECK(g.idx_strides[a] >= 0 && g.data_strides[a] >= 0 && g.other_strides[a] >= 0, op,
               ": negative strides are not supported (dimension ", a, ")");
}

}  // namespace

int64_t find_bad_index(const int64_t* idx, int64_t n, int64_t lo, int64_t hi, Stream stream) {
  if (n <= 0) return -1;
  index_util::Scratch first(sizeof(Key), stream);
  KILN_CUDA_CHECK(cudaMemsetAsync(first.as<Key>(), 0xFF, sizeof(Key), stream));
  bad_index_kernel<<<blocks_for(n), kThreads, 0, stream>>>(idx, n, lo, hi, first.as<Key>());
  KILN_CUDA_CHECK_LAUNCH("find_bad_index");
  const Key f = index_util::read_back(first.as<Key>(), stream);
  return f == ~Key(0) ? -1 : int64_t(f);
}

int64_t max_index(const int64_t* idx, int64_t n, Stream stream) {
  KILN_CHECK(n > 0 && n < INT_MAX, "cuda::max_index: n = ", n, " must be in [1, 2^31 - 1)");
  size_t temp_bytes = 0;
  KILN_CUDA_CHECK(cub::DeviceReduce::Max(nullptr, temp_bytes, idx, static_cast<int64_t*>(nullptr), int(n), stream));
  index_util::Scratch s(index_util::align256(sizeof(int64_t)) + temp_bytes, stream);
  int64_t* result = s.as<int64_t>();
  void* temp = s.as<unsigned char>() + index_util::align256(sizeof(int64_t));
  KILN_CUDA_CHECK(cub::DeviceReduce::Max(temp, temp_bytes, idx, result, int(n), stream));
  return index_util::read_back(result, stream);
}

void combine_indices(int k, const int64_t* const* idx, const int64_t* sizes, int64_t n, int64_t* out, Stream stream) {
  KILN_CHECK(k >= 0 && k <= kMaxDims, "cuda::combine_indices: k = ", k, " must be in [0, ", kMaxDims, "]");
  if (n <= 0) return;
  CombineArgs a;
  a.k = k;
  for (int j = 0; j < k; ++j) {
    a.idx[j] = idx[j];
    a.sizes[j] = sizes[j];
  }
  combine_kernel<<<blocks_for(n), kThreads, 0, stream>>>(a, n, out);
  KILN_CUDA_CHECK_LAUNCH("combine_indices");
}

void gather(int64_t elem_size, const IndexGeometry& g, const int64_t* idx, const void* data, void* out, Stream stream) {
  check_geometry("cuda::gather", g);
  const int64_t n = g.numel();
  if (n == 0) return;
  dispatch_bits(elem_size, [&](auto tag) {
    using U = decltype(tag);
    gather_kernel<U>
        <<<blocks_for(n), kThreads, 0, stream>>>(g, idx, static_cast<const U*>(data), static_cast<U*>(out), n);
    KILN_CUDA_CHECK_LAUNCH("gather");
  });
}

void scatter(DType dtype, ScatterMode mode, const IndexGeometry& g, const int64_t* idx, void* dest, const void* src,
             double alpha_f, int64_t alpha_i, Stream stream) {
  const char* op = "cuda::scatter";
  check_geometry(op, g);
  const int64_t n = g.numel();
  if (n == 0) return;
  KILN_CHECK(n < INT_MAX, op, ": ", n, " positions exceed the supported 2^31 - 2");
  // Sort only the key bits a destination offset can use.
  uint64_t max_offset = uint64_t(g.dim_size > 0 ? g.dim_size - 1 : 0) * uint64_t(g.data_strides[g.dim]);
  for (int a = 0; a < g.ndim; ++a)
    if (a != g.dim) max_offset += uint64_t(g.sizes[a] - 1) * uint64_t(g.data_strides[a]);
  const int end_bit = index_util::bits_for(max_offset);
  size_t cub_bytes = 0;
  KILN_CUDA_CHECK(cub::DeviceRadixSort::SortPairs(nullptr, cub_bytes, static_cast<const Key*>(nullptr),
                                                  static_cast<Key*>(nullptr), static_cast<const int64_t*>(nullptr),
                                                  static_cast<int64_t*>(nullptr), int(n), 0, end_bit, stream));
  const size_t piece = index_util::align256(size_t(n) * 8);
  index_util::Scratch s(4 * piece + cub_bytes, stream);
  unsigned char* base = s.as<unsigned char>();
  Key* keys_in = reinterpret_cast<Key*>(base);
  Key* keys = reinterpret_cast<Key*>(base + piece);
  int64_t* offs_in = reinterpret_cast<int64_t*>(base + 2 * piece);
  int64_t* offs = reinterpret_cast<int64_t*>(base + 3 * piece);
  void* temp = base + 4 * piece;
  scatter_pairs_kernel<<<blocks_for(n), kThreads, 0, stream>>>(g, idx, keys_in, offs_in, n);
  KILN_CUDA_CHECK_LAUNCH("scatter pairs");
  KILN_CUDA_CHECK(cub::DeviceRadixSort::SortPairs(temp, cub_bytes, static_cast<const Key*>(keys_in), keys,
                                                  static_cast<const int64_t*>(offs_in), offs, int(n), 0, end_bit,
                                                  stream));
  dispatch_dtype(dtype, [&](auto tag) {
    using T = decltype(tag);
    const bool unit = alpha_f == 1.0 && alpha_i == 1;
    const compute_t<T> alpha = combine_alpha<T>(alpha_f, alpha_i);
    scatter_apply_kernel<T><<<blocks_for(n), kThreads, 0, stream>>>(mode, keys, offs, n, static_cast<T*>(dest),
                                                                    static_cast<const T*>(src), alpha, unit);
    KILN_CUDA_CHECK_LAUNCH("scatter apply");
  });
}

void scatter_rows(DType dtype, ScatterMode mode, const int64_t* idx, int64_t outer, int64_t n, int64_t m,
                  int64_t inner, void* dest, const void* src, double alpha_f, int64_t alpha_i, Stream stream) {
  const char* op = "cuda::scatter_rows";
  KILN_CHECK(outer >= 0 && n >= 0 && m >= 0 && inner >= 0, op, ": sizes must be non-negative");
  if (outer == 0 || m == 0 || inner == 0) return;
  KILN_CHECK(m < INT_MAX, op, ": ", m, " indices exceed the supported 2^31 - 2");
  KILN_CHECK(n > 0, op, ": ", m, " indices into an empty dimension");
  const int end_bit = index_util::bits_for(uint64_t(n - 1));
  size_t cub_bytes = 0;
  KILN_CUDA_CHECK(cub::DeviceRadixSort::SortPairs(nullptr, cub_bytes, static_cast<const Key*>(nullptr),
                                                  static_cast<Key*>(nullptr), static_cast<const int64_t*>(nullptr),
                                                  static_cast<int64_t*>(nullptr), int(m), 0, end_bit, stream));
  const size_t piece = index_util::align256(size_t(m) * 8);
  index_util::Scratch s(4 * piece + cub_bytes, stream);
  unsigned char* base = s.as<unsigned char>();
  Key* keys_in = reinterpret_cast<Key*>(base);
  Key* keys = reinterpret_cast<Key*>(base + piece);
  int64_t* rows_in = reinterpret_cast<int64_t*>(base + 2 * piece);
  int64_t* rows = reinterpret_cast<int64_t*>(base + 3 * piece);
  row_pairs_kernel<<<blocks_for(m), kThreads, 0, stream>>>(idx, m, n, keys_in, rows_in);
  KILN_CUDA_CHECK_LAUNCH("scatter_rows pairs");
  KILN_CUDA_CHECK(cub::DeviceRadixSort::SortPairs(base + 4 * piece, cub_bytes, static_cast<const Key*>(keys_in), keys,
                                                  static_cast<const int64_t*>(rows_in), rows, int(m), 0, end_bit,
                                                  stream));
  const int64_t total = outer * m * inner;
  dispatch_dtype(dtype, [&](auto tag) {
    using T = decltype(tag);
    const bool unit = alpha_f == 1.0 && alpha_i == 1;
    scatter_rows_apply_kernel<T><<<blocks_for(total), kThreads, 0, stream>>>(
        mode, keys, rows, outer, n, m, inner, static_cast<T*>(dest), static_cast<const T*>(src),
        combine_alpha<T>(alpha_f, alpha_i), unit);
    KILN_CUDA_CHECK_LAUNCH("scatter_rows apply");
  });
}

void masked_fill(int64_t elem_size, int ndim, const int64_t* sizes, const int64_t* out_strides,
                 const int64_t* mask_strides, void* out, const bool* mask, uint64_t value_bits, Stream stream) {
  KILN_CHECK(ndim >= 0 && ndim <= kMaxDims, "cuda::masked_fill: ndim ", ndim, " above ", kMaxDims);
  MaskBox b;
  b.ndim = ndim;
  int64_t n = 1;
  for (int a = 0; a < ndim; ++a) {
    b.sizes[a] = sizes[a];
    b.out_strides[a] = out_strides[a];
    b.mask_strides[a] = mask_strides[a];
    n *= sizes[a];
  }
  if (n == 0) return;
  dispatch_bits(elem_size, [&](auto tag) {
    using U = decltype(tag);
    masked_fill_kernel<U><<<blocks_for(n), kThreads, 0, stream>>>(b, static_cast<U*>(out), mask, U(value_bits), n);
    KILN_CUDA_CHECK_LAUNCH("masked_fill");
  });
}

int64_t mask_count(const bool* mask, int64_t n, int64_t* incl, Stream stream) {
  if (n <= 0) return 0;
  KILN_CHECK(n < INT_MAX, "cuda::mask_count: ", n, " elements exceed the supported 2^31 - 2");
  size_t temp_bytes = 0;
  KILN_CUDA_CHECK(cub::DeviceScan::InclusiveSum(nullptr, temp_bytes, static_cast<const int64_t*>(nullptr),
                                                static_cast<int64_t*>(nullptr), int(n), stream));
  const size_t piece = index_util::align256(size_t(n) * 8);
  index_util::Scratch s(piece + temp_bytes, stream);
  int64_t* flags = s.as<int64_t>();
  mask_flags_kernel<<<blocks_for(n), kThreads, 0, stream>>>(mask, flags, n);
  KILN_CUDA_CHECK_LAUNCH("mask_count flags");
  KILN_CUDA_CHECK(cub::DeviceScan::InclusiveSum(s.as<unsigned char>() + piece, temp_bytes,
                                                static_cast<const int64_t*>(flags), incl, int(n), stream));
  return index_util::read_back(incl + (n - 1), stream);
}

void masked_select(int64_t elem_size, const void* x, const bool* mask, const int64_t* incl, int64_t n, void* out,
                   Stream stream) {
  if (n <= 0) return;
  dispatch_bits(elem_size, [&](auto tag) {
    using U = decltype(tag);
    masked_select_kernel<U>
        <<<blocks_for(n), kThreads, 0, stream>>>(static_cast<const U*>(x), mask, incl, n, static_cast<U*>(out));
    KILN_CUDA_CHECK_LAUNCH("masked_select");
  });
}

void nonzero_coords(const bool* mask, const int64_t* incl, int ndim, const int64_t* sizes, int64_t* out,
                    Stream stream) {
  KILN_CHECK(ndim >= 1 && ndim <= kMaxDims, "cuda::nonzero_coords: ndim ", ndim, " must be in [1, ", kMaxDims, "]");
  MaskBox b;
  b.ndim = ndim;
  int64_t n = 1;
  for (int a = 0; a < ndim; ++a) {
    b.sizes[a] = sizes[a];
    n *= sizes[a];
  }
  if (n == 0) return;
  nonzero_kernel<<<blocks_for(n), kThreads, 0, stream>>>(mask, incl, b, n, out);
  KILN_CUDA_CHECK_LAUNCH("nonzero");
}

void one_hot(const int64_t* idx, int64_t n, int64_t classes, int64_t* out, Stream stream) {
  if (n <= 0 || classes <= 0) return;
  one_hot_kernel<<<blocks_for(n), kThreads, 0, stream>>>(idx, n, classes, out);
  KILN_CUDA_CHECK_LAUNCH("one_hot");
}

}  // namespace kiln::cuda
