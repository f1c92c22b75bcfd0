#pragma once
// Indexing ops, with PyTorch's semantics. Index tensors are i64 (i32 accepted); every index is
// bounds-checked and a bad one is reported with its value, its position and the valid range.
// Indices of the positional ops (index_select, gather, scatter*, index_add, index_put,
// take_along_dim) may be negative and then count from the end, in [-n, n); ids (embedding,
// embedding_backward, one_hot) must be in [0, n).
// Ops that add several sources into one destination (scatter_add, index_add, index_put with
// accumulate, embedding_backward) are deterministic: the result does not depend on the number of
// threads (Note [Deterministic accumulation] in kernels/cpu/indexing.h).
// Functions whose name ends in '_' modify their first argument in place and return it.
#include <vector>

#include "kiln/tensor/tensor.h"

namespace kiln {

// x [..., n, ...] with index [m] (or 0-d, as [1]) along dim -> [..., m, ...]: out[.., j, ..] = x[.., index[j], ..].
Tensor index_select(const Tensor& x, int64_t dim, const Tensor& index);

// out has index's shape: out[i][j][k] = x[index[i][j][k]][j][k] for dim 0 (likewise for other
// dims). index has x's rank and index.size(d) <= x.size(d) for d != dim.
Tensor gather(const Tensor& x, int64_t dim, const Tensor& index);
// gather after broadcasting x and index against each other in every dim but `dim`.
Tensor take_along_dim(const Tensor& x, const Tensor& index, int64_t dim);

// A copy of x with out[index[i][j][k]][j][k] = src[i][j][k] for dim 0 (likewise for other dims).
// index, src and x have one rank; index.size(d) <= src.size(d) for all d and <= x.size(d) for
// d != dim; src has x's dtype. With repeated indices the last one (in row-major order) wins.
Tensor scatter(const Tensor& x, int64_t dim, const Tensor& index, const Tensor& src);
Tensor scatter(const Tensor& x, int64_t dim, const Tensor& index, Scalar value);
Tensor scatter_(const Tensor& self, int64_t dim, const Tensor& index, const Tensor& src);
Tensor scatter_(const Tensor& self, int64_t dim, const Tensor& index, Scalar value);
// As scatter, but adds: out[index[i][j][k]][j][k] += src[i][j][k].
Tensor scatter_add(const Tensor& x, int64_t dim, const Tensor& index, const Tensor& src);
Tensor scatter_add_(const Tensor& self, int64_t dim, const Tensor& index, const Tensor& src);

// x where mask is false, value where it is true. mask is bool and broadcasts with x (out-of-place:
// the result has the broadcast shape; in place: mask must broadcast to self's shape).
Tensor masked_fill(const Tensor& x, const Tensor& mask, Scalar value);
Tensor masked_fill_(const Tensor& self, const Tensor& mask, Scalar value);
// 1-d tensor of the elements of x where mask (bool, broadcast with x) is true, in row-major order.
Tensor masked_select(const Tensor& x, const Tensor& mask);

// x [..., n, ...] plus alpha * src [..., m, ...] added at index [m] along dim:
// out[.., index[j], ..] += alpha * src[.., j, ..]. src has x's dtype and shape except along dim.
Tensor index_add(const Tensor& x, int64_t dim, const Tensor& index, const Tensor& src, Scalar alpha = 1);
Tensor index_add_(const Tensor& self, int64_t dim, const Tensor& index, const Tensor& src, Scalar alpha = 1);

// x[indices[0], ..., indices[k-1]] = values (or += when accumulate), as PyTorch's index_put_:
// the k index tensors (i64/i32, or bool masks that stand for their nonzero() coordinates)
// broadcast to one shape B and index the first k dims of x; values broadcast to
// B + x.shape[k:]. Without accumulate, the last of repeated positions wins.
Tensor index_put(const Tensor& x, const std::vector<Tensor>& indices, const Tensor& values,
                 bool accumulate = false);
Tensor index_put_(const Tensor& self, const std::vector<Tensor>& indices, const Tensor& values,
                  bool accumulate = false);
// x[indices[0], ..., indices[k-1]] (advanced indexing read): [B..., x.shape[k:]...].
Tensor index(const Tensor& x, const std::vector<Tensor>& indices);

// Coordinates of the non-zero elements of x: [count, x.dim()] i64, in row-major order.
Tensor nonzero(const Tensor& x);

// index (i64/i32, any shape, values in [0, classes)) -> i64 [..., classes] with a 1 at each index.
// num_classes = -1 uses max(index) + 1.
Tensor one_hot(const Tensor& index, int64_t num_classes = -1);

// weight [V, D], index (i64/i32, any shape, values in [0, V)) -> [index.shape..., D].
Tensor embedding(const Tensor& weight, const Tensor& index);
// Gradient of embedding w.r.t. weight: dout [index.shape..., D] -> dweight [V, D] (dout's dtype);
// rows are summed in index order; the row padding_idx (if >= 0) gets no gradient.
Tensor embedding_backward(const Tensor& dout, const Tensor& index, int64_t num_weights, int64_t padding_idx = -1);

}  // namespace kiln
