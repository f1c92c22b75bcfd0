// Boolean-mask ops: masked_fill, masked_select, nonzero.
#include <vector>

#include "kiln/kernels/cpu/indexing.h"
#include "kiln/kernels/cpu/parallel.h"
#include "kiln/tensor/creation.h"
#include "kiln/tensor/indexing.h"
#include "kiln/tensor/iterator.h"

#if KILN_HAVE_CUDA
#include <cstring>

#include "kiln/kernels/cuda/indexing.h"
#include "kiln/kernels/cuda/runtime.h"
#endif

namespace kiln {
namespace {

void check_mask(const Tensor& x, const Tensor& mask, const char* op) {
  check_defined(x, op, "x");
  check_defined(mask, op, "mask");
  check_same_device(x, mask, op);
  KILN_CHECK(mask.dtype() == DType::b8, op, ": mask must have dtype bool, got ", dtype_name(mask.dtype()));
}

// Exclusive prefix sums of the per-chunk true counts of a contiguous bool tensor; returns the total.
int64_t chunk_offsets(const Tensor& mask, std::vector<int64_t>& offsets) {
  int64_t n = mask.numel();
  std::vector<int64_t> counts(size_t(cpu::num_chunks(n, cpu::kMaskChunk)));
  cpu::count_true(mask.data<bool>(), n, counts.data());
  offsets.assign(counts.size(), 0);
  int64_t total = 0;
  for (size_t c = 0; c < counts.size(); ++c) {
    offsets[c] = total;
    total += counts[c];
  }
  return total;
}

}  // namespace

Tensor masked_fill_(const Tensor& self, const Tensor& mask, Scalar value) {
  check_mask(self, mask, "masked_fill_");
  Shape b = broadcast_shapes(self.shape(), mask.shape(), "masked_fill_");
  KILN_CHECK(b == self.shape(), "masked_fill_: mask of shape ", mask.shape(), " does not broadcast to self's shape ",
             self.shape());
  if (self.numel() == 0) return self;
  check_writable(self, "masked_fill_");
  switch (self.device().type) {
    case DeviceType::CPU: {
      Tensor v = scalar_tensor(value, self.dtype());
      Loop loop = make_loop(self.shape(), {&self, &mask});
      cpu::masked_fill_loop(loop, self.element_size(), self.data_ptr(), mask.data<bool>(), v.data_ptr());
      break;
    }
    case DeviceType::CUDA: {
#if KILN_HAVE_CUDA
      Tensor v = scalar_tensor(value, self.dtype());
      uint64_t bits = 0;
      std::memcpy(&bits, v.data_ptr(), size_t(self.element_size()));
      Tensor m = mask.expand(self.shape());
      cuda::masked_fill(self.element_size(), self.dim(), self.shape().data(), self.strides().data(),
                        m.strides().data(), self.data_ptr(), m.data<bool>(), bits, cuda::prepare(self.device().index));
      break;
#endif
      unsupported_device("masked_fill", self.device());
    }
  }
  self.bump_version();
  return self;
}

Tensor masked_fill(const Tensor& x, const Tensor& mask, Scalar value) {
  check_mask(x, mask, "masked_fill");
  Shape b = broadcast_shapes(x.shape(), mask.shape(), "masked_fill");
  Tensor out = empty(b, x.dtype(), x.device());
  out.copy_(x);
  return masked_fill_(out, mask, value);
}

Tensor masked_select(const Tensor& x, const Tensor& mask) {
  check_mask(x, mask, "masked_select");
  Shape b = broadcast_shapes(x.shape(), mask.shape(), "masked_select");
  switch (x.device().type) {
    case DeviceType::CPU: {
      Tensor xb = x.expand(b).contiguous();
      Tensor mb = mask.expand(b).contiguous();
      std::vector<int64_t> offsets;
      int64_t total = chunk_offsets(mb, offsets);
      Tensor out = empty({total}, x.dtype(), x.device());
      if (total > 0)
        cpu::masked_select(x.element_size(), xb.data_ptr(), mb.data<bool>(), mb.numel(), offsets.data(), out.data_ptr());
      return out;
    }
    case DeviceType::CUDA: {
#if KILN_HAVE_CUDA
      Tensor xb = x.expand(b).contiguous();
      Tensor mb = mask.expand(b).contiguous();
      const int64_t n = mb.numel();
      Tensor incl = empty({n}, DType::i64, x.device());
      cuda::Stream stream = cuda::prepare(x.device().index);
      // One synchronisation: the output size is the number of true values.
      const int64_t total = cuda::mask_count(mb.data<bool>(), n, incl.data<int64_t>(), stream);
      Tensor out = empty({total}, x.dtype(), x.device());
      if (total > 0)
        cuda::masked_select(x.element_size(), xb.data_ptr(), mb.data<bool>(), incl.data<int64_t>(), n, out.data_ptr(),
                            stream);
      return out;
#endif
      unsupported_device("masked_select", x.device());
    }
  }
  return Tensor();
}

Tensor nonzero(const Tensor& x) {
  check_defined(x, "nonzero", "x");
  switch (x.device().type) {
    case DeviceType::CPU: {
      Tensor mask = x.to(DType::b8).contiguous();
      std::vector<int64_t> offsets;
      int64_t total = chunk_offsets(mask, offsets);
      Tensor out = empty({total, int64_t(x.dim())}, DType::i64, x.device());
      if (total > 0 && x.dim() > 0)
        cpu::nonzero_coords(mask.data<bool>(), x.dim(), x.shape().data(), offsets.data(), out.data<int64_t>());
      return out;
    }
    case DeviceType::CUDA: {
#if KILN_HAVE_CUDA
      Tensor mask = x.to(DType::b8).contiguous();
      const int64_t n = mask.numel();
      Tensor incl = empty({n}, DType::i64, x.device());
      cuda::Stream stream = cuda::prepare(x.device().index);
      const int64_t total = cuda::mask_count(mask.data<bool>(), n, incl.data<int64_t>(), stream);
      Tensor out = empty({total, int64_t(x.dim())}, DType::i64, x.device());
      if (total > 0 && x.dim() > 0)
        cuda::nonzero_coords(mask.data<bool>(), incl.data<int64_t>(), x.dim(), x.shape().data(), out.data<int64_t>(),
                             stream);
      return out;
#endif
      unsupported_device("nonzero", x.device());
    }
  }
  return Tensor();
}

}  // namespace kiln
