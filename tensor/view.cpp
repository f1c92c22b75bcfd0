// View methods of Tensor: new geometry over the same storage, no data copied.
#include <algorithm>

#include "kiln/tensor/tensor.h"

namespace kiln {
namespace {

// Resolves one -1 in a requested shape against numel.
Shape infer_shape(const Shape& req, int64_t numel, const char* op) {
  Shape s = req;
  int infer = -1;
  int64_t known = 1;
  for (int i = 0; i < s.size(); ++i) {
    if (s[i] == -1) {
      KILN_CHECK(infer < 0, op, ": only one dimension can be -1, got shape ", req);
      infer = i;
    } else {
      KILN_CHECK(s[i] >= 0, op, ": invalid size ", s[i], " in shape ", req);
      known *= s[i];
    }
  }
  if (infer >= 0) {
    KILN_CHECK(known != 0 && numel % known == 0, op, ": shape ", req, " is invalid for a tensor of ", numel,
               " elements");
    s[infer] = numel / known;
  } else {
    KILN_CHECK(known == numel, op, ": shape ", req, " is invalid for a tensor of ", numel, " elements");
  }
  return s;
}

// Strides for viewing (old shape, old strides) as a new shape without a copy, if possible.
// The old dims (size-1 dims ignored) fall into maximal chunks that are contiguous among
// themselves; the new dims, taken from the innermost, must tile those chunks exactly.
bool view_strides(const Shape& oshape, const Shape& ostr, const Shape& nshape, Shape& nstr) {
  nstr = Shape::filled(nshape.size(), 1);
  if (oshape.numel() == 0) {
    nstr = contiguous_strides(nshape);
    return true;
  }
  int64_t chunk_numel[kMaxDims], chunk_stride[kMaxDims];
  int nchunks = 0;
  int64_t prev_stride = 0;
  for (int i = 0; i < oshape.size(); ++i) {
    if (oshape[i] == 1) continue;
    if (nchunks > 0 && prev_stride == ostr[i] * oshape[i]) {
      chunk_numel[nchunks - 1] *= oshape[i];
      chunk_stride[nchunks - 1] = ostr[i];
    } else {
      chunk_numel[nchunks] = oshape[i];
      chunk_stride[nchunks] = ostr[i];
      ++nchunks;
    }
    prev_stride = ostr[i];
  }
  int c = nchunks - 1;
  int64_t acc = 1;
  for (int d = nshape.size() - 1; d >= 0; --d) {
    if (nshape[d] == 1) {
      nstr[d] = c >= 0 ? chunk_stride[c] * acc : 1;
      continue;
    }
    if (c < 0) return false;
    nstr[d] = chunk_stride[c] * acc;
    acc *= nshape[d];
    if (acc == chunk_numel[c]) {
      --c;
      acc = 1;
    } else if (acc > chunk_numel[c] || chunk_numel[c] % acc != 0) {
      return false;
    }
  }
  return c < 0;
}

}  // namespace

Tensor Tensor::as_strided(const Shape& shape, const Shape& strides, int64_t offset) const {
  KILN_CHECK(shape.size() == strides.size(), "as_strided: shape ", shape, " and strides ", strides,
             " differ in length");
  return Tensor(storage(), shape, strides, offset, dtype());
}

Tensor Tensor::view(const Shape& req) const {
  Shape s = infer_shape(req, numel(), "view");
  Shape st;
  KILN_CHECK(view_strides(shape(), strides(), s, st), "view: a tensor of shape ", shape(), " and strides ",
             strides(), " cannot be viewed as ", s, " without a copy; use reshape()");
  return as_strided(s, st, offset());
}

Tensor Tensor::reshape(const Shape& req) const {
  Shape s = infer_shape(req, numel(), "reshape");
  Shape st;
  if (view_strides(shape(), strides(), s, st)) return as_strided(s, st, offset());
  return contiguous().view(s);
}

Tensor Tensor::permute(const Shape& dims) const {
  KILN_CHECK(dims.size() == dim(), "permute: got ", dims.size(), " dimensions ", dims, " for a tensor with ",
             dim(), " dimensions");
  Shape ns = shape(), nst = strides();
  bool seen[kMaxDims] = {};
  for (int i = 0; i < dim(); ++i) {
    int d = wrap_dim(dims[i], dim(), "permute");
    KILN_CHECK(!seen[d], "permute: dimension ", d, " repeated in ", dims);
    seen[d] = true;
    ns[i] = shape()[d];
    nst[i] = strides()[d];
  }
  return as_strided(ns, nst, offset());
}

Tensor Tensor::transpose(int64_t d0, int64_t d1) const {
  int a = wrap_dim(d0, dim(), "transpose"), b = wrap_dim(d1, dim(), "transpose");
  if (dim() == 0) return *this;
  Shape ns = shape(), nst = strides();
  std::swap(ns[a], ns[b]);
  std::swap(nst[a], nst[b]);
  return as_strided(ns, nst, offset());
}

Tensor Tensor::t() const {
  KILN_CHECK(dim() <= 2, "t: expects a tensor with at most 2 dimensions, got ", dim(), " (shape ", shape(), ")");
  return dim() < 2 ? *this : transpose(0, 1);
}

Tensor Tensor::expand(const Shape& req) const {
  KILN_CHECK(req.size() >= dim(), "expand: target ", req, " has fewer dimensions than the tensor's shape ",
             shape());
  int lead = req.size() - dim();
  Shape ns = req, nst = Shape::filled(req.size(), 0);
  for (int i = 0; i < req.size(); ++i) {
    if (i < lead) {
      KILN_CHECK(req[i] >= 0, "expand: size -1 not allowed in a new leading dimension (target ", req, ")");
      continue;
    }
    int64_t cur = shape()[i - lead];
    if (req[i] == -1 || req[i] == cur) {
      ns[i] = cur;
      nst[i] = strides()[i - lead];
    } else {
      KILN_CHECK(cur == 1, "expand: cannot expand shape ", shape(), " to ", req, " (dimension ", i, ": ", cur,
                 " to ", req[i], ")");
      KILN_CHECK(req[i] >= 0, "expand: invalid size ", req[i], " in ", req);
    }
  }
  return as_strided(ns, nst, offset());
}

Tensor Tensor::squeeze() const {
  Shape ns, nst;
  for (int i = 0; i < dim(); ++i)
    if (shape()[i] != 1) {
      ns.push_back(shape()[i]);
      nst.push_back(strides()[i]);
    }
  return as_strided(ns, nst, offset());
}

Tensor Tensor::squeeze(int64_t d) const {
  if (dim() == 0) return *this;
  int a = wrap_dim(d, dim(), "squeeze");
  if (shape()[a] != 1) return *this;
  Shape ns = shape(), nst = strides();
  ns.erase(a);
  nst.erase(a);
  return as_strided(ns, nst, offset());
}

Tensor Tensor::unsqueeze(int64_t d) const {
  int a = wrap_dim(d, dim() + 1, "unsqueeze");
  Shape ns = shape(), nst = strides();
  int64_t st = a < dim() ? strides()[a] * shape()[a] : 1;
  ns.insert(a, 1);
  nst.insert(a, st);
  return as_strided(ns, nst, offset());
}

Tensor Tensor::narrow(int64_t d, int64_t start, int64_t length) const {
  KILN_CHECK(dim() > 0, "narrow: cannot narrow a 0-d tensor");
  int a = wrap_dim(d, dim(), "narrow");
  int64_t n = shape()[a];
  if (start < 0) start += n;
  KILN_CHECK(start >= 0 && length >= 0 && start + length <= n, "narrow: start ", start, " and length ", length,
             " out of range for dimension ", a, " of size ", n);
  Shape ns = shape();
  ns[a] = length;
  return as_strided(ns, strides(), offset() + start * strides()[a]);
}

Tensor Tensor::slice(int64_t d, int64_t start, int64_t end, int64_t step) const {
  KILN_CHECK(dim() > 0, "slice: cannot slice a 0-d tensor");
  KILN_CHECK(step > 0, "slice: step must be positive, got ", step);
  int a = wrap_dim(d, dim(), "slice");
  int64_t n = shape()[a];
  if (start < 0) start += n;
  if (end < 0) end += n;
  start = std::clamp<int64_t>(start, 0, n);
  end = std::clamp<int64_t>(end, start, n);
  Shape ns = shape(), nst = strides();
  ns[a] = (end - start + step - 1) / step;
  nst[a] = strides()[a] * step;
  return as_strided(ns, nst, offset() + start * strides()[a]);
}

Tensor Tensor::select(int64_t d, int64_t index) const {
  KILN_CHECK(dim() > 0, "select: cannot select on a 0-d tensor");
  int a = wrap_dim(d, dim(), "select");
  int64_t n = shape()[a];
  KILN_CHECK(index >= -n && index < n, "select: index ", index, " out of range for dimension ", a, " of size ", n);
  if (index < 0) index += n;
  Shape ns = shape(), nst = strides();
  ns.erase(a);
  nst.erase(a);
  return as_strided(ns, nst, offset() + index * strides()[a]);
}

Tensor Tensor::flatten(int64_t start_dim, int64_t end_dim) const {
  if (dim() == 0) return reshape({1});
  int a = wrap_dim(start_dim, dim(), "flatten"), b = wrap_dim(end_dim, dim(), "flatten");
  KILN_CHECK(a <= b, "flatten: start_dim ", start_dim, " comes after end_dim ", end_dim);
  Shape ns;
  for (int i = 0; i < a; ++i) ns.push_back(shape()[i]);
  int64_t p = 1;
  for (int i = a; i <= b; ++i) p *= shape()[i];
  ns.push_back(p);
  for (int i = b + 1; i < dim(); ++i) ns.push_back(shape()[i]);
  return reshape(ns);
}

Tensor Tensor::unflatten(int64_t d, const Shape& sizes) const {
  int a = wrap_dim(d, dim(), "unflatten");
  KILN_CHECK(sizes.size() > 0, "unflatten: sizes must not be empty");
  Shape full = infer_shape(sizes, shape()[a], "unflatten");
  Shape ns;
  for (int i = 0; i < a; ++i) ns.push_back(shape()[i]);
  for (int64_t s : full) ns.push_back(s);
  for (int i = a + 1; i < dim(); ++i) ns.push_back(shape()[i]);
  return view(ns);
}

}  // namespace kiln
