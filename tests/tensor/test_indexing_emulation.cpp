// The CUDA gather/scatter pipeline emulated on the host, so that its logic is tested on machines
// without a GPU: the geometry the tensor layer builds for the CUDA path (detail::rows_geometry,
// detail::dim_geometry), the position arithmetic (index_offsets) and the per-destination combine
// (scatter_combine) of kernels/index_math.h, and the stable sort by destination of Note
// [Deterministic CUDA scatter] (per element for cuda::scatter, per row for cuda::scatter_rows),
// run with std::stable_sort in place of cub::DeviceRadixSort. The results must equal the CPU ops
// bit for bit.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <numeric>
#include <random>
#include <vector>

#include "kiln/kernels/index_math.h"
#include "kiln/tensor/indexing_check.h"
#include "kiln/tensor/ops.h"
#include "support/fixtures.h"

namespace kiln {
namespace {

using test::kAllDTypes;

// What gather_kernel does, position by position.
void emulate_gather(DType dt, const IndexGeometry& g, const Tensor& idx, const void* data, void* out) {
  dispatch_dtype(dt, [&](auto tag) {
    using T = decltype(tag);
    const T* x = static_cast<const T*>(data);
    T* o = static_cast<T*>(out);
    const int64_t* ix = idx.data<int64_t>();
    for (int64_t e = 0; e < g.numel(); ++e) {
      const IndexOffsets p = index_offsets(g, e);
      o[p.other] = x[p.data + wrap_index(ix[p.idx], g.dim_size) * g.data_strides[g.dim]];
    }
  });
}

// What cuda::scatter does: (destination, source) pairs, stable sort by destination, one combine
// per destination in position order.
void emulate_scatter(DType dt, ScatterMode mode, const IndexGeometry& g, const Tensor& idx, void* dest, const void* src,
                     double alpha_f, int64_t alpha_i) {
  const int64_t n = g.numel();
  const size_t count = static_cast<size_t>(n);
  std::vector<int64_t> keys(count), offs(count), order(count);
  const int64_t* ix = idx.data<int64_t>();
  for (int64_t e = 0; e < n; ++e) {
    const IndexOffsets p = index_offsets(g, e);
    keys[size_t(e)] = p.data + wrap_index(ix[p.idx], g.dim_size) * g.data_strides[g.dim];
    offs[size_t(e)] = p.other;
  }
  std::iota(order.begin(), order.end(), int64_t(0));
  std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return keys[size_t(a)] < keys[size_t(b)]; });
  std::vector<int64_t> sk(count), so(count);
  for (int64_t i = 0; i < n; ++i) {
    sk[size_t(i)] = keys[size_t(order[size_t(i)])];
    so[size_t(i)] = offs[size_t(order[size_t(i)])];
  }
  dispatch_dtype(dt, [&](auto tag) {
    using T = decltype(tag);
    using C = compute_t<T>;
    C alpha;
    if constexpr (std::is_floating_point_v<C>)
      alpha = C(alpha_f);
    else
      alpha = C(alpha_i);
    const bool unit = alpha_f == 1.0 && alpha_i == 1;
    T* d = static_cast<T*>(dest);
    for (int64_t i = 0; i < n;) {
      int64_t count = 1;
      while (i + count < n && sk[size_t(i + count)] == sk[size_t(i)]) ++count;
      const T* sv = static_cast<const T*>(src);
      const int64_t* offs = so.data() + i;
      d[sk[size_t(i)]] =
          scatter_combine<T>(mode, d[sk[size_t(i)]], [&](int64_t j) { return sv[offs[j]]; }, count, alpha, unit);
      i += count;
    }
  });
}

// What cuda::scatter_rows does: stable sort of the m wrapped row indices, then for every outer
// slice, destination row and column one combine over that row's sources in position order.
void emulate_scatter_rows(DType dt, ScatterMode mode, const Tensor& idx, int64_t outer, int64_t n, int64_t m,
                          int64_t inner, void* dest, const void* src, double alpha_f, int64_t alpha_i) {
  const int64_t* ix = idx.data<int64_t>();
  std::vector<int64_t> rows(static_cast<size_t>(m));
  std::iota(rows.begin(), rows.end(), int64_t(0));
  std::stable_sort(rows.begin(), rows.end(),
                   [&](int64_t a, int64_t b) { return wrap_index(ix[a], n) < wrap_index(ix[b], n); });
  dispatch_dtype(dt, [&](auto tag) {
    using T = decltype(tag);
    using C = compute_t<T>;
    C alpha;
    if constexpr (std::is_floating_point_v<C>)
      alpha = C(alpha_f);
    else
      alpha = C(alpha_i);
    const bool unit = alpha_f == 1.0 && alpha_i == 1;
    T* d = static_cast<T*>(dest);
    const T* sv = static_cast<const T*>(src);
    for (int64_t o = 0; o < outer; ++o)
      for (int64_t i = 0; i < m;) {
        const int64_t key = wrap_index(ix[rows[size_t(i)]], n);
        int64_t count = 1;
        while (i + count < m && wrap_index(ix[rows[size_t(i + count)]], n) == key) ++count;
        for (int64_t c = 0; c < inner; ++c) {
          const T* s = sv + o * m * inner + c;
          const int64_t* r = rows.data() + i;
          T& out = d[(o * n + key) * inner + c];
          out = scatter_combine<T>(mode, out, [&](int64_t j) { return s[r[j] * inner]; }, count, alpha, unit);
        }
        i += count;
      }
  });
}

::testing::AssertionResult bits_equal(const Tensor& a0, const Tensor& b0) {
  Tensor a = a0.contiguous(), b = b0.contiguous();
  if (a.dtype() != b.dtype() || a.shape() != b.shape())
    return ::testing::AssertionFailure() << "dtype/shape " << a.shape() << " vs " << b.shape();
  if (a.numel() > 0 && std::memcmp(a.data_ptr(), b.data_ptr(), size_t(a.nbytes())) != 0)
    return ::testing::AssertionFailure() << "bytes differ";
  return ::testing::AssertionSuccess();
}

Tensor random_values(const Shape& s, DType dt, uint64_t seed) {
  std::mt19937_64 g(seed);
  std::normal_distribution<double> nd;
  std::vector<double> v(size_t(s.numel()));
  for (auto& x : v) x = is_floating(dt) ? nd(g) : double(int64_t(g() % 9)) - (dt == DType::u8 ? 0 : 4);
  return from_vector(v, s).to(dt);
}

Tensor random_index(const Shape& s, int64_t n, uint64_t seed) {
  std::mt19937_64 g(seed);
  std::vector<int64_t> v(size_t(s.numel()));
  for (auto& x : v) x = int64_t(g() % uint64_t(n)) - ((g() & 1) ? n : 0);
  return from_vector(v, s);
}

TEST(IndexingEmulation, GathersMatchTheCpu) {
  for (DType dt : kAllDTypes)
    for (int d = 0; d < 3; ++d) {
      // index_select: contiguous x [outer, n, inner], rows geometry.
      Tensor x = random_values({4, 6, 5}, dt, 1 + d);
      Tensor idx = random_index({11}, x.size(d), 2 + d);
      Tensor ref = index_select(x, d, idx);
      Tensor out = empty(ref.shape(), dt);
      int64_t outer = 1, inner = 1;
      for (int a = 0; a < d; ++a) outer *= x.size(a);
      for (int a = d + 1; a < 3; ++a) inner *= x.size(a);
      emulate_gather(dt, detail::rows_geometry(outer, x.size(d), 11, inner), idx, x.data_ptr(), out.data_ptr());
      EXPECT_TRUE(bits_equal(out, ref)) << dtype_name(dt) << " index_select d=" << d;
      // gather from a non-contiguous x, index smaller than x off the gathered dim.
      Tensor xt = random_values({6, 5, 4}, dt, 3).transpose(0, 2);  // [4, 5, 6]
      Shape is{3, 4, 5};
      is[d] = 9;
      Tensor gi = random_index(is, xt.size(d), 4 + d);
      Tensor gref = gather(xt, d, gi);
      Tensor gout = empty(is, dt);
      emulate_gather(dt, detail::dim_geometry(is, d, xt.size(d), xt.strides(), gout.strides()), gi, xt.data_ptr(),
                     gout.data_ptr());
      EXPECT_TRUE(bits_equal(gout, gref)) << dtype_name(dt) << " gather d=" << d;
    }
}

TEST(IndexingEmulation, ScattersMatchTheCpuBitForBit) {
  for (DType dt : kAllDTypes)
    for (int d = 0; d < 3; ++d)
      for (bool add : {false, true}) {
        // scatter / scatter_add into a non-contiguous destination, from a non-contiguous src.
        Tensor base = random_values({5, 4, 6}, dt, 10 + d).transpose(0, 2);  // [6, 4, 5]
        Shape is{3, 4, 2};
        is[d] = 23;  // many duplicates
        Tensor idx = random_index(is, base.size(d), 20 + d);
        Shape ss = is;
        ss[2] += 1;
        Tensor src = random_values(ss, dt, 30 + d).narrow(2, 0, is[2]);
        Tensor ref = add ? scatter_add(base, d, idx, src) : scatter(base, d, idx, src);
        Tensor dest = base.contiguous().transpose(0, 1).contiguous().transpose(0, 1);  // other strides
        emulate_scatter(dt, add ? ScatterMode::add_each : ScatterMode::assign,
                        detail::dim_geometry(is, d, dest.size(d), dest.strides(), src.strides()), idx, dest.data_ptr(),
                        src.data_ptr(), 1.0, 1);
        EXPECT_TRUE(bits_equal(dest, ref)) << dtype_name(dt) << " d=" << d << " add=" << add;
      }
}

TEST(IndexingEmulation, IndexAddAndIndexPutMatchTheCpuBitForBit) {
  for (DType dt : kAllDTypes)
    for (int d = 0; d < 3; ++d) {
      Tensor x = random_values({5, 7, 4}, dt, 40 + d);
      Shape ss{5, 7, 4};
      ss[d] = 31;
      Tensor src = random_values(ss, dt, 50 + d);
      Tensor idx = random_index({31}, x.size(d), 60 + d);
      int64_t outer = 1, inner = 1;
      for (int a = 0; a < d; ++a) outer *= x.size(a);
      for (int a = d + 1; a < 3; ++a) inner *= x.size(a);
      for (Scalar alpha : {Scalar(1), is_floating(dt) ? Scalar(0.3) : Scalar(dt == DType::b8 ? 1 : 3)}) {
        Tensor ref = index_add(x, d, idx, src, alpha);
        Tensor dest = x.clone();
        emulate_scatter(dt, ScatterMode::add_alpha, detail::rows_geometry(outer, x.size(d), 31, inner), idx,
                        dest.data_ptr(), src.data_ptr(), alpha.to_double(), alpha.to_int());
        EXPECT_TRUE(bits_equal(dest, ref)) << dtype_name(dt) << " index_add d=" << d;
        Tensor dest_rows = x.clone();
        emulate_scatter_rows(dt, ScatterMode::add_alpha, idx, outer, x.size(d), 31, inner, dest_rows.data_ptr(),
                             src.data_ptr(), alpha.to_double(), alpha.to_int());
        EXPECT_TRUE(bits_equal(dest_rows, ref)) << dtype_name(dt) << " index_add rows d=" << d;
      }
      if (d != 0) continue;
      // index_put with one index along dim 0: the flat rows are the wrapped index itself.
      Tensor rows = idx.clone();
      for (int64_t i = 0; i < 31; ++i) rows.data<int64_t>()[i] = wrap_index(idx.data<int64_t>()[i], x.size(0));
      for (bool acc : {false, true}) {
        Tensor ref = index_put(x, {idx}, src, acc);
        Tensor dest = x.clone();
        emulate_scatter(dt, acc ? ScatterMode::add_alpha : ScatterMode::assign,
                        detail::rows_geometry(1, x.size(0), 31, 28), rows, dest.data_ptr(), src.data_ptr(), 1.0, 1);
        EXPECT_TRUE(bits_equal(dest, ref)) << dtype_name(dt) << " index_put accumulate=" << acc;
        Tensor dest_rows = x.clone();
        emulate_scatter_rows(dt, acc ? ScatterMode::add_alpha : ScatterMode::assign, idx, 1, x.size(0), 31, 28,
                             dest_rows.data_ptr(), src.data_ptr(), 1.0, 1);
        EXPECT_TRUE(bits_equal(dest_rows, ref)) << dtype_name(dt) << " index_put rows accumulate=" << acc;
      }
    }
}

}  // namespace
}  // namespace kiln
