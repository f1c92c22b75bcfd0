#include <algorithm>

#include "kiln/kernels/cpu/copy.h"
#include "kiln/kernels/convert.h"
#include "kiln/kernels/cpu/parallel.h"
#include "kiln/kernels/fill_value.h"

namespace kiln::cpu {

void fill(DType d, void* out, int64_t n, double fvalue, int64_t ivalue) {
  dispatch_dtype(d, [&](auto tag) {
    using T = decltype(tag);
    const T v = fill_value<T>(fvalue, ivalue);
    T* o = static_cast<T*>(out);
    parallel_for(0, n, 1 << 18, [&](int64_t b, int64_t e) { std::fill(o + b, o + e, v); });
  });
}

}  // namespace kiln::cpu
