// pad: constant padding is a fill plus a strided copy of the kept region; reflect, replicate and
// circular padding map every output coordinate of a padded dim to an input coordinate
// (pad_source_index, kernels/pad_math.h): the CPU gathers rows through per-dim tables of that map
// (cpu::pad_mapped), the CUDA kernel evaluates it per output element (cuda::pad_mapped).
#include <vector>

#include "kiln/kernels/cpu/shape_ops.h"
#include "kiln/kernels/pad_math.h"
#include "kiln/tensor/creation.h"
#include "kiln/tensor/shape_ops.h"

#if KILN_HAVE_CUDA
#include "kiln/kernels/cuda/runtime.h"
#include "kiln/kernels/cuda/shape_ops.h"
#endif

namespace kiln {
namespace {

const char* mode_name(PadMode m) {
  switch (m) {
    case PadMode::constant: return "constant";
    case PadMode::reflect: return "reflect";
    case PadMode::replicate: return "replicate";
    case PadMode::circular: return "circular";
  }
  return "?";
}

PadIndexMode index_mode(PadMode m) {
  switch (m) {
    case PadMode::reflect: return PadIndexMode::reflect;
    case PadMode::replicate: return PadIndexMode::replicate;
    default: return PadIndexMode::circular;
  }
}

}  // namespace

Tensor pad(const Tensor& x, const std::vector<int64_t>& pads, PadMode mode, double value) {
  check_defined(x, "pad", "x");
  KILN_CHECK(pads.size() % 2 == 0, "pad: expects an even number of pads (pairs, last dimension first), got ",
             pads.size());
  const int k = int(pads.size() / 2);
  KILN_CHECK(k <= x.dim(), "pad: ", pads.size(), " pads cover ", k, " dimensions but x has only ", x.dim(),
             " (shape ", x.shape(), ")");
  Shape out_shape = x.shape();
  for (int j = 0; j < k; ++j) {
    int a = x.dim() - 1 - j;
    int64_t before = pads[size_t(2 * j)], after = pads[size_t(2 * j + 1)], n = x.size(a);
    out_shape[a] = n + before + after;
    KILN_CHECK(out_shape[a] >= 0, "pad: pads (", before, ", ", after, ") of dimension ", a, " of size ", n,
               " give a negative size ", out_shape[a]);
    if (mode == PadMode::constant) continue;
    KILN_CHECK(before >= 0 && after >= 0, "pad: ", mode_name(mode), " padding needs non-negative pads, got (",
               before, ", ", after, ") for dimension ", a);
    KILN_CHECK(n > 0 || (before == 0 && after == 0), "pad: ", mode_name(mode), " padding of dimension ", a,
               " needs a non-empty input, got size 0");
    if (mode == PadMode::reflect)
      KILN_CHECK(before < n && after < n, "pad: reflect pads (", before, ", ", after, ") of dimension ", a,
                 " must be smaller than its size ", n);
    if (mode == PadMode::circular)
      KILN_CHECK(before <= n && after <= n, "pad: circular pads (", before, ", ", after, ") of dimension ", a,
                 " must not exceed its size ", n);
  }
  if (mode == PadMode::constant) {
    Tensor out = full(out_shape, Scalar(value), x.dtype(), x.device());
    // The kept part of x (negative pads crop) lands at max(before, 0) in out.
    Tensor src = x, dst = out;
    for (int j = 0; j < k; ++j) {
      int a = x.dim() - 1 - j;
      int64_t before = pads[size_t(2 * j)], after = pads[size_t(2 * j + 1)], n = x.size(a);
      int64_t b = before < 0 ? -before : 0, e = after < 0 ? n + after : n;
      int64_t len = std::max<int64_t>(0, e - b);
      src = src.narrow(a, std::min(b, n), len);
      dst = dst.narrow(a, before > 0 ? before : 0, len);
    }
    if (src.numel() > 0) dst.copy_(src);
    return out;
  }
  Tensor out = empty(out_shape, x.dtype(), x.device());
  if (out.numel() == 0 || k == 0) {
    if (k == 0) out.copy_(x);
    return out;
  }
  // The padded dims in natural (outermost first) order: sizes, front pads, and the rest as `outer`.
  const PadIndexMode im = index_mode(mode);
  const size_t nk = static_cast<size_t>(k);
  std::vector<int64_t> in_sizes(nk), out_sizes(nk), before(nk);
  for (int d = 0; d < k; ++d) {
    int a = x.dim() - k + d;
    in_sizes[size_t(d)] = x.size(a);
    out_sizes[size_t(d)] = out_shape[a];
    before[size_t(d)] = pads[size_t(2 * (x.dim() - 1 - a))];
  }
  int64_t outer = 1;
  for (int a = 0; a < x.dim() - k; ++a) outer *= x.size(a);
  Tensor xc = x.contiguous();
  switch (x.device().type) {
    case DeviceType::CPU: {
      // One index table per padded dim (cpu::pad_mapped gathers rows through them).
      std::vector<std::vector<int64_t>> maps(nk);
      std::vector<const int64_t*> map_ptrs(nk);
      for (int d = 0; d < k; ++d) {
        auto& m = maps[size_t(d)];
        m.resize(size_t(out_sizes[size_t(d)]));
        for (int64_t c = 0; c < out_sizes[size_t(d)]; ++c)
          m[size_t(c)] = pad_source_index(im, c, before[size_t(d)], in_sizes[size_t(d)]);
        map_ptrs[size_t(d)] = m.data();
      }
      cpu::pad_mapped(x.element_size(), xc.data_ptr(), out.data_ptr(), outer, k, in_sizes.data(), out_sizes.data(),
                      map_ptrs.data());
      break;
    }
    case DeviceType::CUDA:
#if KILN_HAVE_CUDA
      cuda::pad_mapped(x.element_size(), xc.data_ptr(), out.data_ptr(), outer, k, in_sizes.data(), out_sizes.data(),
                       before.data(), im, cuda::prepare(x.device().index));
      break;
#endif
      unsupported_device("pad", x.device());
  }
  return out;
}

}  // namespace kiln
