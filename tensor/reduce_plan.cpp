#include "kiln/tensor/reduce_plan.h"

#include <algorithm>

namespace kiln {

ReducePlan plan_reduce(const Tensor& x, const Shape& dims, bool keepdim, const char* op, bool allow_split) {
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
  for (int d = 0; d < nd; ++d) {
    if (!p.reduced[d])
      p.out_shape.push_back(x.shape()[d]);
    else if (keepdim)
      p.out_shape.push_back(1);
  }
  // A permuted contiguous tensor (a transpose, say) is read in memory order without a copy when
  // its kept dims stay in their logical order, so the result is still contiguous.
  Tensor src = x;
  bool red[kMaxDims];
  for (int d = 0; d < nd; ++d) red[d] = p.reduced[d];
  if (!x.is_contiguous() && x.numel() > 0) {
    Shape perm;
    for (int d = 0; d < nd; ++d) perm.push_back(d);
    std::stable_sort(perm.begin(), perm.end(), [&](int64_t a, int64_t b) { return x.stride(a) > x.stride(b); });
    Tensor xp = x.permute(perm);
    bool ok = xp.is_contiguous();
    int64_t last_kept = -1;
    for (int i = 0; i < nd && ok; ++i) {
      int d = int(perm[i]);
      if (p.reduced[d] || x.size(d) == 1) continue;
      ok = d > last_kept;
      last_kept = d;
    }
    if (ok) {
      src = xp;
      for (int i = 0; i < nd; ++i) red[i] = p.reduced[perm[i]];
    }
  }
  const Shape& s = src.shape();
  // Are the reduced dims of size > 1 one adjacent run among the dims of size > 1?
  int first = -1, last = -1;
  bool adjacent = true;
  for (int d = 0; d < nd; ++d) {
    if (s[d] == 1 || !red[d]) continue;
    if (first < 0) first = d;
    last = d;
  }
  for (int d = first + 1; first >= 0 && d < last; ++d)
    if (s[d] != 1 && !red[d]) adjacent = false;
  if (adjacent) {
    p.input = src.contiguous();
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
  if (allow_split) {
    // Leading reduced run, kept run, trailing reduced run (size-1 dims ignored)?
    int state = 0;  // 0: leading reduced, 1: kept, 2: trailing reduced
    int64_t A = 1, K = 1, B = 1;
    bool ok = true;
    for (int d = 0; d < nd && ok; ++d) {
      if (s[d] == 1) continue;
      if (red[d]) {
        if (state == 1) state = 2;
        (state == 0 ? A : B) *= s[d];
      } else {
        if (state == 2) ok = false;
        state = 1;
        K *= s[d];
      }
    }
    if (ok) {
      p.input = src.contiguous();
      p.split = true;
      p.outer = A;
      p.R = K;
      p.inner = B;
      return p;
    }
  }
  Shape perm;
  for (int d = 0; d < nd; ++d)
    if (!red[d]) {
      perm.push_back(d);
      p.outer *= s[d];
    }
  for (int d = 0; d < nd; ++d)
    if (red[d]) {
      perm.push_back(d);
      p.R *= s[d];
    }
  p.input = src.permute(perm).contiguous();
  return p;
}

}  // namespace kiln
