// where(cond, a, b) on the CPU, compiled once per instruction set (Note [ISA dispatch]).
// Let GCC if-convert the float compares and selects of the formulas into vector blends: with the
// default -ftrapping-math it keeps them as branches (AVX2, SSE) or as masked fix-up paths
// (AVX-512), because a compare may raise an FP exception flag; kiln never reads those flags.
// Placed before the includes so every function of this file has the same options (Note
// [Elementwise loops]).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("no-trapping-math")
#endif
#include "kiln/kernels/cpu/where.h"

#include "kiln/kernels/cpu/vec/elementwise_loops.h"

namespace KILN_ISA_NAMESPACE {

void where_kernel(const Loop& loop, DType dtype, void* out, const bool* cond, const void* a, const void* b) {
  dispatch_dtype(dtype, [&](auto tag) {
    using T = decltype(tag);
    // 16-bit floats are selected as their bit patterns: no arithmetic is involved.
    using U = std::conditional_t<ew::kIs16<T>, uint16_t, T>;
    std::array<char*, 4> base{static_cast<char*>(out), reinterpret_cast<char*>(const_cast<bool*>(cond)),
                              const_cast<char*>(static_cast<const char*>(a)),
                              const_cast<char*>(static_cast<const char*>(b))};
    ew::run<4>(loop, base, {int64_t(sizeof(U)), 1, int64_t(sizeof(U)), int64_t(sizeof(U))},
               [](const std::array<char*, 4>& p, int64_t n, const std::array<int64_t, 4>& s) {
                 U* o = reinterpret_cast<U*>(p[0]);
                 const bool* c = reinterpret_cast<const bool*>(p[1]);
                 const U* x = reinterpret_cast<const U*>(p[2]);
                 const U* y = reinterpret_cast<const U*>(p[3]);
                 if (s[0] == 1 && s[1] == 1 && s[2] == 1 && s[3] == 1) {
                   for (int64_t k = 0; k < n; ++k) o[k] = c[k] ? x[k] : y[k];
                 } else if (s[0] == 1 && s[1] == 1 && s[2] == 1 && s[3] == 0) {
                   const U yv = y[0];
                   for (int64_t k = 0; k < n; ++k) o[k] = c[k] ? x[k] : yv;
                 } else if (s[0] == 1 && s[1] == 1 && s[2] == 0 && s[3] == 1) {
                   const U xv = x[0];
                   for (int64_t k = 0; k < n; ++k) o[k] = c[k] ? xv : y[k];
                 } else {
                   for (int64_t k = 0; k < n; ++k) o[k * s[0]] = c[k * s[1]] ? x[k * s[2]] : y[k * s[3]];
                 }
               });
  });
}

}  // namespace KILN_ISA_NAMESPACE
