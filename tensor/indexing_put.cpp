// Accumulating and advanced indexing: index_add, index_put, index, one_hot, embedding and its
// backward. All the adds go through cpu::index_add_rows (Note [Deterministic accumulation]).
#include <vector>

#include "kiln/kernels/cpu/indexing.h"
#include "kiln/tensor/creation.h"
#include "kiln/tensor/indexing.h"
#include "kiln/tensor/indexing_check.h"
#include "kiln/tensor/elementwise.h"  // zero_
#include "kiln/tensor/iterator.h"

#if KILN_HAVE_CUDA
#include "kiln/kernels/cuda/embedding_backward.h"
#endif

namespace kiln {
namespace {

// Runs fn on a contiguous tensor holding self's values, then writes them back into self if it
// had to be copied: the row kernels want contiguous destinations.
template <class F>
void update_contiguous(const Tensor& self, const char* op, F&& fn) {
  check_writable(self, op);
  Tensor tmp = self.contiguous();
  fn(tmp);
  if (!tmp.is_same(self)) Tensor(self).copy_(tmp);
  self.bump_version();
}

// The index tensors of index_put / index, resolved: bool masks expanded into their nonzero()
// coordinates, all indices broadcast together, validated and combined into one flat row index
// over the first k dims of x.
struct FlatIndex {
  Tensor rows;   // i64 [B...] flat row numbers into x viewed as [P, R]
  Shape bshape;  // B
  int k = 0;     // number of indexed dims
  int64_t P = 1, R = 1;
};

FlatIndex flatten_indices(const Tensor& x, const std::vector<Tensor>& indices, const char* op) {
  KILN_CHECK(!indices.empty(), op, ": at least one index tensor is required");
  std::vector<Tensor> idx;
  int k = 0;
  for (size_t j = 0; j < indices.size(); ++j) {
    const Tensor& t = indices[j];
    check_defined(t, op, "indices");
    check_same_device(x, t, op);
    if (t.dtype() == DType::b8) {
      KILN_CHECK(k + t.dim() <= x.dim(), op, ": boolean index ", j, " of shape ", t.shape(), " indexes beyond the ",
                 x.dim(), " dimensions of x (shape ", x.shape(), ")");
      for (int a = 0; a < t.dim(); ++a)
        KILN_CHECK(t.size(a) == x.size(k + a), op, ": boolean index ", j, " has shape ", t.shape(),
                   " which does not match x's dimensions starting at ", k, " (x shape ", x.shape(), ")");
      Tensor nz = nonzero(t);
      for (int a = 0; a < t.dim(); ++a) idx.push_back(nz.select(1, a));
      k += t.dim();
    } else {
      idx.push_back(detail::index_to_i64(t, op, "indices"));
      ++k;
    }
  }
  KILN_CHECK(k <= x.dim(), op, ": ", k, " indexed dimensions for x with ", x.dim(), " dimensions (shape ",
             x.shape(), ")");
  FlatIndex f;
  f.k = k;
  for (auto& t : idx) f.bshape = broadcast_shapes(f.bshape, t.shape(), op);
  for (int a = 0; a < k; ++a) {
    idx[size_t(a)] = idx[size_t(a)].contiguous();
    detail::check_index_range(idx[size_t(a)], x.size(a), true, op, detail::str_cat("dimension ", a, " of size ", x.size(a)));
    idx[size_t(a)] = idx[size_t(a)].expand(f.bshape).contiguous();
    f.P *= x.size(a);
  }
  for (int a = k; a < x.dim(); ++a) f.R *= x.size(a);
  f.rows = empty(f.bshape, DType::i64, x.device());
  std::vector<const int64_t*> ptrs;
  std::vector<int64_t> sizes;
  for (int a = 0; a < k; ++a) {
    ptrs.push_back(idx[size_t(a)].data<int64_t>());
    sizes.push_back(x.size(a));
  }
  switch (x.device().type) {
    case DeviceType::CPU:
      cpu::combine_indices(k, ptrs.data(), sizes.data(), f.rows.numel(), f.rows.data<int64_t>());
      break;
    case DeviceType::CUDA:
#if KILN_HAVE_CUDA
      cuda::combine_indices(k, ptrs.data(), sizes.data(), f.rows.numel(), f.rows.data<int64_t>(),
                            cuda::prepare(x.device().index));
      break;
#endif
      unsupported_device(op, x.device());
  }
  return f;
}

Shape result_shape(const Tensor& x, const FlatIndex& f) {
  Shape s = f.bshape;
  for (int a = f.k; a < x.dim(); ++a) s.push_back(x.size(a));
  return s;
}

}  // namespace

Tensor index_add_(const Tensor& self, int64_t dim, const Tensor& index, const Tensor& src, Scalar alpha) {
  const char* op = "index_add";
  check_defined(self, op, "self");
  check_defined(src, op, "src");
  Tensor idx = detail::index_to_i64(index, op);
  check_same_device(self, index, op);
  check_same_device(self, src, op);
  KILN_CHECK(idx.dim() <= 1, op, ": index must be 1-d (or 0-d), got shape ", index.shape());
  KILN_CHECK(src.dtype() == self.dtype(), op, ": src has dtype ", dtype_name(src.dtype()), " but x has dtype ",
             dtype_name(self.dtype()), "; they must match");
  KILN_CHECK(!(alpha.is_floating() && !self.is_floating_point()), op, ": alpha ", alpha.to_double(),
             " is a floating-point number but x has the integral dtype ", dtype_name(self.dtype()));
  Tensor s = self.dim() == 0 ? self.reshape({1}) : self;
  Tensor sv = src.dim() == 0 ? src.reshape({1}) : src;
  int d = wrap_dim(dim, s.dim(), op);
  bool shapes_ok = sv.dim() == s.dim() && sv.size(d) == idx.numel();
  for (int a = 0; shapes_ok && a < s.dim(); ++a) shapes_ok = a == d || sv.size(a) == s.size(a);
  KILN_CHECK(shapes_ok, op, ": src of shape ", src.shape(), " does not match x of shape ", self.shape(),
             " with ", idx.numel(), " indices along dimension ", d);
  detail::check_index_range(idx, s.size(d), true, op, detail::str_cat("dimension ", d, " of size ", s.size(d)));
  if (sv.numel() == 0) return self;
  Tensor srcc = sv.contiguous();
  int64_t outer = 1, inner = 1;
  for (int a = 0; a < d; ++a) outer *= s.size(a);
  for (int a = d + 1; a < s.dim(); ++a) inner *= s.size(a);
  update_contiguous(s, op, [&](Tensor& dst) {
    switch (dst.device().type) {
      case DeviceType::CPU:
        cpu::index_add_rows(dst.dtype(), dst.data_ptr(), outer, s.size(d), inner, idx.data<int64_t>(), idx.numel(),
                            srcc.data_ptr(), alpha.to_double(), alpha.to_int());
        break;
      case DeviceType::CUDA:
#if KILN_HAVE_CUDA
        // Note [Deterministic CUDA scatter]: the CPU's sums, bit for bit.
        cuda::scatter_rows(dst.dtype(), ScatterMode::add_alpha, idx.data<int64_t>(), outer, s.size(d), idx.numel(),
                           inner, dst.data_ptr(), srcc.data_ptr(), alpha.to_double(), alpha.to_int(),
                           cuda::prepare(dst.device().index));
        break;
#endif
        unsupported_device(op, dst.device());
    }
  });
  return self;
}

Tensor index_add(const Tensor& x, int64_t dim, const Tensor& index, const Tensor& src, Scalar alpha) {
  check_defined(x, "index_add", "x");
  return index_add_(x.clone(), dim, index, src, alpha);
}

Tensor index_put_(const Tensor& self, const std::vector<Tensor>& indices, const Tensor& values, bool accumulate) {
  const char* op = "index_put";
  check_defined(self, op, "self");
  check_defined(values, op, "values");
  check_same_device(self, values, op);
  KILN_CHECK(values.dtype() == self.dtype(), op, ": values have dtype ", dtype_name(values.dtype()),
             " but x has dtype ", dtype_name(self.dtype()), "; they must match");
  FlatIndex f = flatten_indices(self, indices, op);
  Shape rs = result_shape(self, f);
  Shape b = broadcast_shapes(values.shape(), rs, op);
  KILN_CHECK(b == rs, op, ": values of shape ", values.shape(), " cannot be broadcast to the indexed shape ", rs);
  int64_t m = f.rows.numel();
  if (m == 0 || f.R == 0) return self;
  Tensor v = values.expand(rs).contiguous();
  update_contiguous(self, op, [&](Tensor& dst) {
    switch (dst.device().type) {
      case DeviceType::CPU:
        if (accumulate)
          cpu::index_add_rows(dst.dtype(), dst.data_ptr(), 1, f.P, f.R, f.rows.data<int64_t>(), m, v.data_ptr(), 1.0, 1);
        else
          cpu::index_copy_rows(dst.element_size(), dst.data_ptr(), f.P, f.R, f.rows.data<int64_t>(), m, v.data_ptr());
        break;
      case DeviceType::CUDA:
#if KILN_HAVE_CUDA
        // Note [Deterministic CUDA scatter]: repeated rows keep the last value (as index_copy_rows)
        // or are summed in position order (as index_add_rows).
        cuda::scatter_rows(dst.dtype(), accumulate ? ScatterMode::add_alpha : ScatterMode::assign,
                           f.rows.data<int64_t>(), 1, f.P, m, f.R, dst.data_ptr(), v.data_ptr(), 1.0, 1,
                           cuda::prepare(dst.device().index));
        break;
#endif
        unsupported_device(op, dst.device());
    }
  });
  return self;
}

Tensor index_put(const Tensor& x, const std::vector<Tensor>& indices, const Tensor& values, bool accumulate) {
  check_defined(x, "index_put", "x");
  return index_put_(x.clone(), indices, values, accumulate);
}

Tensor index(const Tensor& x, const std::vector<Tensor>& indices) {
  check_defined(x, "index", "x");
  FlatIndex f = flatten_indices(x, indices, "index");
  Tensor out = empty(result_shape(x, f), x.dtype(), x.device());
  if (out.numel() == 0) return out;
  Tensor xc = x.contiguous();
  switch (x.device().type) {
    case DeviceType::CPU:
      cpu::index_select_rows(x.element_size(), xc.data_ptr(), 1, f.P, f.R, f.rows.data<int64_t>(), f.rows.numel(),
                             out.data_ptr());
      break;
    case DeviceType::CUDA:
#if KILN_HAVE_CUDA
      cuda::gather(x.element_size(), detail::rows_geometry(1, f.P, f.rows.numel(), f.R), f.rows.data<int64_t>(),
                   xc.data_ptr(), out.data_ptr(), cuda::prepare(x.device().index));
      break;
#endif
      unsupported_device("index", x.device());
  }
  return out;
}

Tensor one_hot(const Tensor& index, int64_t num_classes) {
  Tensor idx = detail::index_to_i64(index, "one_hot");
  KILN_CHECK(num_classes >= -1, "one_hot: num_classes must be -1 (infer) or non-negative, got ", num_classes);
  if (num_classes < 0) {
    KILN_CHECK(idx.numel() > 0, "one_hot: cannot infer the number of classes from an empty index tensor");
    switch (index.device().type) {
      case DeviceType::CPU: num_classes = cpu::max_index(idx.data<int64_t>(), idx.numel()) + 1; break;
      case DeviceType::CUDA:
#if KILN_HAVE_CUDA
        // One synchronisation: the output shape depends on the largest index.
        num_classes = cuda::max_index(idx.data<int64_t>(), idx.numel(), cuda::prepare(index.device().index)) + 1;
        break;
#endif
        unsupported_device("one_hot", index.device());
    }
  }
  detail::check_index_range(idx, num_classes, false, "one_hot", detail::str_cat(num_classes, " classes"));
  Shape s = index.shape();
  s.push_back(num_classes);
  Tensor out = zeros(s, DType::i64, index.device());
  if (out.numel() == 0) return out;
  switch (index.device().type) {
    case DeviceType::CPU: cpu::one_hot(idx.data<int64_t>(), idx.numel(), num_classes, out.data<int64_t>()); break;
    case DeviceType::CUDA:
#if KILN_HAVE_CUDA
      cuda::one_hot(idx.data<int64_t>(), idx.numel(), num_classes, out.data<int64_t>(),
                    cuda::prepare(index.device().index));
      break;
#endif
      unsupported_device("one_hot", index.device());
  }
  return out;
}

Tensor embedding(const Tensor& weight, const Tensor& index) {
  check_defined(weight, "embedding", "weight");
  KILN_CHECK(weight.dim() == 2, "embedding: weight must be 2-d [V, D], got shape ", weight.shape());
  Tensor idx = detail::index_to_i64(index, "embedding");
  check_same_device(weight, index, "embedding");
  Shape s = index.shape();
  s.push_back(weight.size(1));
  detail::check_index_range(idx, weight.size(0), false, "embedding",
                            detail::str_cat("a weight of ", weight.size(0), " rows"));
  switch (weight.device().type) {
    case DeviceType::CPU: return index_select(weight, 0, idx.reshape({-1})).view(s);
    case DeviceType::CUDA: {
#if KILN_HAVE_CUDA
      // The gather directly: index_select would validate the indices (and synchronise) again.
      Tensor out = empty(s, weight.dtype(), weight.device());
      if (out.numel() == 0) return out;
      Tensor wc = weight.contiguous();
      cuda::gather(weight.element_size(), detail::rows_geometry(1, weight.size(0), idx.numel(), weight.size(1)),
                   idx.data<int64_t>(), wc.data_ptr(), out.data_ptr(), cuda::prepare(weight.device().index));
      return out;
#endif
      unsupported_device("embedding", weight.device());
    }
  }
  return Tensor();
}

Tensor embedding_backward(const Tensor& dout, const Tensor& index, int64_t num_weights, int64_t padding_idx) {
  const char* op = "embedding_backward";
  check_defined(dout, op, "dout");
  Tensor idx = detail::index_to_i64(index, op);
  check_same_device(dout, index, op);
  KILN_CHECK(num_weights >= 0, op, ": num_weights must be non-negative, got ", num_weights);
  KILN_CHECK(padding_idx < num_weights, op, ": padding_idx ", padding_idx, " is not below num_weights ", num_weights);
  bool shape_ok = dout.dim() == index.dim() + 1;
  for (int a = 0; shape_ok && a < index.dim(); ++a) shape_ok = dout.size(a) == index.size(a);
  KILN_CHECK(shape_ok, op, ": dout of shape ", dout.shape(), " must be the index shape ", index.shape(),
             " followed by the embedding size");
  const int64_t D = dout.size(-1);
  Tensor grad = zeros({num_weights, D}, dout.dtype(), dout.device());
  switch (dout.device().type) {
    case DeviceType::CPU: {
      detail::check_index_range(idx, num_weights, false, op, detail::str_cat("a weight of ", num_weights, " rows"));
      if (idx.numel() == 0 || D == 0) break;
      Tensor g = dout.contiguous();
      cpu::index_add_rows(grad.dtype(), grad.data_ptr(), 1, num_weights, D, idx.data<int64_t>(), idx.numel(),
                          g.data_ptr(), 1.0, 1);
      if (padding_idx >= 0) grad.select(0, padding_idx).copy_(scalar_tensor(0, grad.dtype()));
      break;
    }
    case DeviceType::CUDA: {
#if KILN_HAVE_CUDA
      detail::check_index_range(idx, num_weights, false, op, detail::str_cat("a weight of ", num_weights, " rows"));
      if (idx.numel() == 0 || D == 0) break;
      Tensor g = dout.contiguous();
      const int64_t M = idx.numel();
      cuda::Stream stream = cuda::prepare(dout.device().index);
      if (is_floating(dout.dtype())) {
        // The two-level deterministic kernel (Note [Deterministic embedding backward]): it keeps
        // many repeats of one index parallel; agrees with the CPU to rounding.
        const size_t ws = cuda::embedding_backward_workspace_size(dout.dtype(), M, D, num_weights);
        Tensor work = empty({int64_t(ws)}, DType::u8, dout.device());
        cuda::embedding_backward(dout.dtype(), g.data_ptr(), idx.data<int64_t>(), M, D, num_weights, padding_idx,
                                 grad.data_ptr(), work.data_ptr(), ws, stream);
      } else {
        cuda::scatter_rows(grad.dtype(), ScatterMode::add_alpha, idx.data<int64_t>(), 1, num_weights, M, D,
                           grad.data_ptr(), g.data_ptr(), 1.0, 1, stream);
        if (padding_idx >= 0) zero_(grad.select(0, padding_idx));
      }
      break;
#endif
      unsupported_device(op, dout.device());
    }
  }
  return grad;
}

}  // namespace kiln
