// sort, argsort, topk, unique: the sorted dim is moved last and made contiguous, so the kernels
// see independent contiguous rows.
#include "kiln/tensor/sort.h"

#include "kiln/kernels/cpu/sort.h"
#include "kiln/tensor/creation.h"

#if KILN_HAVE_CUDA
#include "kiln/kernels/cuda/runtime.h"
#include "kiln/kernels/cuda/sort.h"
#endif

namespace kiln {
namespace {

// x with dim d moved last, contiguous: rows of the sorted dim.
Tensor rows_last(const Tensor& x, int d) { return (d == x.dim() - 1 ? x : x.transpose(d, -1)).contiguous(); }
// Inverse of rows_last for a result computed in that layout.
Tensor from_rows_last(const Tensor& t, int d) { return d == t.dim() - 1 ? t : t.transpose(d, -1).contiguous(); }

}  // namespace

ValuesIndices sort(const Tensor& x, int64_t dim, bool descending, bool stable) {
  check_defined(x, "sort", "x");
  if (x.dim() == 0) {
    wrap_dim(dim, 0, "sort");
    return {x.clone(), zeros({}, DType::i64, x.device())};
  }
  int d = wrap_dim(dim, x.dim(), "sort");
  Tensor xr = rows_last(x, d);
  Tensor values = empty(xr.shape(), x.dtype(), x.device());
  Tensor indices = empty(xr.shape(), DType::i64, x.device());
  int64_t n = x.size(d);
  if (xr.numel() > 0) {
    switch (x.device().type) {
      case DeviceType::CPU:
        cpu::sort_rows(x.dtype(), xr.data_ptr(), xr.numel() / n, n, descending, values.data_ptr(),
                       indices.data<int64_t>());
        break;
      case DeviceType::CUDA:
#if KILN_HAVE_CUDA
        // Always stable, as the CPU (Note [CUDA sort keys]).
        cuda::sort_rows(x.dtype(), xr.data_ptr(), xr.numel() / n, n, descending, values.data_ptr(),
                        indices.data<int64_t>(), cuda::prepare(x.device().index));
        break;
#endif
        unsupported_device("sort", x.device());
    }
  }
  return {from_rows_last(values, d), from_rows_last(indices, d)};
}

Tensor argsort(const Tensor& x, int64_t dim, bool descending, bool stable) {
  return sort(x, dim, descending, stable).indices;
}

ValuesIndices topk(const Tensor& x, int64_t k, int64_t dim, bool largest, bool sorted) {
  check_defined(x, "topk", "x");
  Tensor xs = x.dim() == 0 ? x.reshape({1}) : x;
  int d = wrap_dim(dim, xs.dim(), "topk");
  int64_t n = xs.size(d);
  KILN_CHECK(k >= 0 && k <= n, "topk: k ", k, " is out of range for dimension ", d, " of size ", n,
             " (expected 0 <= k <= ", n, ")");
  Tensor xr = rows_last(xs, d);
  Shape s = xr.shape();
  s.back() = k;
  Tensor values = empty(s, x.dtype(), x.device());
  Tensor indices = empty(s, DType::i64, x.device());
  if (values.numel() > 0) {
    switch (x.device().type) {
      case DeviceType::CPU:
        cpu::topk_rows(x.dtype(), xr.data_ptr(), xr.numel() / n, n, k, largest, values.data_ptr(),
                       indices.data<int64_t>());
        break;
      case DeviceType::CUDA:
#if KILN_HAVE_CUDA
        cuda::topk_rows(x.dtype(), xr.data_ptr(), xr.numel() / n, n, k, largest, values.data_ptr(),
                        indices.data<int64_t>(), cuda::prepare(x.device().index));
        break;
#endif
        unsupported_device("topk", x.device());
    }
  }
  values = from_rows_last(values, d);
  indices = from_rows_last(indices, d);
  if (x.dim() == 0) return {values.reshape({}), indices.reshape({})};
  return {values, indices};
}

UniqueResult unique(const Tensor& x, bool sorted, bool return_inverse, bool return_counts) {
  check_defined(x, "unique", "x");
  switch (x.device().type) {
    case DeviceType::CPU: {
      Tensor flat = x.reshape({-1}).contiguous();
      int64_t n = flat.numel();
      Tensor sv = empty({n}, x.dtype());
      Tensor perm = empty({n}, DType::i64);
      cpu::sort_rows(x.dtype(), flat.data_ptr(), n > 0 ? 1 : 0, n, false, sv.data_ptr(), perm.data<int64_t>());
      Tensor values = empty({n}, x.dtype());
      UniqueResult r;
      if (return_inverse) r.inverse = empty(x.shape(), DType::i64);
      if (return_counts) r.counts = empty({n}, DType::i64);
      int64_t u = cpu::unique_sorted(x.dtype(), sv.data_ptr(), perm.data<int64_t>(), n, values.data_ptr(),
                                     return_inverse ? r.inverse.data<int64_t>() : nullptr,
                                     return_counts ? r.counts.data<int64_t>() : nullptr);
      r.values = values.narrow(0, 0, u).clone();
      if (return_counts) r.counts = r.counts.narrow(0, 0, u).clone();
      return r;
    }
    case DeviceType::CUDA: {
#if KILN_HAVE_CUDA
      Tensor flat = x.reshape({-1}).contiguous();
      int64_t n = flat.numel();
      Tensor sv = empty({n}, x.dtype(), x.device());
      Tensor perm = empty({n}, DType::i64, x.device());
      cuda::Stream stream = cuda::prepare(x.device().index);
      cuda::sort_rows(x.dtype(), flat.data_ptr(), n > 0 ? 1 : 0, n, false, sv.data_ptr(), perm.data<int64_t>(), stream);
      Tensor values = empty({n}, x.dtype(), x.device());
      UniqueResult r;
      if (return_inverse) r.inverse = empty(x.shape(), DType::i64, x.device());
      if (return_counts) r.counts = empty({n}, DType::i64, x.device());
      // One synchronisation: the number of distinct values sizes the results.
      int64_t u = cuda::unique_sorted(x.dtype(), sv.data_ptr(), perm.data<int64_t>(), n, values.data_ptr(),
                                      return_inverse ? r.inverse.data<int64_t>() : nullptr,
                                      return_counts ? r.counts.data<int64_t>() : nullptr, stream);
      r.values = values.narrow(0, 0, u).clone();
      if (return_counts) r.counts = r.counts.narrow(0, 0, u).clone();
      return r;
#endif
      unsupported_device("unique", x.device());
    }
  }
  return {};
}

}  // namespace kiln
