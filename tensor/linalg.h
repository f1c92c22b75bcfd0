#pragma once
// Matrix products. f32 and f64 run on the packed, multithreaded GEMM (kernels/cpu/gemm.h);
// transposed or strided inputs are passed to it as transpose flags and leading dimensions, copied
// only when no such description exists. f16 and bf16 are computed in f32 and rounded once;
// integer dtypes use a plain loop with an int64 accumulator; bool is refused. Both operands must
// have the same dtype and device. Outputs are new contiguous tensors.
// On CUDA: floating dtypes run on cuBLAS (kernels/cuda/blas.h: f32 in FP32 unless allow_tf32(),
// f16/bf16 with f32 accumulation, f64), transposed views again as transpose flags; integers on a
// plain kiln kernel with an int64 accumulator; dot accumulates in f64 / int64 as on the CPU.
#include "kiln/tensor/tensor.h"

namespace kiln {

// [M, K] x [K, N] -> [M, N].
Tensor mm(const Tensor& a, const Tensor& b);

// [B, M, K] x [B, K, N] -> [B, M, N] (same B, no broadcasting).
Tensor bmm(const Tensor& a, const Tensor& b);

// numpy / torch.matmul rules:
//   1-D x 1-D: dot product, a 0-d tensor;
//   2-D x 2-D: mm;
//   1-D x N-D: a is treated as [1, K] and that dimension is removed from the result;
//   N-D x 1-D: b is treated as [K, 1] and that dimension is removed from the result;
//   otherwise batched: the leading (batch) dimensions broadcast, e.g.
//   [2, 1, M, K] x [3, K, N] -> [2, 3, M, N].
Tensor matmul(const Tensor& a, const Tensor& b);

// beta * c + alpha * (a x b): a [M, K], b [K, N], c broadcastable to [M, N]. With beta == 0, c is
// not read (NaN in c does not propagate). Integer dtypes need integral alpha and beta.
Tensor addmm(const Tensor& c, const Tensor& a, const Tensor& b, Scalar beta = 1, Scalar alpha = 1);

// Outer product: a [N], b [M] -> [N, M].
Tensor outer(const Tensor& a, const Tensor& b);

// Dot product of two 1-D tensors of the same length -> 0-d tensor. Floating dtypes accumulate in
// f64, integers in int64.
Tensor dot(const Tensor& a, const Tensor& b);

}  // namespace kiln
