// CUDA argmax/argmin and max/min with indices (kernels/cuda/reduce.h): the ArgFold of
// kernels/reduce_math.h through the reduction kernels of reduce_kernels.cuh. Its order (more
// extreme first, then the lower index; NaN the most extreme) is total, so every combining tree
// finds the first extreme, as the CPU's left-to-right scan does.
#include "kiln/kernels/cuda/reduce.h"
#include "kiln/kernels/cuda/reduce_kernels.cuh"

namespace kiln::cuda {

void reduce_arg(bool is_max, DType dtype, const void* xv, int64_t outer, int64_t R, int64_t inner, void* values,
                int64_t* indices, Stream stream) {
  if (outer == 0 || inner == 0 || R == 0) return;
  dispatch_dtype(dtype, [&](auto tag) {
    using T = decltype(tag);
    const T* x = static_cast<const T*>(xv);
    if (is_max)
      red::run_reduce(reduce_math::ArgFold<T, true>{static_cast<T*>(values), indices}, x, outer, R, inner, nullptr,
                      stream);
    else
      red::run_reduce(reduce_math::ArgFold<T, false>{static_cast<T*>(values), indices}, x, outer, R, inner, nullptr,
                      stream);
  });
}

}  // namespace kiln::cuda
