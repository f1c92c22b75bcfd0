#pragma once
// Scalar conversion between element types, shared by CPU and CUDA casts. Floating to integer
// truncates toward zero (as C++ and PyTorch); anything to bool is "!= 0"; 16-bit floats go through f32.
#include <type_traits>

#include "kiln/kernels/dtype.h"

namespace kiln {

template <class To, class From>
KILN_HD To convert(From v) {
  using C = compute_t<From>;
  if constexpr (std::is_same_v<To, From>) {
    return v;
  } else if constexpr (std::is_same_v<To, bool>) {
    return static_cast<C>(v) != C(0);
  } else if constexpr (std::is_same_v<To, Half> || std::is_same_v<To, BFloat16>) {
    return To(static_cast<float>(static_cast<C>(v)));
  } else {
    return static_cast<To>(static_cast<C>(v));
  }
}

}  // namespace kiln
