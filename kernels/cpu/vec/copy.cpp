// Compiled once per instruction set (Note [ISA dispatch] in kernels/cpu/isa.h).
#include "kiln/kernels/cpu/copy.h"

#include <cstring>

#include "kiln/kernels/convert.h"
#include "kiln/kernels/cpu/loop_runner.h"

namespace KILN_ISA_NAMESPACE {

void copy_cast(const Loop& loop, DType dst, void* out, DType src, const void* in) {
  dispatch_dtype(dst, [&](auto to_tag) {
    using To = decltype(to_tag);
    dispatch_dtype(src, [&](auto from_tag) {
      using From = decltype(from_tag);
      std::array<char*, 2> base{static_cast<char*>(out), const_cast<char*>(static_cast<const char*>(in))};
      std::array<int64_t, 2> es{int64_t(sizeof(To)), int64_t(sizeof(From))};
      run_loop<2>(loop, base, es, 4 * kElementwiseGrain,
                  [](const std::array<char*, 2>& p, int64_t n, const std::array<int64_t, 2>& s) {
                    To* o = reinterpret_cast<To*>(p[0]);
                    const From* i = reinterpret_cast<const From*>(p[1]);
                    if constexpr (std::is_same_v<To, From>) {
                      if (s[0] == 1 && s[1] == 1) {
                        std::memcpy(o, i, size_t(n) * sizeof(To));
                        return;
                      }
                    }
                    if (s[0] == 1 && s[1] == 1) {
                      for (int64_t k = 0; k < n; ++k) o[k] = convert<To>(i[k]);
                    } else if (s[0] == 1 && s[1] == 0) {
                      const To v = convert<To>(i[0]);
                      for (int64_t k = 0; k < n; ++k) o[k] = v;
                    } else {
                      for (int64_t k = 0; k < n; ++k) o[k * s[0]] = convert<To>(i[k * s[1]]);
                    }
                  });
    });
  });
}

}  // namespace KILN_ISA_NAMESPACE
