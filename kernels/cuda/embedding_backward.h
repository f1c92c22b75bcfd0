#pragma once
// Deterministic embedding backward on CUDA: dweight [V, D] = sum of the dout rows [M, D] that
// share an index, every row of dweight written (zeros where no index points, and for padding_idx).
// The CPU reference is tensor/indexing.h embedding_backward (kernels/cpu/indexing.h
// index_add_rows). Callable from plain C++; pointers are device memory.
//
// Note [Deterministic embedding backward]
// No float atomics. The (index, position) pairs are radix-sorted by index (cub::DeviceRadixSort,
// stable, so positions stay increasing within an index). The sorted list is cut into pieces at
// every change of index and at every multiple of 32 positions; each piece (at most 32 rows of one
// index) is summed in position order by one block into a partial row, and one block per index
// then adds that index's partial rows in order. Every step is a fixed function of the indices,
// so runs are bit-identical; sums are in the compute type (f32 for f32/f16/bf16, f64 for f64),
// rounded once. The grouping differs from the CPU's single running sum, so values agree with it
// to rounding, exactly when every index occurs at most twice.
#include <cstddef>
#include <cstdint>

#include "kiln/kernels/dtype.h"
#include "kiln/kernels/cuda/stream.h"

namespace kiln::cuda {

// Workspace bytes for M indices, rows of D values, V embeddings (256-byte aligned device memory).
// Asks CUB for its scratch sizes, so it needs a usable device.
size_t embedding_backward_workspace_size(DType dtype, int64_t M, int64_t D, int64_t V);

// dout [M, D] of dtype (f32, f64, f16, bf16), ids [M] int64 in [0, V) (validated by the caller: an
// index outside it is undefined behaviour here), dweight [V, D] of dtype, fully overwritten.
// padding_idx in [0, V) leaves that row zero; a negative padding_idx means none. M < 2^31.
void embedding_backward(DType dtype, const void* dout, const int64_t* ids, int64_t M, int64_t D, int64_t V,
                        int64_t padding_idx, void* dweight, void* workspace, size_t workspace_bytes, Stream stream);

}  // namespace kiln::cuda
