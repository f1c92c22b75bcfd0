// Compiled once per instruction set (Note [ISA dispatch] in kernels/cpu/isa.h): the inner loops
// of the fused optimizer steps (kernels/cpu/optim.cpp cuts the work and threads it).
//
// Why tiles: the update math is written once, over f32 arrays (optim_element<R> in
// kernels/optim_math.h, Note [Fused optimizer rules]). f32 parameters without a master copy and f32
// gradients are updated in place in one loop over the whole range, which GCC vectorises. Every other
// dtype combination goes through tiles of kTile elements: the gradient tile is converted to f32 in
// a small stack buffer (F16C instructions where the ISA has them), the same f32 loop updates the
// master weights, and the tile of master weights is rounded into the parameter. The extra traffic
// stays in L1, and there is one vectorised loop per rule instead of one per dtype pair.
#include <algorithm>
#include <cstring>
#include <type_traits>

#if defined(__F16C__)
#include <immintrin.h>
#endif

#include "kiln/kernels/cpu/optim.h"
#include "kiln/kernels/error.h"

namespace KILN_ISA_NAMESPACE {

namespace {

using optim_kernels::FusedTensorArgs;
using optim_kernels::GroupScalars;
using optim_kernels::Rule;
using optim_kernels::TensorScalars;

constexpr int64_t kTile = 512;

// The f32 loop of rule R over n elements. The scalars are taken by value so that the compiler
// knows no store through the arrays changes them. a / b receive the norms rules' values.
template <Rule R>
void update_f32(const GroupScalars gs, const TensorScalars ts, float* KILN_RESTRICT w, const float* KILN_RESTRICT g,
                float* KILN_RESTRICT m, float* KILN_RESTRICT v, float* KILN_RESTRICT a, float* KILN_RESTRICT b,
                int64_t n) {
  using namespace optim_kernels;
  for (int64_t i = 0; i < n; ++i) {
    float wi = w[i], gi = 0.0f, mi = 0.0f, vi = 0.0f, ai = 0.0f, bi = 0.0f;
    if constexpr (rule_reads_grad(R)) gi = g[i];
    if constexpr (rule_uses_m(R)) mi = m[i];
    if constexpr (rule_uses_v(R)) vi = v[i];
    optim_element<R>(gs, ts, gi, wi, mi, vi, ai, bi);
    if constexpr (rule_writes_w(R)) w[i] = wi;
    if constexpr (rule_writes_m(R)) m[i] = mi;
    if constexpr (rule_writes_v(R)) v[i] = vi;
    if constexpr (rule_is_norms(R)) {
      a[i] = ai;
      b[i] = bi;
    }
  }
}

// ---- dtype conversion of tiles
void to_f32_tile(const BFloat16* KILN_RESTRICT src, float* KILN_RESTRICT dst, int64_t n) {
  for (int64_t i = 0; i < n; ++i) dst[i] = bf16_bits_to_float(src[i].bits);
}
void to_f32_tile(const Half* KILN_RESTRICT src, float* KILN_RESTRICT dst, int64_t n) {
  int64_t i = 0;
#if defined(__F16C__)
  for (; i + 8 <= n; i += 8)
    _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(src + i))));
#endif
  for (; i < n; ++i) dst[i] = half_bits_to_float(src[i].bits);
}
void from_f32_tile(const float* src, float* dst, int64_t n) { std::memcpy(dst, src, size_t(n) * sizeof(float)); }
void from_f32_tile(const float* KILN_RESTRICT src, BFloat16* KILN_RESTRICT dst, int64_t n) {
  for (int64_t i = 0; i < n; ++i) dst[i].bits = float_to_bf16_bits(src[i]);
}
void from_f32_tile(const float* KILN_RESTRICT src, Half* KILN_RESTRICT dst, int64_t n) {
  int64_t i = 0;
#if defined(__F16C__)
  // Round to nearest even, as float_to_half_bits (NaN payloads aside).
  for (; i + 8 <= n; i += 8)
    _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + i),
                     _mm256_cvtps_ph(_mm256_loadu_ps(src + i), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
#endif
  for (; i < n; ++i) dst[i].bits = float_to_half_bits(src[i]);
}

template <class F>
decltype(auto) dispatch_optim_dtype(DType d, F&& f) {
  switch (d) {
    case DType::f16: return f(Half{});
    case DType::bf16: return f(BFloat16{});
    default: return f(float{});
  }
}

// The f32 view of a gradient tile [t0, t0 + len): the gradient itself when it is f32, else
// converted into buf.
template <class G>
const float* grad_tile(const void* grad, int64_t t0, int64_t len, float* buf) {
  const G* g = static_cast<const G*>(grad) + t0;
  if constexpr (std::is_same_v<G, float>) {
    return g;
  } else {
    to_f32_tile(g, buf, len);
    return buf;
  }
}

float* offset(float* p, int64_t k) { return p ? p + k : nullptr; }

// 8 double accumulators, acc[k] taking the elements i % 8 == k of a tile: a fixed order of
// additions whatever the ISA or thread count (tiles start at multiples of 8 from the chunk start),
// and a loop GCC vectorises.
void add_squares(const float* KILN_RESTRICT x, int64_t n, double* KILN_RESTRICT acc) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int k = 0; k < 8; ++k) {
      const double d = x[i + k];
      acc[k] += d * d;
    }
  for (; i < n; ++i) {
    const double d = x[i];
    acc[i & 7] += d * d;
  }
}
double lanes_total(const double* acc) {
  return ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
}

template <Rule R>
void update_range(const GroupScalars& gs, const TensorScalars& ts, DType pd, DType gd, const FusedTensorArgs& t,
                  int64_t begin, int64_t end) {
  // Without a master copy the parameter is f32 (check_fused_args) and is updated in place.
  float* w = t.master ? t.master : static_cast<float*>(t.param);
  if (!t.master && (gd == DType::f32 || !optim_kernels::rule_reads_grad(R))) {
    const float* g = optim_kernels::rule_reads_grad(R) ? static_cast<const float*>(t.grad) + begin : nullptr;
    update_f32<R>(gs, ts, w + begin, g, offset(t.exp_avg, begin), offset(t.exp_avg_sq, begin), nullptr, nullptr,
                  end - begin);
    return;
  }
  dispatch_optim_dtype(gd, [&](auto gtag) {
    using G = decltype(gtag);
    dispatch_optim_dtype(pd, [&](auto ptag) {
      using P = decltype(ptag);
      alignas(64) float gbuf[kTile];
      for (int64_t t0 = begin; t0 < end; t0 += kTile) {
        const int64_t len = std::min(kTile, end - t0);
        const float* g = nullptr;
        if constexpr (optim_kernels::rule_reads_grad(R)) g = grad_tile<G>(t.grad, t0, len, gbuf);
        update_f32<R>(gs, ts, w + t0, g, offset(t.exp_avg, t0), offset(t.exp_avg_sq, t0), nullptr, nullptr, len);
        if (t.master) from_f32_tile(t.master + t0, static_cast<P*>(t.param) + t0, len);
      }
    });
  });
}

template <Rule R>
void norms_range(const GroupScalars& gs, const TensorScalars& ts, DType gd, const FusedTensorArgs& t, int64_t begin,
                 int64_t end, double* sum_a, double* sum_b) {
  float* w = t.master ? t.master : static_cast<float*>(t.param);
  double acc_a[8] = {0, 0, 0, 0, 0, 0, 0, 0}, acc_b[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  dispatch_optim_dtype(gd, [&](auto gtag) {
    using G = decltype(gtag);
    alignas(64) float gbuf[kTile], abuf[kTile], bbuf[kTile];
    for (int64_t t0 = begin; t0 < end; t0 += kTile) {
      const int64_t len = std::min(kTile, end - t0);
      const float* g = grad_tile<G>(t.grad, t0, len, gbuf);
      update_f32<R>(gs, ts, w + t0, g, offset(t.exp_avg, t0), offset(t.exp_avg_sq, t0), abuf, bbuf, len);
      add_squares(abuf, len, acc_a);
      add_squares(bbuf, len, acc_b);
    }
  });
  *sum_a = lanes_total(acc_a);
  *sum_b = lanes_total(acc_b);
}

template <class G>
bool nonfinite_typed(const G* KILN_RESTRICT g, int64_t n) {
  // Blocks so that a found value stops the scan early while the inner loop stays branch-free.
  constexpr int64_t kBlock = 4096;
  for (int64_t b = 0; b < n; b += kBlock) {
    const int64_t e = std::min(n, b + kBlock);
    int bad = 0;
    for (int64_t i = b; i < e; ++i) bad |= int(optim_kernels::nonfinite_bits(g[i]));
    if (bad) return true;
  }
  return false;
}

}  // namespace

void optim_update_range(Rule rule, const GroupScalars& gs, const TensorScalars& ts, DType param_dtype,
                        DType grad_dtype, const FusedTensorArgs& t, int64_t begin, int64_t end) {
  if (end <= begin) return;
  switch (rule) {
    case Rule::sgd: return update_range<Rule::sgd>(gs, ts, param_dtype, grad_dtype, t, begin, end);
    case Rule::sgd_mom: return update_range<Rule::sgd_mom>(gs, ts, param_dtype, grad_dtype, t, begin, end);
    case Rule::adam: return update_range<Rule::adam>(gs, ts, param_dtype, grad_dtype, t, begin, end);
    case Rule::radam_plain: return update_range<Rule::radam_plain>(gs, ts, param_dtype, grad_dtype, t, begin, end);
    case Rule::radam_rect: return update_range<Rule::radam_rect>(gs, ts, param_dtype, grad_dtype, t, begin, end);
    case Rule::radam_rect_sp:
      return update_range<Rule::radam_rect_sp>(gs, ts, param_dtype, grad_dtype, t, begin, end);
    case Rule::qhadam: return update_range<Rule::qhadam>(gs, ts, param_dtype, grad_dtype, t, begin, end);
    case Rule::lamb_apply: return update_range<Rule::lamb_apply>(gs, ts, param_dtype, grad_dtype, t, begin, end);
    case Rule::larc_apply: return update_range<Rule::larc_apply>(gs, ts, param_dtype, grad_dtype, t, begin, end);
    case Rule::larc_apply_mom:
      return update_range<Rule::larc_apply_mom>(gs, ts, param_dtype, grad_dtype, t, begin, end);
    case Rule::lamb_norms:
    case Rule::larc_norms: break;
  }
  KILN_FAIL("optim_update_range: rule ", int(rule), " is not an update rule");
}

void optim_norms_range(Rule rule, const GroupScalars& gs, const TensorScalars& ts, DType param_dtype,
                       DType grad_dtype, const FusedTensorArgs& t, int64_t begin, int64_t end, double* sum_a,
                       double* sum_b) {
  if (rule == Rule::lamb_norms) return norms_range<Rule::lamb_norms>(gs, ts, grad_dtype, t, begin, end, sum_a, sum_b);
  if (rule == Rule::larc_norms) return norms_range<Rule::larc_norms>(gs, ts, grad_dtype, t, begin, end, sum_a, sum_b);
  KILN_FAIL("optim_norms_range: rule ", int(rule), " is not a norms rule");
}

bool nonfinite_range(DType grad_dtype, const void* grad, int64_t begin, int64_t end) {
  if (end <= begin) return false;
  return dispatch_optim_dtype(grad_dtype, [&](auto tag) {
    using G = decltype(tag);
    return nonfinite_typed(static_cast<const G*>(grad) + begin, end - begin);
  });
}

}  // namespace KILN_ISA_NAMESPACE
