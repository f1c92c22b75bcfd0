#pragma once
// Fused batch augmentation on CUDA: the same call, maths and results as kernels/cpu/augment.h
// (kernels/augment.h: arguments, layouts; kernels/augment_math.h: per-pixel maths). Callable from
// plain C++. `in`, `out` and `workspace` are device memory; `params` is host memory (each sample's
// record is resolved on the host and copied to the workspace on `stream`, so the host array may
// be reused as soon as the call returns).
//
// One thread per output pixel (all its channels), consecutive threads on consecutive output
// pixels of a row: each channel plane of an NCHW output is written coalesced, an NHWC output as one
// contiguous run per warp. Coordinates are bit-identical to the CPU's (Note [Augmentation
// coordinate map]); values agree to a few ulps (device expf / logf / cosf vs the host's libm).
#include <cstddef>
#include <cstdint>

#include "kiln/kernels/augment.h"
#include "kiln/kernels/cuda/stream.h"

namespace kiln::cuda {

// Bytes of device workspace augment_images / augment_masks need for a batch of B samples.
size_t augment_workspace_size(int64_t B);

// As cpu::augment_images. Errors (bad arguments, too small a workspace, launch failures) throw kiln::Error.
void augment_images(const AugImageArgs& a, const AugSampleParams* params, const void* in, void* out,
                    void* workspace, size_t workspace_bytes, Stream stream);

// As cpu::augment_masks.
void augment_masks(const AugImageArgs& a, const AugSampleParams* params, DType mask_dtype, const void* in,
                   void* out, void* workspace, size_t workspace_bytes, Stream stream);

}  // namespace kiln::cuda
