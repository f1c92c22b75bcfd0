// cat, stack, split, chunk, flip, roll, tril/triu, repeat, tile. Most of them are strided copies
// between views (Tensor::copy_ is already a parallel, coalescing, strided kernel), so they need
// no kernel of their own.
#include "kiln/tensor/shape_ops.h"

#include <algorithm>

#include "kiln/kernels/cpu/shape_ops.h"
#include "kiln/tensor/creation.h"
#include "kiln/tensor/iterator.h"

#if KILN_HAVE_CUDA
#include "kiln/kernels/cuda/runtime.h"
#include "kiln/kernels/cuda/shape_ops.h"
#endif

namespace kiln {

Tensor cat(const std::vector<Tensor>& tensors, int64_t dim) {
  KILN_CHECK(!tensors.empty(), "cat: expects a non-empty list of tensors");
  // As PyTorch, a 1-d tensor of shape [0] is skipped whatever the others' rank.
  auto skipped = [](const Tensor& t) { return t.dim() == 1 && t.size(0) == 0; };
  int ref = -1;
  for (size_t i = 0; i < tensors.size(); ++i) {
    check_defined(tensors[i], "cat", "tensors");
    KILN_CHECK(tensors[i].dtype() == tensors[0].dtype(), "cat: tensor ", i, " has dtype ",
               dtype_name(tensors[i].dtype()), " but tensor 0 has dtype ", dtype_name(tensors[0].dtype()),
               "; all must have the same dtype");
    check_same_device(tensors[i], tensors[0], "cat");
    if (ref < 0 && !skipped(tensors[i])) ref = int(i);
  }
  if (ref < 0) return empty({0}, tensors[0].dtype(), tensors[0].device());
  const Tensor& r = tensors[size_t(ref)];
  KILN_CHECK(r.dim() > 0, "cat: tensor ", ref, " is 0-d; zero-dimensional tensors cannot be concatenated");
  int d = wrap_dim(dim, r.dim(), "cat");
  Shape out_shape = r.shape();
  out_shape[d] = 0;
  for (size_t i = 0; i < tensors.size(); ++i) {
    const Tensor& t = tensors[i];
    if (skipped(t)) continue;
    KILN_CHECK(t.dim() == r.dim(), "cat: tensor ", i, " has ", t.dim(), " dimensions (shape ", t.shape(),
               ") but tensor ", ref, " has ", r.dim(), " (shape ", r.shape(), ")");
    for (int a = 0; a < r.dim(); ++a)
      KILN_CHECK(a == d || t.size(a) == r.size(a), "cat: tensor ", i, " has size ", t.size(a), " in dimension ", a,
                 " but tensor ", ref, " has ", r.size(a), " (shapes ", t.shape(), " and ", r.shape(),
                 "); only dimension ", d, " may differ");
    out_shape[d] += t.size(d);
  }
  Tensor out = empty(out_shape, r.dtype(), r.device());
  int64_t off = 0;
  for (const Tensor& t : tensors) {
    if (skipped(t)) continue;
    if (t.numel() > 0) out.narrow(d, off, t.size(d)).copy_(t);
    off += t.size(d);
  }
  return out;
}

Tensor stack(const std::vector<Tensor>& tensors, int64_t dim) {
  KILN_CHECK(!tensors.empty(), "stack: expects a non-empty list of tensors");
  check_defined(tensors[0], "stack", "tensors");
  int d = wrap_dim(dim, tensors[0].dim() + 1, "stack");
  std::vector<Tensor> u;
  u.reserve(tensors.size());
  for (size_t i = 0; i < tensors.size(); ++i) {
    check_defined(tensors[i], "stack", "tensors");
    KILN_CHECK(tensors[i].shape() == tensors[0].shape(), "stack: tensor ", i, " has shape ", tensors[i].shape(),
               " but tensor 0 has shape ", tensors[0].shape(), "; all must have the same shape");
    u.push_back(tensors[i].unsqueeze(d));
  }
  return cat(u, d);
}

std::vector<Tensor> split(const Tensor& x, const std::vector<int64_t>& sizes, int64_t dim) {
  check_defined(x, "split", "x");
  KILN_CHECK(x.dim() > 0, "split: cannot split a 0-d tensor");
  int d = wrap_dim(dim, x.dim(), "split");
  int64_t total = 0;
  for (int64_t s : sizes) {
    KILN_CHECK(s >= 0, "split: split sizes must be non-negative, got ", s);
    total += s;
  }
  KILN_CHECK(total == x.size(d), "split: split sizes sum to ", total, " but dimension ", d, " has size ", x.size(d));
  std::vector<Tensor> out;
  int64_t off = 0;
  for (int64_t s : sizes) {
    out.push_back(x.narrow(d, off, s));
    off += s;
  }
  return out;
}

std::vector<Tensor> split(const Tensor& x, int64_t split_size, int64_t dim) {
  check_defined(x, "split", "x");
  KILN_CHECK(x.dim() > 0, "split: cannot split a 0-d tensor");
  int d = wrap_dim(dim, x.dim(), "split");
  int64_t n = x.size(d);
  KILN_CHECK(split_size > 0 || (split_size == 0 && n == 0), "split: split_size must be positive, got ", split_size,
             " for dimension ", d, " of size ", n);
  int64_t pieces = split_size == 0 ? 1 : std::max<int64_t>(1, (n + split_size - 1) / split_size);
  std::vector<int64_t> sizes;
  for (int64_t i = 0; i < pieces; ++i) sizes.push_back(std::min(split_size, n - i * split_size));
  return split(x, sizes, d);
}

std::vector<Tensor> chunk(const Tensor& x, int64_t n, int64_t dim) {
  check_defined(x, "chunk", "x");
  KILN_CHECK(n > 0, "chunk: number of chunks must be positive, got ", n);
  KILN_CHECK(x.dim() > 0, "chunk: cannot chunk a 0-d tensor");
  int d = wrap_dim(dim, x.dim(), "chunk");
  int64_t size = x.size(d);
  if (size == 0) return split(x, std::vector<int64_t>(size_t(n), 0), d);
  return split(x, (size + n - 1) / n, d);
}

Tensor flip(const Tensor& x, const std::vector<int64_t>& dims) {
  check_defined(x, "flip", "x");
  // A view with negated strides, copied out by a strided copy.
  Shape st = x.strides();
  int64_t off = x.offset();
  bool seen[kMaxDims + 1] = {};
  for (int64_t dm : dims) {
    int a = wrap_dim(dm, x.dim(), "flip");
    KILN_CHECK(!seen[a], "flip: dimension ", a, " appears more than once in the flipped dims");
    seen[a] = true;
    if (x.dim() == 0 || x.numel() == 0) continue;
    off += (x.size(a) - 1) * st[a];
    st[a] = -st[a];
  }
  if (x.numel() == 0 || x.dim() == 0) return x.clone();
  Tensor view = x.as_strided(x.shape(), st, off);
  Tensor out = empty(x.shape(), x.dtype(), x.device());
  Loop loop = make_loop(out.shape(), {&out, &view});
  switch (x.device().type) {
    case DeviceType::CPU: cpu::flip_copy(loop, x.element_size(), out.data_ptr(), view.data_ptr()); break;
    case DeviceType::CUDA:
#if KILN_HAVE_CUDA
      cuda::flip_copy(loop, x.element_size(), out.data_ptr(), view.data_ptr(), cuda::prepare(x.device().index));
      break;
#endif
      unsupported_device("flip", x.device());
  }
  return out;
}

Tensor roll(const Tensor& x, const std::vector<int64_t>& shifts, const std::vector<int64_t>& dims) {
  check_defined(x, "roll", "x");
  if (dims.empty()) {
    KILN_CHECK(shifts.size() == 1, "roll: without dims, exactly one shift is expected, got ", shifts.size());
    return roll(x.reshape({-1}), shifts, {0}).view(x.shape());
  }
  KILN_CHECK(shifts.size() == dims.size(), "roll: ", shifts.size(), " shifts for ", dims.size(),
             " dims; they must match");
  // Net shift per dim (a dim may be listed several times), in [0, size).
  std::vector<int64_t> net(size_t(std::max(x.dim(), 1)), 0);
  for (size_t i = 0; i < dims.size(); ++i) net[size_t(wrap_dim(dims[i], x.dim(), "roll"))] += shifts[i];
  Tensor out = empty(x.shape(), x.dtype(), x.device());
  if (x.numel() == 0) return out;
  if (x.dim() == 0) {
    out.copy_(x);
    return out;
  }
  std::vector<int> rolled;
  for (int a = 0; a < x.dim(); ++a) {
    int64_t n = x.size(a);
    net[size_t(a)] = ((net[size_t(a)] % n) + n) % n;
    if (net[size_t(a)] != 0) rolled.push_back(a);
  }
  // Each rolled dim splits into two blocks ([0, n-s) goes to [s, n), [n-s, n) goes to [0, s)):
  // copy the 2^k block combinations.
  const int k = int(rolled.size());
  for (int mask = 0; mask < (1 << k); ++mask) {
    Tensor src = x, dst = out;
    bool empty_block = false;
    for (int j = 0; j < k; ++j) {
      int a = rolled[size_t(j)];
      int64_t n = x.size(a), s = net[size_t(a)];
      if (mask & (1 << j)) {
        src = src.narrow(a, n - s, s);
        dst = dst.narrow(a, 0, s);
      } else {
        src = src.narrow(a, 0, n - s);
        dst = dst.narrow(a, s, n - s);
      }
      empty_block |= src.numel() == 0;
    }
    if (!empty_block) dst.copy_(src);
  }
  return out;
}

namespace {
Tensor triangle(const Tensor& x, int64_t k, bool lower, const char* op) {
  check_defined(x, op, "x");
  KILN_CHECK(x.dim() >= 2, op, ": expects a tensor with at least 2 dimensions, got shape ", x.shape());
  Tensor out = x.clone();
  if (out.numel() == 0) return out;
  const int64_t M = x.size(-2), N = x.size(-1);
  switch (x.device().type) {
    case DeviceType::CPU:
      cpu::triangle_zero(x.element_size(), out.data_ptr(), x.numel() / (M * N), M, N, k, lower);
      break;
    case DeviceType::CUDA:
#if KILN_HAVE_CUDA
      cuda::triangle_zero(x.element_size(), out.data_ptr(), x.numel() / (M * N), M, N, k, lower,
                          cuda::prepare(x.device().index));
      break;
#endif
      unsupported_device(op, x.device());
  }
  return out;
}
}  // namespace

Tensor tril(const Tensor& x, int64_t k) { return triangle(x, k, true, "tril"); }
Tensor triu(const Tensor& x, int64_t k) { return triangle(x, k, false, "triu"); }

Tensor repeat(const Tensor& x, const std::vector<int64_t>& sizes) {
  check_defined(x, "repeat", "x");
  const int nd = int(sizes.size());
  KILN_CHECK(nd >= x.dim(), "repeat: ", nd, " repeat sizes for a tensor with ", x.dim(),
             " dimensions; at least as many are needed");
  KILN_CHECK(nd <= kMaxDims, "repeat: ", nd, " repeat sizes, at most ", kMaxDims, " dimensions are supported");
  Shape padded = Shape::filled(nd, 1), out_shape = Shape::filled(nd, 1);
  for (int i = 0; i < x.dim(); ++i) padded[nd - x.dim() + i] = x.size(i);
  for (int i = 0; i < nd; ++i) {
    KILN_CHECK(sizes[size_t(i)] >= 0, "repeat: repeat sizes must be non-negative, got ", sizes[size_t(i)]);
    out_shape[i] = padded[i] * sizes[size_t(i)];
  }
  Tensor xp = x.reshape(padded);
  Tensor out = empty(out_shape, x.dtype(), x.device());
  if (out.numel() == 0) return out;
  // out viewed as [r0, s0, r1, s1, ...] (dims of size 1 left out) is x broadcast along the r's.
  int needed = 0;
  for (int i = 0; i < nd; ++i) needed += (sizes[size_t(i)] != 1) + (padded[i] != 1 || sizes[size_t(i)] == 1);
  if (needed > kMaxDims) {
    // Too many dims for one view: repeat one dim at a time.
    Tensor cur = xp;
    for (int i = 0; i < nd; ++i)
      if (sizes[size_t(i)] != 1) cur = cat(std::vector<Tensor>(size_t(sizes[size_t(i)]), cur), i);
    return cur;
  }
  Shape vshape, vsrc_strides;
  for (int i = 0; i < nd; ++i) {
    int64_t r = sizes[size_t(i)], s = padded[i];
    if (r != 1) {
      vshape.push_back(r);
      vsrc_strides.push_back(0);
    }
    if (s != 1 || r == 1) {
      vshape.push_back(s);
      vsrc_strides.push_back(xp.stride(i));
    }
  }
  out.view(vshape).copy_(xp.as_strided(vshape, vsrc_strides, xp.offset()));
  return out;
}

Tensor tile(const Tensor& x, const std::vector<int64_t>& reps) {
  check_defined(x, "tile", "x");
  std::vector<int64_t> r = reps;
  while (int(r.size()) < x.dim()) r.insert(r.begin(), 1);
  return repeat(x, r);
}

}  // namespace kiln
