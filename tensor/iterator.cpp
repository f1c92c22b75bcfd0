#include "kiln/tensor/iterator.h"

namespace kiln {

void check_writable(const Tensor& out, const char* op) {
  for (int d = 0; d < out.dim(); ++d)
    KILN_CHECK(!(out.stride(d) == 0 && out.size(d) > 1), op, ": the output (shape ", out.shape(), ", strides ",
               out.strides(), ") has several elements in one memory location (an expanded view); "
               "write to a contiguous copy instead");
}

Loop make_loop(const Shape& shape, std::initializer_list<const Tensor*> operands) {
  Loop L;
  L.nops = int(operands.size());
  KILN_CHECK(L.nops <= kMaxOperands, "make_loop: at most ", kMaxOperands, " operands");
  const int n = shape.size();
  // Gather per-dim sizes and right-aligned strides, skipping size-1 dims.
  int64_t sizes[kMaxDims];
  int64_t strides[kMaxOperands][kMaxDims];
  int nd = 0;
  for (int d = 0; d < n; ++d) {
    if (shape[d] == 1) continue;
    sizes[nd] = shape[d];
    int k = 0;
    for (const Tensor* t : operands) {
      // shape()[i] / strides()[i] rather than size(i) / stride(i): td is in range by construction,
      // and this loop is on the path of every elementwise op (per-op overhead).
      const Shape& ts = t->shape();
      int td = ts.size() - n + d;
      strides[k][nd] = (td >= 0 && ts[td] != 1) ? t->strides()[td] : 0;
      ++k;
    }
    ++nd;
  }
  // Order dims so the output's strides decrease (stable insertion sort; a fresh contiguous
  // output keeps the natural order).
  int perm[kMaxDims];
  for (int i = 0; i < nd; ++i) perm[i] = i;
  for (int i = 1; i < nd; ++i) {
    int p = perm[i], j = i;
    auto key = [&](int q) { int64_t s = strides[0][q]; return s < 0 ? -s : s; };
    while (j > 0 && key(perm[j - 1]) < key(p)) {
      perm[j] = perm[j - 1];
      --j;
    }
    perm[j] = p;
  }
  // Coalesce: merge dim into the previous (outer) one when contiguous for every operand.
  int m = 0;
  for (int i = 0; i < nd; ++i) {
    int q = perm[i];
    if (m > 0) {
      bool merge = true;
      for (int k = 0; k < L.nops; ++k)
        if (L.strides[k][m - 1] != strides[k][q] * sizes[q]) { merge = false; break; }
      if (merge) {
        L.sizes[m - 1] *= sizes[q];
        for (int k = 0; k < L.nops; ++k) L.strides[k][m - 1] = strides[k][q];
        continue;
      }
    }
    L.sizes[m] = sizes[q];
    for (int k = 0; k < L.nops; ++k) L.strides[k][m] = strides[k][q];
    ++m;
  }
  if (m == 0) {  // a single element
    L.sizes[0] = shape.numel() == 0 ? 0 : 1;
    for (int k = 0; k < L.nops; ++k) L.strides[k][0] = 0;
    m = 1;
  }
  // A zero-sized shape: one empty dim suffices.
  for (int d = 0; d < n; ++d)
    if (shape[d] == 0) {
      m = 1;
      L.sizes[0] = 0;
    }
  L.ndim = m;
  return L;
}

}  // namespace kiln
