#pragma once
// Softmax and log-softmax over one dimension, CPU kernels.
//
// The tensor is contiguous and viewed as [outer, D, inner]: the softmax runs along D, for each of
// the outer * inner positions. inner == 1 is the fast path (rows of D contiguous values);
// inner > 1 walks D with stride `inner`, processing a tile of contiguous inner positions at once.
// dtype is f32 or f64 (the tensor layer computes f16/bf16 in f32).
#include <cstdint>

#include "kiln/kernels/cpu/isa.h"
#include "kiln/kernels/dtype.h"

// y = softmax(x) (log_softmax when `log`), all of shape [outer, D, inner].
KILN_DECLARE_ISA_FN(void, softmax_forward, kiln::DType dtype, const void* x, void* y, int64_t outer, int64_t D,
                    int64_t inner, bool log)
// dx from dy and the forward output y ([outer, D, inner] each):
//   softmax:     dx = y * (dy - sum_D(dy * y))
//   log_softmax: dx = dy - exp(y) * sum_D(dy)
KILN_DECLARE_ISA_FN(void, softmax_backward, kiln::DType dtype, const void* dy, const void* y, void* dx,
                    int64_t outer, int64_t D, int64_t inner, bool log)

namespace kiln::cpu {
inline void softmax_forward(DType dtype, const void* x, void* y, int64_t outer, int64_t D, int64_t inner, bool log) {
  KILN_ISA_CALL(softmax_forward, dtype, x, y, outer, D, inner, log);
}
inline void softmax_backward(DType dtype, const void* dy, const void* y, void* dx, int64_t outer, int64_t D,
                             int64_t inner, bool log) {
  KILN_ISA_CALL(softmax_backward, dtype, dy, y, dx, outer, D, inner, log);
}
}  // namespace kiln::cpu
