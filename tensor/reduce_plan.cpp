#include "kiln/tensor/reduce_plan.h"

namespace kiln {

ReducePlan plan_reduce(const Tensor& x, const Shape& dims, bool keepdim, const char* op) {
  check_defined(x, op, "x");
  ReducePlan p;
  const int nd = x.dim();
  for (int d = 0; d < nd; ++d) p.reduced[d] = dims.empty();
  for (int64_t d : dims) {
    int w = wrap_dim(d, nd, op);
    if (nd == 0) continue;
    KILN_CHECK(!p.reduced[w], op, ": dimension ", w, " appears more than once in dims ", dims);
    p.reduced[w] = true;
  }
  const Shape& s = x.shape();
  for (int d = 0; d < nd; ++d) {
    if (!p.reduced[d])
      p.out_shape.push_back(s[d]);
    else if (keepdim)
      p.out_shape.push_back(1);
  }
  // Are the reduced dims of size > 1 one adjacent run among the dims of size > 1?
  int first = -1, last = -1;
  bool adjacent = true;
  for (int d = 0; d < nd; ++d) {
    if (s[d] == 1 || !p.reduced[d]) continue;
    if (first < 0) first = d;
    last = d;
  }
  for (int d = first + 1; first >= 0 && d < last; ++d)
    if (s[d] != 1 && !p.reduced[d]) adjacent = false;
  if (adjacent) {
    p.input = x.contiguous();
    for (int d = 0; d < nd; ++d) {
      if (s[d] == 1) continue;
      if (first >= 0 && d >= first && d <= last)
        p.R *= s[d];
      else if (first < 0 || d < first)
        p.outer *= s[d];
      else
        p.inner *= s[d];
    }
    return p;
  }
  Shape perm;
  for (int d = 0; d < nd; ++d)
    if (!p.reduced[d]) {
      perm.push_back(d);
      p.outer *= s[d];
    }
  for (int d = 0; d < nd; ++d)
    if (p.reduced[d]) {
      perm.push_back(d);
      p.R *= s[d];
    }
  p.input = x.permute(perm).contiguous();
  return p;
}

}  // namespace kiln
