#pragma once
// Index maps of the non-constant pad modes (tensor/shape_ops.h pad), shared by the CPU path
// (tensor/shape_ops_pad.cpp builds per-dim tables from it) and the CUDA kernel (which evaluates it
// per element), so both devices read the same input element for every output element.
#include <cstdint>

#include "kiln/kernels/macros.h"

namespace kiln {

enum class PadIndexMode : uint8_t { reflect, replicate, circular };

// Input coordinate read by output coordinate c of a dim of size n (> 0) padded by `before` in
// front: reflect mirrors about the edge elements (needs pads < n), replicate clamps, circular wraps.
KILN_HD int64_t pad_source_index(PadIndexMode mode, int64_t c, int64_t before, int64_t n) {
  int64_t i = c - before;
  switch (mode) {
    case PadIndexMode::reflect:
      if (i < 0) i = -i;
      if (i >= n) i = 2 * (n - 1) - i;
      return i;
    case PadIndexMode::replicate: return i < 0 ? 0 : (i >= n ? n - 1 : i);
    case PadIndexMode::circular: return ((i % n) + n) % n;
  }
  return i;
}

}  // namespace kiln
