#pragma once
// CPU reduction kernels. Every kernel sees its input as a contiguous row-major block
// x[outer, R, inner] and reduces the middle dimension R, writing y[outer, inner] (contiguous):
// inner == 1 is a row reduce (the reduced elements are adjacent), inner > 1 a column reduce
// (vectorised over the kept inner dimension). The tensor layer brings other layouts to this form.
//
// Note [Deterministic reductions]
// Results never depend on the thread count. A row is reduced in fixed chunks of kReduceChunk
// elements, each with a fixed number of independent accumulators (kFoldLanes in
// kernels/cpu/vec/reduce_engine.h, set per instruction set) combined by a fixed tree, and the chunk
// partials are combined left to right (rows shorter than kReduceLanes use two interleaved
// accumulators). A column reduce splits R into fixed chunks (their size depends only on the shape)
// and combines their partials in order. A split reduce (reduce_split) folds each row of B like a
// row reduce and combines the A partials of each kept index in order. Every choice depends on the
// shape only; threads only decide who computes which partial, never how partials are combined.
// The baseline/AVX2/AVX-512 copies are compiled separately and may differ in the last bits of
// floating results (they agree within tolerance).
#include <cstdint>

#include "kiln/kernels/cpu/isa.h"
#include "kiln/kernels/dtype.h"

namespace kiln::cpu {

constexpr int64_t kReduceChunk = 8192;
constexpr int kReduceLanes = 32;  // rows shorter than this skip the lane fold

enum class ReduceKind : uint8_t {
  sum,        // y = sum; out dtype: T for floating, i64 for integers and bool
  mean,       // y = sum / R (floating only)
  prod,       // y = product; out dtype as sum
  max,        // y = max (NaN propagates); out dtype T; R > 0
  min,        // y = min (NaN propagates); out dtype T; R > 0
  any,        // y = any(x != 0); out dtype bool
  all,        // y = all(x != 0); out dtype bool
  norm,       // y = (sum |x|^p)^(1/p), p = params.p > 0 or +inf (max |x|); floating only
  logsumexp,  // y = log(sum exp(x - m)) + m with m the max (0 when m is infinite); floating only
  var,        // y = sum (x - mean)^2 / (R - correction); floating only; aux (if set) gets the mean
  std,        // sqrt of var; aux (if set) gets the mean
};

struct ReduceParams {
  double p = 2;           // norm
  double correction = 1;  // var, std
};

// The output dtype a reduce kind gives for input dtype d.
DType reduce_out_dtype(ReduceKind kind, DType d);

}  // namespace kiln::cpu

// x: contiguous [outer, R, inner] of dtype `dtype`; y: contiguous [outer, inner] of
// reduce_out_dtype(kind, dtype); aux: null or [outer, inner] of `dtype` (var/std: the mean).
KILN_DECLARE_ISA_FN(void, reduce, kiln::cpu::ReduceKind kind, kiln::DType dtype, const void* x, int64_t outer,
                    int64_t R, int64_t inner, void* y, void* aux, const kiln::cpu::ReduceParams& params)
// The same reductions over dims 0 and 2 of a contiguous x[A, K, B], keeping K: y and aux are [K].
KILN_DECLARE_ISA_FN(void, reduce_split, kiln::cpu::ReduceKind kind, kiln::DType dtype, const void* x, int64_t A,
                    int64_t K, int64_t B, void* y, void* aux, const kiln::cpu::ReduceParams& params)
// Arg-reduction over R of x[outer, R, inner] (R > 0): indices (i64, [outer, inner]) of the first
// maximum (is_max) or minimum; a NaN counts as the extreme (the first NaN wins). values: null or
// [outer, inner] of `dtype`, receives the extreme values.
KILN_DECLARE_ISA_FN(void, reduce_arg, bool is_max, kiln::DType dtype, const void* x, int64_t outer, int64_t R,
                    int64_t inner, void* values, int64_t* indices)
// Inclusive scan (cumulative sum, or product when prod) along R of x[outer, R, inner] into y of the
// same shape: dtype T for floating (accumulated in f64), i64 for integers and bool.
KILN_DECLARE_ISA_FN(void, scan, bool prod, kiln::DType dtype, const void* x, int64_t outer, int64_t R,
                    int64_t inner, void* y)

namespace kiln::cpu {
inline void reduce(ReduceKind kind, DType dtype, const void* x, int64_t outer, int64_t R, int64_t inner, void* y,
                   void* aux, const ReduceParams& params) {
  KILN_ISA_CALL(reduce, kind, dtype, x, outer, R, inner, y, aux, params);
}
inline void reduce_split(ReduceKind kind, DType dtype, const void* x, int64_t A, int64_t K, int64_t B, void* y,
                         void* aux, const ReduceParams& params) {
  KILN_ISA_CALL(reduce_split, kind, dtype, x, A, K, B, y, aux, params);
}
inline void reduce_arg(bool is_max, DType dtype, const void* x, int64_t outer, int64_t R, int64_t inner,
                       void* values, int64_t* indices) {
  KILN_ISA_CALL(reduce_arg, is_max, dtype, x, outer, R, inner, values, indices);
}
inline void scan(bool prod, DType dtype, const void* x, int64_t outer, int64_t R, int64_t inner, void* y) {
  KILN_ISA_CALL(scan, prod, dtype, x, outer, R, inner, y);
}
}  // namespace kiln::cpu
