// CUDA kernel of the fused augmentation. All per-pixel maths is shared with the CPU twin
// (kernels/augment_math.h, aug_output_pixel in kernels/augment.h); this file only maps threads to
// output pixels. Per-sample records are resolved on the host (aug_resolve: double-precision
// composition of the geometry) and copied into the caller's workspace.
#include <algorithm>
#include <vector>

#include "kiln/kernels/cuda/augment.h"
#include "kiln/kernels/cuda/check.h"

namespace kiln::cuda {

namespace {

constexpr int kThreads = 256;
constexpr int64_t kMaxBlocks = 1 << 20;  // grid-stride beyond this (gridDim.x <= 2^31 - 1 anyway)

int blocks_for(int64_t n) { return int(std::min<int64_t>((n + kThreads - 1) / kThreads, kMaxBlocks)); }

template <class TIn, class TOut, int kC>
__global__ void __launch_bounds__(kThreads)
    augment_images_kernel(AugImageArgs a, const AugResolved* __restrict__ res, const TIn* __restrict__ in,
                          TOut* __restrict__ out) {
  const int64_t per_sample = a.OH * a.OW;
  const int64_t total = a.B * per_sample;
  const int64_t in_sample = a.C * a.H * a.W;
  for (int64_t i = int64_t(blockIdx.x) * kThreads + threadIdx.x; i < total; i += int64_t(gridDim.x) * kThreads) {
    const int64_t b = i / per_sample;
    const int64_t rem = i - b * per_sample;
    const int64_t oy = rem / a.OW, ox = rem - oy * a.OW;
    float v[kC > 0 ? kC : kAugMaxChannels];
    aug_output_pixel<TIn, kC>(a, res[b], in + b * in_sample, oy, ox, v);
    const int C = kC > 0 ? kC : int(a.C);
#pragma unroll
    for (int c = 0; c < C; ++c) out[aug_output_offset(a, b, c, oy, ox)] = TOut(v[c]);
  }
}

template <class TM>
__global__ void __launch_bounds__(kThreads)
    augment_masks_kernel(AugImageArgs a, const AugResolved* __restrict__ res, const TM* __restrict__ in,
                         TM* __restrict__ out) {
  const int64_t per_sample = a.OH * a.OW;
  const int64_t total = a.B * per_sample;
  for (int64_t i = int64_t(blockIdx.x) * kThreads + threadIdx.x; i < total; i += int64_t(gridDim.x) * kThreads) {
    const int64_t b = i / per_sample;
    const int64_t rem = i - b * per_sample;
    const int64_t oy = rem / a.OW, ox = rem - oy * a.OW;
    const AugResolved& r = res[b];
    float sx, sy;
    aug_map_pixel(r.map, float(ox), float(oy), (r.flags & kAugProjective) != 0, sx, sy);
    out[i] = aug_sample_mask(in + b * a.H * a.W, a.H, a.W, sx, sy, a.padding, a.align_corners);
  }
}

// Resolves every sample on the host and copies the records to the workspace (stream-ordered; the
// copy from pageable memory is staged before cudaMemcpyAsync returns).
const AugResolved* upload_records(const char* op, const AugImageArgs& a, const AugSampleParams* params,
                                  void* workspace, size_t workspace_bytes, Stream stream) {
  const size_t need = augment_workspace_size(a.B);
  KILN_CHECK(workspace != nullptr && workspace_bytes >= need, op, ": workspace of ", workspace_bytes,
             " bytes, need ", need);
  KILN_CHECK(reinterpret_cast<uintptr_t>(workspace) % alignof(AugResolved) == 0, op,
             ": workspace is not aligned to ", alignof(AugResolved), " bytes");
  std::vector<AugResolved> res(size_t(a.B));
  for (int64_t b = 0; b < a.B; ++b) res[size_t(b)] = aug_resolve(params[b], a);
  KILN_CUDA_CHECK(cudaMemcpyAsync(workspace, res.data(), res.size() * sizeof(AugResolved), cudaMemcpyHostToDevice,
                                  stream));
  return static_cast<const AugResolved*>(workspace);
}

template <class TIn, class TOut>
void launch_images(const AugImageArgs& a, const AugResolved* res, const void* in, void* out, Stream stream) {
  const int blocks = blocks_for(a.B * a.OH * a.OW);
  const TIn* x = static_cast<const TIn*>(in);
  TOut* y = static_cast<TOut*>(out);
  if (a.C == 3) {
    augment_images_kernel<TIn, TOut, 3><<<blocks, kThreads, 0, stream>>>(a, res, x, y);
  } else if (a.C == 1) {
    augment_images_kernel<TIn, TOut, 1><<<blocks, kThreads, 0, stream>>>(a, res, x, y);
  } else {
    augment_images_kernel<TIn, TOut, 0><<<blocks, kThreads, 0, stream>>>(a, res, x, y);
  }
  KILN_CUDA_CHECK_LAUNCH("augment_images_kernel");
}

template <class TIn>
void launch_images_in(const AugImageArgs& a, const AugResolved* res, const void* in, void* out, Stream stream) {
  switch (a.out_dtype) {
    case DType::f16: return launch_images<TIn, Half>(a, res, in, out, stream);
    case DType::bf16: return launch_images<TIn, BFloat16>(a, res, in, out, stream);
    default: return launch_images<TIn, float>(a, res, in, out, stream);
  }
}

template <class TM>
void launch_masks(const AugImageArgs& a, const AugResolved* res, const void* in, void* out, Stream stream) {
  augment_masks_kernel<TM><<<blocks_for(a.B * a.OH * a.OW), kThreads, 0, stream>>>(
      a, res, static_cast<const TM*>(in), static_cast<TM*>(out));
  KILN_CUDA_CHECK_LAUNCH("augment_masks_kernel");
}

}  // namespace

size_t augment_workspace_size(int64_t B) { return B > 0 ? size_t(B) * sizeof(AugResolved) : 0; }

void augment_images(const AugImageArgs& a, const AugSampleParams* params, const void* in, void* out,
                    void* workspace, size_t workspace_bytes, Stream stream) {
  check_augment_args("cuda::augment_images", a, params);
  const AugResolved* res = upload_records("cuda::augment_images", a, params, workspace, workspace_bytes, stream);
  if (a.in_dtype == DType::u8)
    launch_images_in<uint8_t>(a, res, in, out, stream);
  else
    launch_images_in<float>(a, res, in, out, stream);
}

void augment_masks(const AugImageArgs& a, const AugSampleParams* params, DType mask_dtype, const void* in,
                   void* out, void* workspace, size_t workspace_bytes, Stream stream) {
  check_augment_mask_args("cuda::augment_masks", a, mask_dtype);
  KILN_CHECK(params != nullptr, "cuda::augment_masks: no per-sample parameters");
  const AugResolved* res = upload_records("cuda::augment_masks", a, params, workspace, workspace_bytes, stream);
  switch (mask_dtype) {
    case DType::u8: return launch_masks<uint8_t>(a, res, in, out, stream);
    case DType::i32: return launch_masks<int32_t>(a, res, in, out, stream);
    default: return launch_masks<int64_t>(a, res, in, out, stream);
  }
}

}  // namespace kiln::cuda
