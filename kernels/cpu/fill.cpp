#include <algorithm>

#include "kiln/kernels/cpu/copy.h"
#include "kiln/kernels/convert.h"
#include "kiln/kernels/cpu/parallel.h"

namespace kiln::cpu {

void fill(DType d, void* out, int64_t n, double fvalue, int64_t ivalue) {
  dispatch_dtype(d, [&](auto tag) {
    using T = decltype(tag);
    T v;
    if constexpr (std::is_floating_point_v<T> || std::is_same_v<T, Half> || std::is_same_v<T, BFloat16>)
      v = convert<T>(fvalue);
    else if constexpr (std::is_same_v<T, bool>)
      v = (fvalue != 0.0) || (ivalue != 0);
    else
      v = static_cast<T>(ivalue);
    T* o = static_cast<T*>(out);
    parallel_for(0, n, 1 << 18, [&](int64_t b, int64_t e) { std::fill(o + b, o + e, v); });
  });
}

}  // namespace kiln::cpu
