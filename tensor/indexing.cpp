// index_select, gather, take_along_dim, scatter, scatter_add; the index checks shared by the
// indexing sources.
#include "kiln/tensor/indexing.h"

#include <sstream>

#include "kiln/kernels/cpu/indexing.h"
#include "kiln/tensor/creation.h"
#include "kiln/tensor/indexing_check.h"
#include "kiln/tensor/iterator.h"

#if KILN_HAVE_CUDA
#include "kiln/kernels/cuda/indexing.h"
#include "kiln/kernels/cuda/runtime.h"
#endif

namespace kiln {
namespace detail {

Tensor index_to_i64(const Tensor& index, const char* op, const char* arg) {
  check_defined(index, op, arg);
  KILN_CHECK(index.dtype() == DType::i64 || index.dtype() == DType::i32, op, ": ", arg,
             " must be an integer tensor of dtype i64 or i32, got ", dtype_name(index.dtype()));
  return index.to(DType::i64).contiguous();
}

void check_index_range(const Tensor& idx64, int64_t size, bool allow_negative, const char* op,
                       const std::string& what) {
  int64_t n = idx64.numel();
  if (n == 0) return;
  const int64_t lo = allow_negative ? -size : 0;
  int64_t bad = -1;
  switch (idx64.device().type) {
    case DeviceType::CPU: bad = cpu::find_bad_index(idx64.data<int64_t>(), n, lo, size); break;
    case DeviceType::CUDA:
#if KILN_HAVE_CUDA
      // Note [CUDA index validation] in kernels/cuda/indexing.h: one small synchronisation.
      bad = cuda::find_bad_index(idx64.data<int64_t>(), n, lo, size, cuda::prepare(idx64.device().index));
      break;
#endif
      unsupported_device(op, idx64.device());
  }
  if (bad < 0) return;
  // Only on error: the value and its position are reported from a host copy.
  const Tensor host = idx64.cpu();
  // Position of the bad value as a multi-index into the index tensor.
  std::ostringstream pos;
  pos << "[";
  Shape coord = Shape::filled(idx64.dim(), 0);
  int64_t rem = bad;
  for (int d = idx64.dim() - 1; d >= 0; --d) {
    coord[d] = rem % idx64.size(d);
    rem /= idx64.size(d);
  }
  for (int d = 0; d < idx64.dim(); ++d) pos << (d ? ", " : "") << coord[d];
  pos << "]";
  int64_t value = host.data<int64_t>()[bad];
  if (size == 0)
    KILN_FAIL(op, ": index ", value, " at position ", pos.str(), " is out of range: ", what,
              " is empty, no index is valid");
  KILN_FAIL(op, ": index ", value, " at position ", pos.str(), " is out of range for ", what,
            " (valid range [", lo, ", ", size - 1, "])");
}

IndexGeometry rows_geometry(int64_t outer, int64_t n, int64_t m, int64_t inner) {
  IndexGeometry g;
  g.ndim = 3;
  g.dim = 1;
  g.dim_size = n;
  const int64_t sizes[3] = {outer, m, inner}, is[3] = {0, 1, 0}, ds[3] = {n * inner, inner, 1},
                os[3] = {m * inner, inner, 1};
  for (int a = 0; a < 3; ++a) {
    g.sizes[a] = sizes[a];
    g.idx_strides[a] = is[a];
    g.data_strides[a] = ds[a];
    g.other_strides[a] = os[a];
  }
  return g;
}

IndexGeometry dim_geometry(const Shape& box, int d, int64_t dim_size, const Shape& data_strides,
                           const Shape& other_strides) {
  IndexGeometry g;
  g.ndim = box.size();
  g.dim = d;
  g.dim_size = dim_size;
  const Shape is = contiguous_strides(box);
  for (int a = 0; a < box.size(); ++a) {
    g.sizes[a] = box[a];
    g.idx_strides[a] = is[a];
    g.data_strides[a] = data_strides[a];
    g.other_strides[a] = other_strides[a];
  }
  return g;
}

}  // namespace detail

namespace {

std::string dim_what(int d, int64_t size) { return detail::str_cat("dimension ", d, " of size ", size); }

// x restricted to `shape` (a sub-box starting at the origin) with stride 0 along dim d: the
// base that gather/scatter offset by index * stride.
Tensor dim_base_view(const Tensor& x, const Shape& shape, int d) {
  Shape st = x.strides();
  st[d] = 0;
  return x.as_strided(shape, st, x.offset());
}

}  // namespace

Tensor index_select(const Tensor& x, int64_t dim, const Tensor& index) {
  check_defined(x, "index_select", "x");
  Tensor idx = detail::index_to_i64(index, "index_select");
  KILN_CHECK(idx.dim() <= 1, "index_select: index must be 1-d (or 0-d), got shape ", index.shape());
  check_same_device(x, index, "index_select");
  Tensor xs = x.dim() == 0 ? x.reshape({1}) : x;
  int d = wrap_dim(dim, xs.dim(), "index_select");
  Shape out_shape = xs.shape();
  out_shape[d] = idx.numel();
  Tensor out = empty(out_shape, x.dtype(), x.device());
  detail::check_index_range(idx, xs.size(d), true, "index_select", dim_what(d, xs.size(d)));
  if (out.numel() == 0) return out;
  Tensor xc = xs.contiguous();
  int64_t outer = 1, inner = 1;
  for (int a = 0; a < d; ++a) outer *= xs.size(a);
  for (int a = d + 1; a < xs.dim(); ++a) inner *= xs.size(a);
  switch (x.device().type) {
    case DeviceType::CPU:
      cpu::index_select_rows(x.element_size(), xc.data_ptr(), outer, xs.size(d), inner, idx.data<int64_t>(),
                             idx.numel(), out.data_ptr());
      break;
    case DeviceType::CUDA:
#if KILN_HAVE_CUDA
      cuda::gather(x.element_size(), detail::rows_geometry(outer, xs.size(d), idx.numel(), inner),
                   idx.data<int64_t>(), xc.data_ptr(), out.data_ptr(), cuda::prepare(x.device().index));
      break;
#endif
      unsupported_device("index_select", x.device());
  }
  return out;
}

Tensor gather(const Tensor& x, int64_t dim, const Tensor& index) {
  check_defined(x, "gather", "x");
  Tensor idx = detail::index_to_i64(index, "gather");
  check_same_device(x, index, "gather");
  KILN_CHECK(idx.dim() == x.dim(), "gather: index has ", idx.dim(), " dimensions (shape ", idx.shape(),
             ") but x has ", x.dim(), " (shape ", x.shape(), "); they must match");
  Tensor xs = x.dim() == 0 ? x.reshape({1}) : x;
  if (x.dim() == 0) idx = idx.reshape({1});
  int d = wrap_dim(dim, xs.dim(), "gather");
  for (int a = 0; a < xs.dim(); ++a)
    KILN_CHECK(a == d || idx.size(a) <= xs.size(a), "gather: index has size ", idx.size(a), " in dimension ", a,
               " but x has only ", xs.size(a), " (index shape ", index.shape(), ", x shape ", x.shape(), ")");
  Tensor out = empty(idx.shape(), x.dtype(), x.device());
  detail::check_index_range(idx, xs.size(d), true, "gather", dim_what(d, xs.size(d)));
  switch (x.device().type) {
    case DeviceType::CPU: {
      if (out.numel() == 0) break;
      Tensor xv = dim_base_view(xs, idx.shape(), d);
      Loop loop = make_loop(idx.shape(), {&out, &idx, &xv});
      cpu::gather_loop(loop, x.element_size(), out.data_ptr(), idx.data<int64_t>(), xv.data_ptr(), xs.stride(d),
                       xs.size(d));
      break;
    }
    case DeviceType::CUDA:
#if KILN_HAVE_CUDA
      if (out.numel() == 0) break;
      cuda::gather(x.element_size(), detail::dim_geometry(idx.shape(), d, xs.size(d), xs.strides(), out.strides()),
                   idx.data<int64_t>(), xs.data_ptr(), out.data_ptr(), cuda::prepare(x.device().index));
      break;
#endif
      unsupported_device("gather", x.device());
  }
  return x.dim() == 0 ? out.reshape(index.shape()) : out;
}

Tensor take_along_dim(const Tensor& x, const Tensor& index, int64_t dim) {
  check_defined(x, "take_along_dim", "x");
  check_defined(index, "take_along_dim", "index");
  KILN_CHECK(x.dim() == index.dim(), "take_along_dim: index has ", index.dim(), " dimensions (shape ",
             index.shape(), ") but x has ", x.dim(), " (shape ", x.shape(), "); they must match");
  if (x.dim() == 0) return gather(x, 0, index);
  int d = wrap_dim(dim, x.dim(), "take_along_dim");
  Shape xs = x.shape(), is = index.shape();
  xs[d] = 1;
  is[d] = 1;
  Shape b = broadcast_shapes(xs, is, "take_along_dim");
  Shape xt = b, it = b;
  xt[d] = x.size(d);
  it[d] = index.size(d);
  return gather(x.expand(xt), d, index.expand(it));
}

namespace {

// Writes src (or adds it) into self along dim at index, in place. src has self's dtype.
void scatter_into(const Tensor& self, int64_t dim, const Tensor& index, const Tensor& src, bool add, const char* op) {
  check_defined(self, op, "self");
  check_defined(src, op, "src");
  Tensor idx = detail::index_to_i64(index, op);
  check_same_device(self, index, op);
  check_same_device(self, src, op);
  KILN_CHECK(src.dtype() == self.dtype(), op, ": src has dtype ", dtype_name(src.dtype()), " but x has dtype ",
             dtype_name(self.dtype()), "; they must match");
  KILN_CHECK(idx.dim() == self.dim() && src.dim() == self.dim(), op, ": x (shape ", self.shape(), "), index (shape ",
             idx.shape(), ") and src (shape ", src.shape(), ") must have the same number of dimensions");
  Tensor s = self.dim() == 0 ? self.reshape({1}) : self;
  Tensor sv = src.dim() == 0 ? src.reshape({1}) : src;
  if (self.dim() == 0) idx = idx.reshape({1});
  int d = wrap_dim(dim, s.dim(), op);
  for (int a = 0; a < s.dim(); ++a) {
    KILN_CHECK(idx.size(a) <= sv.size(a), op, ": index has size ", idx.size(a), " in dimension ", a,
               " but src has only ", sv.size(a), " (index shape ", index.shape(), ", src shape ", src.shape(), ")");
    KILN_CHECK(a == d || idx.size(a) <= s.size(a), op, ": index has size ", idx.size(a), " in dimension ", a,
               " but x has only ", s.size(a), " (index shape ", index.shape(), ", x shape ", self.shape(), ")");
  }
  if (idx.numel() == 0) return;
  check_writable(self, op);
  detail::check_index_range(idx, s.size(d), true, op, dim_what(d, s.size(d)));
  switch (self.device().type) {
    case DeviceType::CPU: {
      Tensor dv = dim_base_view(s, idx.shape(), d);
      Tensor srcv = sv.as_strided(idx.shape(), sv.strides(), sv.offset());
      // dv has stride 0 along d, so make_loop makes d the innermost dimension: one loop row
      // holds all the sources that can meet at one destination.
      Loop loop = make_loop(idx.shape(), {&dv, &idx, &srcv});
      if (add)
        cpu::scatter_add_loop(loop, s.dtype(), dv.data_ptr(), idx.data<int64_t>(), srcv.data_ptr(), s.stride(d),
                              s.size(d));
      else
        cpu::scatter_loop(loop, s.element_size(), dv.data_ptr(), idx.data<int64_t>(), srcv.data_ptr(), s.stride(d),
                          s.size(d));
      break;
    }
    case DeviceType::CUDA:
#if KILN_HAVE_CUDA
      // Note [Deterministic CUDA scatter]: the same winners and sums as the CPU loop above.
      cuda::scatter(s.dtype(), add ? ScatterMode::add_each : ScatterMode::assign,
                    detail::dim_geometry(idx.shape(), d, s.size(d), s.strides(), sv.strides()), idx.data<int64_t>(),
                    s.data_ptr(), sv.data_ptr(), 1.0, 1, cuda::prepare(self.device().index));
      break;
#endif
      unsupported_device(op, self.device());
  }
  self.bump_version();
}

Tensor value_src(const Tensor& self, const Tensor& index, Scalar value) {
  check_defined(index, "scatter", "index");
  return scalar_tensor(value, self.dtype(), self.device()).expand(index.shape());
}

}  // namespace

Tensor scatter_(const Tensor& self, int64_t dim, const Tensor& index, const Tensor& src) {
  scatter_into(self, dim, index, src, false, "scatter");
  return self;
}
Tensor scatter_(const Tensor& self, int64_t dim, const Tensor& index, Scalar value) {
  check_defined(self, "scatter", "self");
  scatter_into(self, dim, index, value_src(self, index, value), false, "scatter");
  return self;
}
Tensor scatter(const Tensor& x, int64_t dim, const Tensor& index, const Tensor& src) {
  check_defined(x, "scatter", "x");
  return scatter_(x.clone(), dim, index, src);
}
Tensor scatter(const Tensor& x, int64_t dim, const Tensor& index, Scalar value) {
  check_defined(x, "scatter", "x");
  return scatter_(x.clone(), dim, index, value);
}
Tensor scatter_add_(const Tensor& self, int64_t dim, const Tensor& index, const Tensor& src) {
  scatter_into(self, dim, index, src, true, "scatter_add");
  return self;
}
Tensor scatter_add(const Tensor& x, int64_t dim, const Tensor& index, const Tensor& src) {
  check_defined(x, "scatter_add", "x");
  return scatter_add_(x.clone(), dim, index, src);
}

}  // namespace kiln
