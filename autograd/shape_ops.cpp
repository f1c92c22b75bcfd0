// Differentiable shape ops. Every gradient here is a pure rearrangement of dy (no saved values):
// slices of dy for the joins, joins of dy for the splits, an adjoint copy for the pads, and sums
// over the copies for repeat / tile.
#include "kiln/autograd/shape_ops.h"

#include "kiln/autograd/sum_to.h"
#include "kiln/tensor/creation.h"
#include "kiln/tensor/indexing.h"
#include "kiln/tensor/reduce.h"

namespace kiln::ag {
namespace {

// cat skips 1-d tensors of shape [0] whatever the others' rank (as PyTorch); they get an empty
// gradient of their own shape.
bool skipped_by_cat(const Tensor& t) { return t.dim() == 1 && t.size(0) == 0; }

// A multi-output op made of views of x along dim (split, chunk): x's gradient is the outputs'
// gradients placed back at their offsets.
std::vector<Tensor> record_pieces(const char* name, const Tensor& x, std::vector<Tensor> pieces, int64_t dim) {
  if (!any_requires_grad({&x})) return pieces;
  Shape xs = x.shape();
  const int d = wrap_dim(dim, x.dim(), name);
  std::vector<int64_t> sizes;
  for (auto& p : pieces) sizes.push_back(p.size(d));
  return record(name, {x}, std::move(pieces), [xs, d, sizes](const Grads& g) -> std::vector<Tensor> {
    if (!g.needs[0]) return {Tensor()};
    Tensor dx = kiln::zeros(xs, g[0].dtype(), g[0].device());
    int64_t off = 0;
    for (size_t k = 0; k < sizes.size(); ++k) {
      if (sizes[k] > 0) dx.narrow(d, off, sizes[k]).copy_(g[k]);
      off += sizes[k];
    }
    return {dx};
  });
}

// Where each position of a dim padded by (left, right) in `mode` reads from, in x's size n.
Tensor pad_source_index(int64_t n, int64_t left, int64_t right, PadMode mode, Device device) {
  std::vector<int64_t> src(size_t(n + left + right));
  for (int64_t o = 0; o < n + left + right; ++o) {
    int64_t i = o - left;
    switch (mode) {
      case PadMode::replicate: i = i < 0 ? 0 : (i >= n ? n - 1 : i); break;
      case PadMode::reflect: i = i < 0 ? -i : (i >= n ? 2 * (n - 1) - i : i); break;
      case PadMode::circular: i = ((i % n) + n) % n; break;
      case PadMode::constant: break;  // not used: constant padding crops instead
    }
    src[size_t(o)] = i;
  }
  return kiln::from_vector(src, Shape{int64_t(src.size())}, device);
}

// sum over the copies of a tiling with per-dim counts `reps` (already as long as dy's rank) of a
// tensor of shape `src` (left-padded with 1s to dy's rank): splitting each dim into
// [reps, src] and summing the reps part.
Tensor sum_tiles(Tensor dy, const std::vector<int64_t>& reps, const Shape& xs) {
  const int r = int(reps.size());
  const int lead = r - xs.size();
  for (int d = 0; d < r; ++d) {
    if (reps[size_t(d)] == 1) continue;
    const int64_t s = d < lead ? 1 : xs[d - lead];
    Shape split = dy.shape();
    split[d] = s;
    split.insert(d, reps[size_t(d)]);
    dy = kiln::sum(dy.reshape(split), Shape{d});
  }
  return dy.reshape(xs);
}

}  // namespace

Tensor cat(const std::vector<Tensor>& tensors, int64_t dim) {
  Tensor y = kiln::cat(tensors, dim);
  if (!any_requires_grad(tensors)) return y;
  // The raw op validated the list; the reference for dim is the first tensor it did not skip.
  int d = 0;
  for (const Tensor& t : tensors)
    if (!skipped_by_cat(t)) {
      d = wrap_dim(dim, t.dim(), "cat");
      break;
    }
  std::vector<Shape> shapes;
  for (const Tensor& t : tensors) shapes.push_back(t.shape());
  return record("cat", tensors, y, [shapes, d](const Grads& g) -> std::vector<Tensor> {
    std::vector<Tensor> dx(shapes.size());
    int64_t off = 0;
    for (size_t i = 0; i < shapes.size(); ++i) {
      const bool skip = shapes[i].size() == 1 && shapes[i][0] == 0;
      const int64_t n = skip ? 0 : shapes[i][d];
      if (g.needs[i]) dx[i] = skip ? kiln::zeros(shapes[i], g[0].dtype(), g[0].device()) : g[0].narrow(d, off, n);
      off += n;
    }
    return dx;
  });
}

Tensor stack(const std::vector<Tensor>& tensors, int64_t dim) {
  Tensor y = kiln::stack(tensors, dim);
  if (!any_requires_grad(tensors)) return y;
  const int d = wrap_dim(dim, y.dim(), "stack");
  const size_t n = tensors.size();
  return record("stack", tensors, y, [d, n](const Grads& g) -> std::vector<Tensor> {
    std::vector<Tensor> dx(n);
    for (size_t i = 0; i < n; ++i)
      if (g.needs[i]) dx[i] = g[0].select(d, int64_t(i));
    return dx;
  });
}

std::vector<Tensor> split(const Tensor& x, int64_t split_size, int64_t dim) {
  return record_pieces("split", x, kiln::split(x, split_size, dim), dim);
}

std::vector<Tensor> split(const Tensor& x, const std::vector<int64_t>& sizes, int64_t dim) {
  return record_pieces("split", x, kiln::split(x, sizes, dim), dim);
}

std::vector<Tensor> chunk(const Tensor& x, int64_t n, int64_t dim) {
  return record_pieces("chunk", x, kiln::chunk(x, n, dim), dim);
}

Tensor pad(const Tensor& x, const std::vector<int64_t>& pads, PadMode mode, double value) {
  Tensor y = kiln::pad(x, pads, mode, value);
  if (!any_requires_grad({&x})) return y;
  Shape xs = x.shape();
  return record("pad", {x}, y, [xs, pads, mode](const Grads& g) -> std::vector<Tensor> {
    if (!g.needs[0]) return {Tensor()};
    if (mode == PadMode::constant) {
      // Padding by -p crops what +p added and restores (as zeros) what a negative pad cropped.
      std::vector<int64_t> neg(pads.size());
      for (size_t i = 0; i < pads.size(); ++i) neg[i] = -pads[i];
      return {kiln::pad(g[0], neg, PadMode::constant, 0.0)};
    }
    // The other modes copy source elements into the border independently per dim (out[i, j] =
    // x[f(i), g(j)]), so the adjoint undoes one dim at a time: every output position adds its
    // gradient to the source it was read from. index_add sums in a fixed order (deterministic).
    Tensor dy = g[0];
    for (size_t p = 0; p + 1 < pads.size(); p += 2) {
      const int d = xs.size() - 1 - int(p / 2);
      if (pads[p] == 0 && pads[p + 1] == 0) continue;
      const int64_t n = xs[d];
      Shape s = dy.shape();
      s[d] = n;
      Tensor dx = kiln::zeros(s, dy.dtype(), dy.device());
      dy = kiln::index_add(dx, d, pad_source_index(n, pads[p], pads[p + 1], mode, dy.device()), dy);
    }
    return {dy};
  });
}

Tensor flip(const Tensor& x, const std::vector<int64_t>& dims) {
  Tensor y = kiln::flip(x, dims);
  if (!any_requires_grad({&x})) return y;
  return record("flip", {x}, y, [dims](const Grads& g) -> std::vector<Tensor> {
    return {g.needs[0] ? kiln::flip(g[0], dims) : Tensor()};
  });
}

Tensor roll(const Tensor& x, const std::vector<int64_t>& shifts, const std::vector<int64_t>& dims) {
  Tensor y = kiln::roll(x, shifts, dims);
  if (!any_requires_grad({&x})) return y;
  std::vector<int64_t> back(shifts.size());
  for (size_t i = 0; i < shifts.size(); ++i) back[i] = -shifts[i];
  return record("roll", {x}, y, [back, dims](const Grads& g) -> std::vector<Tensor> {
    return {g.needs[0] ? kiln::roll(g[0], back, dims) : Tensor()};
  });
}

Tensor tril(const Tensor& x, int64_t k) {
  Tensor y = kiln::tril(x, k);
  if (!any_requires_grad({&x})) return y;
  return record("tril", {x}, y, [k](const Grads& g) -> std::vector<Tensor> {
    return {g.needs[0] ? kiln::tril(g[0], k) : Tensor()};
  });
}

Tensor triu(const Tensor& x, int64_t k) {
  Tensor y = kiln::triu(x, k);
  if (!any_requires_grad({&x})) return y;
  return record("triu", {x}, y, [k](const Grads& g) -> std::vector<Tensor> {
    return {g.needs[0] ? kiln::triu(g[0], k) : Tensor()};
  });
}

Tensor repeat(const Tensor& x, const std::vector<int64_t>& sizes) {
  Tensor y = kiln::repeat(x, sizes);
  if (!any_requires_grad({&x})) return y;
  Shape xs = x.shape();
  return record("repeat", {x}, y, [xs, sizes](const Grads& g) -> std::vector<Tensor> {
    return {g.needs[0] ? sum_tiles(g[0], sizes, xs) : Tensor()};
  });
}

Tensor tile(const Tensor& x, const std::vector<int64_t>& reps) {
  Tensor y = kiln::tile(x, reps);
  if (!any_requires_grad({&x})) return y;
  Shape xs = x.shape();
  // tile = repeat with reps left-padded by 1s to x's rank.
  std::vector<int64_t> full(reps);
  while (int(full.size()) < x.dim()) full.insert(full.begin(), 1);
  return record("tile", {x}, y, [xs, full](const Grads& g) -> std::vector<Tensor> {
    return {g.needs[0] ? sum_tiles(g[0], full, xs) : Tensor()};
  });
}

}  // namespace kiln::ag
