// Compiled once per instruction set (Note [ISA dispatch] in kernels/cpu/isa.h).
// Inclusive cumulative sum / product along the middle dimension of x[outer, R, inner].
#include <algorithm>
#include <type_traits>

#include "kiln/kernels/cpu/vec/reduce_engine.h"

namespace KILN_ISA_NAMESPACE {
namespace {

template <class T>
constexpr bool kFloatScan = std::is_floating_point_v<compute_t<T>>;
// Floating scans accumulate in f64 (a long running sum in f32 drifts), integers in i64.
template <class T>
using scan_acc_t = std::conditional_t<kFloatScan<T>, double, int64_t>;
template <class T>
using scan_out_t = std::conditional_t<kFloatScan<T>, T, int64_t>;

template <class T, bool kProd>
void scan_impl(const T* x, int64_t outer, int64_t R, int64_t inner, scan_out_t<T>* y) {
  using Acc = scan_acc_t<T>;
  using Out = scan_out_t<T>;
  using C = compute_t<T>;
  if (inner == 1) {
    // Rows scanned independently: one running accumulator per row.
    cpu::parallel_for(0, outer, std::max<int64_t>(1, kReduceGrain / std::max<int64_t>(R, 1)), [&](int64_t b, int64_t e) {
      for (int64_t o = b; o < e; ++o) {
        const T* xr = x + o * R;
        Out* yr = y + o * R;
        Acc acc = kProd ? Acc(1) : Acc(0);
        for (int64_t r = 0; r < R; ++r) {
          acc = kProd ? acc * Acc(load(xr[r])) : acc + Acc(load(xr[r]));
          if constexpr (kFloatScan<T>)
            yr[r] = Out(C(acc));
          else
            yr[r] = acc;
        }
      }
    });
    return;
  }
  const int64_t ncb = (inner + kColBlock - 1) / kColBlock;
  int64_t grain = std::max<int64_t>(1, kReduceGrain / std::max<int64_t>(1, R * std::min(inner, kColBlock)));
  cpu::parallel_for(0, outer * ncb, grain, [&](int64_t tb, int64_t te) {
    Acc acc[kColBlock];
    for (int64_t t = tb; t < te; ++t) {
      int64_t o = t / ncb, i0 = (t % ncb) * kColBlock, bw = std::min(kColBlock, inner - i0);
      for (int64_t i = 0; i < bw; ++i) acc[i] = kProd ? Acc(1) : Acc(0);
      for (int64_t r = 0; r < R; ++r) {
        int64_t off = (o * R + r) * inner + i0;
        for (int64_t i = 0; i < bw; ++i) {
          acc[i] = kProd ? acc[i] * Acc(load(x[off + i])) : acc[i] + Acc(load(x[off + i]));
          if constexpr (kFloatScan<T>)
            y[off + i] = Out(C(acc[i]));
          else
            y[off + i] = acc[i];
        }
      }
    }
  });
}

}  // namespace

void scan(bool prod, DType dtype, const void* x, int64_t outer, int64_t R, int64_t inner, void* y) {
  if (outer == 0 || R == 0 || inner == 0) return;
  dispatch_dtype(dtype, [&](auto tag) {
    using T = decltype(tag);
    auto* out = static_cast<scan_out_t<T>*>(y);
    if (prod)
      scan_impl<T, true>(static_cast<const T*>(x), outer, R, inner, out);
    else
      scan_impl<T, false>(static_cast<const T*>(x), outer, R, inner, out);
  });
}

}  // namespace KILN_ISA_NAMESPACE
