#pragma once
// 2-d pooling CPU kernels over contiguous planes: x is [P, H, W] (P = N * C planes), outputs are
// [P, OH, OW]. Indices are flat positions ih * W + iw inside the input plane (as PyTorch). dtype
// is f32 or f64. Work is split over planes; each plane is processed by one thread, so the
// scatter-adds of the backward kernels are deterministic.
#include <cstdint>

#include "kiln/kernels/cpu/isa.h"
#include "kiln/kernels/dtype.h"

namespace kiln::cpu {

// Geometry of a sliding-window pool; the tensor layer validates it and computes OH, OW.
struct Pool2dGeom {
  int64_t H, W, OH, OW;
  int64_t kh, kw, sh, sw, ph, pw, dh, dw;
};

// y = window max, idx = its flat input position (the first maximum; NaN wins, as PyTorch).
void max_pool2d_forward(DType dtype, const void* x, void* y, int64_t* idx, int64_t planes, const Pool2dGeom& g);
// dx[p, idx[p, o]] += dy[p, o] with dx ([P, in_plane]) zeroed first. Out-of-range indices are
// skipped and make the function return false.
bool max_pool2d_backward(DType dtype, const void* dy, const int64_t* idx, void* dx, int64_t planes,
                         int64_t in_plane, int64_t out_plane);

// Average over the window clipped to the padded input; the divisor is `divisor` when > 0, else
// the window size counted with padding (count_include_pad) or without it.
void avg_pool2d_forward(DType dtype, const void* x, void* y, int64_t planes, const Pool2dGeom& g,
                        bool count_include_pad, int64_t divisor);
// dx (zeroed first) receives dy / divisor on every input position of each window.
void avg_pool2d_backward(DType dtype, const void* dy, void* dx, int64_t planes, const Pool2dGeom& g,
                         bool count_include_pad, int64_t divisor);

// Adaptive pools: output cell (oh, ow) covers rows [floor(oh*H/OH), ceil((oh+1)*H/OH)) and the
// same for columns.
void adaptive_avg_pool2d_forward(DType dtype, const void* x, void* y, int64_t planes, int64_t H, int64_t W,
                                 int64_t OH, int64_t OW);
void adaptive_avg_pool2d_backward(DType dtype, const void* dy, void* dx, int64_t planes, int64_t H, int64_t W,
                                  int64_t OH, int64_t OW);
void adaptive_max_pool2d_forward(DType dtype, const void* x, void* y, int64_t* idx, int64_t planes, int64_t H,
                                 int64_t W, int64_t OH, int64_t OW);

}  // namespace kiln::cpu

// The per-ISA body of max_pool2d_forward (kernels/cpu/vec/pool.cpp).
KILN_DECLARE_ISA_FN(void, max_pool2d_forward_isa, kiln::DType dtype, const void* x, void* y, int64_t* idx,
                    int64_t planes, const kiln::cpu::Pool2dGeom& g)
