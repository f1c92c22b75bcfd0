#pragma once
// The value a fill writes, converted once on the host: floating dtypes from the double, bool from
// either form (non-zero is true), integers from the int64. Shared by cpu::fill and cuda::fill.
#include <cstdint>
#include <type_traits>

#include "kiln/kernels/convert.h"

namespace kiln {

template <class T>
T fill_value(double fvalue, int64_t ivalue) {
  if constexpr (std::is_floating_point_v<T> || std::is_same_v<T, Half> || std::is_same_v<T, BFloat16>)
    return convert<T>(fvalue);
  else if constexpr (std::is_same_v<T, bool>)
    return (fvalue != 0.0) || (ivalue != 0);
  else
    return static_cast<T>(ivalue);
}

}  // namespace kiln
