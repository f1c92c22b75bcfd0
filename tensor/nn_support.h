#pragma once
// Internal helpers shared by the NN primitive ops (softmax, pool, norm, interpolate, grid_sample).
// Not part of the public API (ops.h does not include it).
//
// Note [NN compute dtype]
// The CPU kernels of these ops exist for f32 and f64 only. f16 and bf16 inputs are converted to f32
// by the tensor layer, computed in f32 and the result converted back, which is what "stored
// natively, computed in f32" means for ops that read each value more than once.
#include "kiln/tensor/tensor.h"

namespace kiln::nn_detail {

// Throws unless t is defined and of a floating dtype, naming the op and the argument.
inline void check_float(const Tensor& t, const char* op, const char* arg) {
  check_defined(t, op, arg);
  KILN_CHECK(is_floating(t.dtype()), op, ": argument '", arg, "' must be a floating tensor, got dtype ",
             dtype_name(t.dtype()));
}

// The dtype the kernels compute in for storage dtype d (Note [NN compute dtype]).
inline DType compute_dtype(DType d) { return d == DType::f64 ? DType::f64 : DType::f32; }

// t contiguous and in its compute dtype.
inline Tensor to_compute(const Tensor& t) { return t.to(compute_dtype(t.dtype())).contiguous(); }

// t contiguous in dtype d (for optional per-channel parameters, which follow the input's dtype).
inline Tensor contiguous_as(const Tensor& t, DType d) { return t.to(d).contiguous(); }

}  // namespace kiln::nn_detail
