#pragma once
// Multi-tensor fused optimizer steps on CUDA (Note [Fused optimizer semantics] in
// kernels/optim_fused.h). One launch updates a whole group: the tensor list is cut into chunks
// whose pointers and sizes travel in the kernel's parameter block (relaunching when a block is
// full); lamb and larc run two phases (per-tensor norms, deterministic, then the update).
// Callable from plain C++ (no CUDA headers needed); pointers in FusedTensorArgs are device
// pointers, the list itself lives on the host.
#include <cstdint>

#include "kiln/kernels/optim_fused.h"
#include "kiln/kernels/cuda/stream.h"

namespace kiln::cuda {

// found_inf: optional device int; when non-null and non-zero at launch time the step is skipped
// (every buffer left untouched). Errors (launch failures) throw kiln::Error via KILN_CUDA_CHECK.
// Asynchronous on `stream` (no host synchronisation). Argument checks are those of
// optim_kernels::check_fused_args. Any pointer alignment works; tensors whose buffers are all
// aligned to four elements take the vector path. lamb / larc take a small scratch buffer
// (2 doubles per 64K-element chunk + 1 float per tensor) from the caching allocator on the stream.
void fused_optim_step(const optim_kernels::FusedGroupArgs& group, DType param_dtype, DType grad_dtype,
                      const optim_kernels::FusedTensorArgs* tensors, int64_t count,
                      const int* found_inf, Stream stream);

// Sets *found_inf (device int) to 1 when any gradient element is NaN or infinite; never clears it.
void nonfinite_check(const void* const* grads, const int64_t* n, int64_t count, DType grad_dtype,
                     int* found_inf, Stream stream);

}  // namespace kiln::cuda
