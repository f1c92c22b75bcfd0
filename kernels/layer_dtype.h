#pragma once
// Dtype dispatch of the fused layer kernels (bn_act, lstm_cell, cross_entropy, embedding
// backward), CPU and CUDA alike. Data (activations, gradients) is stored in T, one of f32, f64,
// f16, bf16; per-channel / per-class parameters and saved statistics are stored in the compute
// type compute_t<T> (f64 for f64 data, f32 otherwise), and all arithmetic happens in it.
#include "kiln/kernels/dtype.h"
#include "kiln/kernels/error.h"

namespace kiln {

// Calls f(T{}) for the four floating dtypes; any other dtype is an error naming `op`.
template <class F>
void dispatch_layer_dtype(DType d, const char* op, F&& f) {
  switch (d) {
    case DType::f32: f(float{}); return;
    case DType::f64: f(double{}); return;
    case DType::f16: f(Half{}); return;
    case DType::bf16: f(BFloat16{}); return;
    default: KILN_FAIL(op, ": dtype ", dtype_name(d), " is not a floating dtype (f32, f64, f16, bf16)");
  }
}

}  // namespace kiln
