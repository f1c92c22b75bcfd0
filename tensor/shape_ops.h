#pragma once
// Shape ops that move data (PyTorch's semantics): concatenation, splitting, padding, flips,
// rolls, triangles, repeats. Results are new contiguous tensors, except split/chunk which return
// views. Every dtype is supported.
#include <vector>

#include "kiln/tensor/tensor.h"

namespace kiln {

// Joins tensors of one dtype and rank, equal in every dim but `dim`, along `dim`. As PyTorch,
// 1-d empty tensors (shape [0]) are skipped whatever their rank.
Tensor cat(const std::vector<Tensor>& tensors, int64_t dim = 0);
// Joins tensors of one shape and dtype along a new dimension `dim` (in [-(ndim+1), ndim]).
Tensor stack(const std::vector<Tensor>& tensors, int64_t dim = 0);

// Views of x along dim: pieces of split_size (the last may be smaller), or of the given sizes
// (which must sum to x.size(dim)). Note that split(x, {n}) with a one-element braced list calls
// the split_size overload; pass std::vector<int64_t>{n} for a single size.
std::vector<Tensor> split(const Tensor& x, int64_t split_size, int64_t dim = 0);
std::vector<Tensor> split(const Tensor& x, const std::vector<int64_t>& sizes, int64_t dim = 0);
// At most n views of ceil(size / n) elements along dim (fewer when the size does not allow n).
std::vector<Tensor> chunk(const Tensor& x, int64_t n, int64_t dim = 0);

enum class PadMode { constant, reflect, replicate, circular };
// torch.nn.functional.pad: pads = {left, right} for the last dim, then {top, bottom} for the one
// before, ... (an even count, at most 2 * x.dim()). Constant padding accepts negative pads (they
// crop); reflect, replicate and circular need non-negative pads, reflect pads smaller than the
// padded size and circular pads no larger than it, and a non-empty padded size.
Tensor pad(const Tensor& x, const std::vector<int64_t>& pads, PadMode mode = PadMode::constant, double value = 0.0);

// Reverses the order of elements along each of dims.
Tensor flip(const Tensor& x, const std::vector<int64_t>& dims);
// Rolls elements along dims by shifts (element i goes to i + shift, wrapping around); with empty
// dims, x is flattened, rolled by shifts[0] and given its shape back.
Tensor roll(const Tensor& x, const std::vector<int64_t>& shifts, const std::vector<int64_t>& dims = {});

// Lower / upper triangle of the last two dims (x [..., M, N]): keeps element (i, j) when
// j - i <= k (tril) or j - i >= k (triu), zeroes the rest.
Tensor tril(const Tensor& x, int64_t k = 0);
Tensor triu(const Tensor& x, int64_t k = 0);

// Tiles x: sizes has at least x.dim() entries (x gets leading 1-dims to match); the result has
// shape x.shape[i] * sizes[i].
Tensor repeat(const Tensor& x, const std::vector<int64_t>& sizes);
// numpy.tile: as repeat, but reps shorter than x.dim() are padded with leading 1s.
Tensor tile(const Tensor& x, const std::vector<int64_t>& reps);

}  // namespace kiln
