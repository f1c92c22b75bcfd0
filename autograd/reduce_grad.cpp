// Shape helpers for the reductions' backward closures.
#include "kiln/autograd/reduce_grad.h"

namespace kiln::ag::detail {

Shape normalize_dims(const Shape& dims, int ndim, const char* op) {
  Shape out;
  if (dims.empty()) {
    for (int d = 0; d < ndim; ++d) out.push_back(d);
    return out;
  }
  if (ndim == 0) return out;  // a 0-d tensor: dim 0 / -1 name the tensor itself
  for (int64_t d : dims) {
    KILN_CHECK(d >= -ndim && d < ndim, op, ": dim ", d, " out of range for a ", ndim, "-d tensor");
    out.push_back(d < 0 ? d + ndim : d);
  }
  return out;
}

Shape keepdim_shape(const Shape& in_shape, const Shape& dims, const char* op) {
  Shape k = in_shape;
  for (int64_t d : normalize_dims(dims, in_shape.size(), op)) k[int(d)] = 1;
  return k;
}

Tensor as_keepdim(const Tensor& t, const Shape& in_shape, const Shape& dims, const char* op) {
  return t.reshape(keepdim_shape(in_shape, dims, op));
}

int64_t reduced_count(const Shape& in_shape, const Shape& dims, const char* op) {
  int64_t n = 1;
  for (int64_t d : normalize_dims(dims, in_shape.size(), op)) n *= in_shape[int(d)];
  return n;
}

}  // namespace kiln::ag::detail
