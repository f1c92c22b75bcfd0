// fill_ and zero_: set every element of a (possibly strided) tensor in place.
#include <cstring>

#include "kiln/kernels/convert.h"
#include "kiln/kernels/cpu/copy.h"
#include "kiln/tensor/elementwise.h"
#include "kiln/tensor/iterator.h"
#if KILN_HAVE_CUDA
#include "kiln/kernels/cuda/elementwise.h"
#include "kiln/kernels/cuda/runtime.h"
#endif

namespace kiln {

Tensor fill_(const Tensor& self, Scalar value) {
  check_defined(self, "fill_", "self");
  check_writable(self, "fill_");
  if (self.numel() > 0) {
    switch (self.device().type) {
      case DeviceType::CPU:
        if (self.is_contiguous()) {
          cpu::fill(self.dtype(), self.data_ptr(), self.numel(), value.to_double(), value.to_int());
        } else {
          // A strided fill is a broadcast copy from one value held on the stack.
          alignas(8) unsigned char buf[8];
          dispatch_dtype(self.dtype(), [&](auto tag) {
            using T = decltype(tag);
            T v = value.is_floating() ? convert<T>(value.to_double()) : convert<T>(value.to_int());
            std::memcpy(buf, &v, sizeof(T));
          });
          Loop loop = make_loop(self.shape(), {&self, &self});
          for (int d = 0; d < loop.ndim; ++d) loop.strides[1][d] = 0;
          cpu::copy_cast(loop, self.dtype(), self.data_ptr(), self.dtype(), buf);
        }
        break;
      case DeviceType::CUDA:
#if KILN_HAVE_CUDA
      {
        const cuda::Stream s = cuda::prepare(self.device().index);
        if (self.is_contiguous()) {
          cuda::fill(self.dtype(), self.data_ptr(), self.numel(), value.to_double(), value.to_int(), s);
        } else {
          Loop loop = make_loop(self.shape(), {&self});
          cuda::fill_strided(loop, self.dtype(), self.data_ptr(), value.to_double(), value.to_int(), s);
        }
        break;
      }
#endif
        unsupported_device("fill_", self.device());
    }
  }
  self.bump_version();
  return self;
}

Tensor zero_(const Tensor& self) { return fill_(self, Scalar(int64_t(0))); }

}  // namespace kiln
