#pragma once
// Fused optimizer steps on the CPU (Note [Fused optimizer semantics] in kernels/optim_fused.h):
// one pass per tensor over param / grad / state, threaded over the pool, deterministic (norms for
// lamb / larc use fixed chunking). Also the reference the CUDA multi-tensor kernels are tested
// against.
#include <cstdint>

#include "kiln/kernels/cpu/isa.h"
#include "kiln/kernels/optim_fused.h"
#include "kiln/kernels/optim_math.h"

namespace kiln::cpu {

// Updates every tensor of `tensors` in place. Throws kiln::Error for an unsupported dtype or a
// missing buffer the kind needs (naming the tensor index; optim_kernels::check_fused_args: f16 /
// bf16 parameters need an f32 master). Any pointer alignment works.
void fused_optim_step(const optim_kernels::FusedGroupArgs& group, DType param_dtype, DType grad_dtype,
                      const optim_kernels::FusedTensorArgs* tensors, int64_t count);

// True when any gradient element (of `count` tensors, n[i] elements each, dtype grad_dtype) is
// NaN or infinite.
bool any_nonfinite(const void* const* grads, const int64_t* n, int64_t count, DType grad_dtype);

}  // namespace kiln::cpu

// Per-ISA pieces (Note [ISA dispatch], kernels/cpu/vec/optim.cpp); the functions above cut the
// work into ranges and call the copy for the running CPU.
// optim_update_range: elements [begin, end) of tensor t under rule `rule` (not a norms rule).
// optim_norms_range: the norms rule over [begin, end) of tensor t, which must start at a fixed
// chunk boundary; adds nothing to state it does not own, returns the two sums of squares.
// nonfinite_range: whether elements [begin, end) of one gradient hold a NaN or an inf.
KILN_DECLARE_ISA_FN(void, optim_update_range, kiln::optim_kernels::Rule rule,
                    const kiln::optim_kernels::GroupScalars& gs, const kiln::optim_kernels::TensorScalars& ts,
                    kiln::DType param_dtype, kiln::DType grad_dtype, const kiln::optim_kernels::FusedTensorArgs& t,
                    int64_t begin, int64_t end)
KILN_DECLARE_ISA_FN(void, optim_norms_range, kiln::optim_kernels::Rule rule,
                    const kiln::optim_kernels::GroupScalars& gs, const kiln::optim_kernels::TensorScalars& ts,
                    kiln::DType param_dtype, kiln::DType grad_dtype, const kiln::optim_kernels::FusedTensorArgs& t,
                    int64_t begin, int64_t end, double* sum_a, double* sum_b)
KILN_DECLARE_ISA_FN(bool, nonfinite_range, kiln::DType grad_dtype, const void* grad, int64_t begin, int64_t end)
