#pragma once
// CUDA reductions, arg-reductions and scans: the entry points of kernels/cpu/reduce.h with the same
// arguments, layouts, dtypes and results (within floating-point tolerance), on device pointers,
// queued on `stream` (asynchronous: nothing here waits for the device). Callable from plain C++.
//
// x is a contiguous row-major x[outer, R, inner] reduced over R into y[outer, inner] (contiguous),
// or for reduce_split x[A, K, B] reduced over A and B into y[K]. Output dtypes follow
// cpu::reduce_out_dtype; accumulation types are the CPU's (kernels/reduce_math.h).
// Deterministic: fixed reduction trees chosen from the shape only, no atomics (Note [CUDA
// reduction layouts] in kernels/cuda/reduce_kernels.cuh). Long reductions take scratch memory from
// the caching allocator (kernels/cuda/allocator.h) on `stream`.
#include <cstdint>

#include "kiln/kernels/cpu/reduce.h"
#include "kiln/kernels/cuda/stream.h"
#include "kiln/kernels/dtype.h"

namespace kiln::cuda {

// As cpu::reduce: aux is null or [outer, inner] of `dtype` (var/std: receives the mean).
void reduce(cpu::ReduceKind kind, DType dtype, const void* x, int64_t outer, int64_t R, int64_t inner, void* y,
            void* aux, const cpu::ReduceParams& params, Stream stream);
// As cpu::reduce_split: x[A, K, B] reduced over dims 0 and 2; y and aux are [K].
void reduce_split(cpu::ReduceKind kind, DType dtype, const void* x, int64_t A, int64_t K, int64_t B, void* y,
                  void* aux, const cpu::ReduceParams& params, Stream stream);
// As cpu::reduce_arg (R > 0 unless outer * inner == 0): i64 indices [outer, inner] of the first
// maximum (is_max) or minimum, a NaN counting as the extreme (the first NaN wins); values null or
// [outer, inner] of `dtype`.
void reduce_arg(bool is_max, DType dtype, const void* x, int64_t outer, int64_t R, int64_t inner, void* values,
                int64_t* indices, Stream stream);
// As cpu::scan: inclusive cumulative sum (or product) along R of x[outer, R, inner] into y of the same
// shape, dtype T for floating inputs (accumulated in f64), i64 for integers and bool.
void scan(bool prod, DType dtype, const void* x, int64_t outer, int64_t R, int64_t inner, void* y, Stream stream);

}  // namespace kiln::cuda
