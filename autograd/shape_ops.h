#pragma once
// Differentiable shape ops: the same names, arguments and results as tensor/shape_ops.h.
#include <vector>

#include "kiln/autograd/node.h"
#include "kiln/tensor/shape_ops.h"

namespace kiln::ag {

// Joins tensors along `dim` (1-d empty tensors are skipped, as the raw op). Each input's gradient
// is its slice of dy.
Tensor cat(const std::vector<Tensor>& tensors, int64_t dim = 0);
// Joins tensors of one shape along a new dimension `dim`. Gradient: select of dy.
Tensor stack(const std::vector<Tensor>& tensors, int64_t dim = 0);

// Views of x along dim, as kiln::split / kiln::chunk. All pieces are outputs of one node: the
// gradient of x is the pieces' gradients joined along dim, zeros for pieces that got none.
std::vector<Tensor> split(const Tensor& x, int64_t split_size, int64_t dim = 0);
std::vector<Tensor> split(const Tensor& x, const std::vector<int64_t>& sizes, int64_t dim = 0);
std::vector<Tensor> chunk(const Tensor& x, int64_t n, int64_t dim = 0);

// torch.nn.functional.pad, see kiln::pad. Gradient: constant -> the crop of dy (the padding
// value gets none); reflect / replicate / circular -> dy's border elements added back onto the
// source elements they were copied from.
Tensor pad(const Tensor& x, const std::vector<int64_t>& pads, PadMode mode = PadMode::constant, double value = 0.0);

// Reverses along dims. Gradient: flip(dy, dims).
Tensor flip(const Tensor& x, const std::vector<int64_t>& dims);
// Rolls along dims by shifts. Gradient: roll(dy, -shifts, dims).
Tensor roll(const Tensor& x, const std::vector<int64_t>& shifts, const std::vector<int64_t>& dims = {});
// Lower / upper triangle of the last two dims. Gradient: tril / triu of dy with the same k.
Tensor tril(const Tensor& x, int64_t k = 0);
Tensor triu(const Tensor& x, int64_t k = 0);
// Tiles x (sizes.size() >= x.dim()); tile pads short reps with leading 1s. Gradient: dy summed
// over the copies.
Tensor repeat(const Tensor& x, const std::vector<int64_t>& sizes);
Tensor tile(const Tensor& x, const std::vector<int64_t>& reps);

}  // namespace kiln::ag
