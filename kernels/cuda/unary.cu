// Unary elementwise ops on CUDA: the same op switch, dtype rules and formulas
// (kernels/scalar_ops.h) as kernels/cpu/vec/unary.cpp, run by the two kernels of Note [CUDA
// elementwise loops]. f16 / bf16 are loaded as 16-bit values and computed in f32.
#include <algorithm>
#include <cmath>
#include <limits>

#include "kiln/kernels/cuda/elementwise.h"
#include "kiln/kernels/cuda/elementwise_loops.cuh"

namespace kiln::cuda {
namespace {

using ew::Pack;

template <class T, class O, int V, class F>
__global__ void __launch_bounds__(ew::kThreads) unary_contig_kernel(O* out, const T* in, int64_t n, F f) {
  using C = compute_t<T>;
  const int64_t nvec = n / V;
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  const int64_t tid = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  for (int64_t i = tid; i < nvec; i += stride) {
    const Pack<T, V> x = reinterpret_cast<const Pack<T, V>*>(in)[i];
    Pack<O, V> r;
#pragma unroll
    for (int k = 0; k < V; ++k) r.v[k] = O(f(C(x.v[k])));
    reinterpret_cast<Pack<O, V>*>(out)[i] = r;
  }
  for (int64_t i = nvec * V + tid; i < n; i += stride) out[i] = O(f(C(in[i])));
}

template <class T, class O, class F>
__global__ void __launch_bounds__(ew::kThreads)
    unary_strided_kernel(O* out, const T* in, const Loop loop, int64_t n, bool small, F f) {
  using C = compute_t<T>;
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) {
    int64_t off[2];
    ew::strided_offsets<2>(loop, i, small, off);
    out[off[0]] = O(f(C(in[off[1]])));
  }
}

template <class T, class F>
void run_unary(const Loop& loop, void* out_v, const void* in_v, F f, Stream s) {
  using C = compute_t<T>;
  using R = decltype(f(C{}));
  using O = std::conditional_t<std::is_same_v<R, bool>, bool, T>;
  const int64_t n = loop.numel();
  if (n == 0) return;
  O* out = static_cast<O*>(out_v);
  const T* in = static_cast<const T*>(in_v);
  constexpr int V = ew::vec_width<T>();
  if (ew::is_contiguous_loop(loop, 2) && (loop.ndim == 0 || loop.strides[1][0] == 1) &&
      ew::aligned_to(out, V * int64_t(sizeof(O))) && ew::aligned_to(in, V * int64_t(sizeof(T)))) {
    unary_contig_kernel<T, O, V, F><<<unsigned(ew::grid_for((n + V - 1) / V)), ew::kThreads, 0, s>>>(out, in, n, f);
  } else {
    unary_strided_kernel<T, O, F><<<unsigned(ew::grid_for(n)), ew::kThreads, 0, s>>>(out, in, loop, n,
                                                                                    ew::small_index(n), f);
  }
  KILN_CUDA_CHECK_LAUNCH("unary");
}

// sin / cos in f32 beyond vm::kTrigMaxArg in double, as the CPU's TrigFix does (the CPU skips the
// fix for f16, whose values never get there, so applying it to every float type is the same).
template <bool kIsSin>
struct TrigDev {
  template <class C>
  __device__ C operator()(C x) const {
    if constexpr (std::is_same_v<C, float>) {
      const float v = kIsSin ? vm::sin(x) : vm::cos(x);
      return vm::trig_needs_libm(x) ? float(kIsSin ? ::sin(double(x)) : ::cos(double(x))) : v;
    } else {
      return kIsSin ? ops::Sin{}(x) : ops::Cos{}(x);
    }
  }
};

template <class T>
void run_clamp(const Loop& loop, void* out, const void* in, const UnaryParams& p, Stream s) {
  using C = compute_t<T>;
  if constexpr (std::is_floating_point_v<C>) {
    run_unary<T>(loop, out, in, ops::Clamp<C>{C(p.f0), C(p.f1)}, s);
  } else {
    // Integer bounds outside the range of C are pulled to its limits (as the CPU kernel).
    const int64_t lo_lim = int64_t(std::numeric_limits<C>::lowest()), hi_lim = int64_t(std::numeric_limits<C>::max());
    const C lo = C(std::min(std::max(p.i0, lo_lim), hi_lim)), hi = C(std::min(std::max(p.i1, lo_lim), hi_lim));
    run_unary<T>(loop, out, in, ops::Clamp<C>{lo, hi}, s);
  }
}

}  // namespace

void unary(UnaryOp op, const Loop& loop, DType dtype, void* out, const void* in, const UnaryParams& p, Stream s) {
  // Runs functor `fn` for dtype tag t.
  auto run = [&](auto fn) { return [&, fn](auto t) { run_unary<decltype(t)>(loop, out, in, fn, s); }; };
  switch (op) {
    case UnaryOp::neg: return dispatch_numeric(dtype, "neg", run(ops::Neg{}));
    case UnaryOp::abs: return dispatch_numeric(dtype, "abs", run(ops::Abs{}));
    case UnaryOp::sign: return dispatch_dtype(dtype, run(ops::Sign{}));
    case UnaryOp::exp: return dispatch_floating(dtype, "exp", run(ops::Exp{}));
    case UnaryOp::log: return dispatch_floating(dtype, "log", run(ops::Log{}));
    case UnaryOp::log1p: return dispatch_floating(dtype, "log1p", run(ops::Log1p{}));
    case UnaryOp::expm1: return dispatch_floating(dtype, "expm1", run(ops::Expm1{}));
    case UnaryOp::sqrt: return dispatch_floating(dtype, "sqrt", run(ops::Sqrt{}));
    case UnaryOp::rsqrt: return dispatch_floating(dtype, "rsqrt", run(ops::Rsqrt{}));
    case UnaryOp::reciprocal: return dispatch_floating(dtype, "reciprocal", run(ops::Reciprocal{}));
    case UnaryOp::square: return dispatch_numeric(dtype, "square", run(ops::Square{}));
    case UnaryOp::sin: return dispatch_floating(dtype, "sin", run(TrigDev<true>{}));
    case UnaryOp::cos: return dispatch_floating(dtype, "cos", run(TrigDev<false>{}));
    case UnaryOp::tanh: return dispatch_floating(dtype, "tanh", run(ops::Tanh{}));
    case UnaryOp::sigmoid: return dispatch_floating(dtype, "sigmoid", run(ops::Sigmoid{}));
    case UnaryOp::erf: return dispatch_floating(dtype, "erf", run(ops::Erf{}));
    case UnaryOp::erfc: return dispatch_floating(dtype, "erfc", run(ops::Erfc{}));
    case UnaryOp::relu: return dispatch_numeric(dtype, "relu", run(ops::Relu{}));
    case UnaryOp::leaky_relu:
      return dispatch_floating(dtype, "leaky_relu", [&](auto t) {
        using C = compute_t<decltype(t)>;
        run_unary<decltype(t)>(loop, out, in, ops::LeakyRelu<C>{C(p.f0)}, s);
      });
    case UnaryOp::gelu: return dispatch_floating(dtype, "gelu", run(ops::Gelu{}));
    case UnaryOp::gelu_tanh: return dispatch_floating(dtype, "gelu", run(ops::GeluTanh{}));
    case UnaryOp::silu: return dispatch_floating(dtype, "silu", run(ops::Silu{}));
    case UnaryOp::mish: return dispatch_floating(dtype, "mish", run(ops::Mish{}));
    case UnaryOp::softplus:
      return dispatch_floating(dtype, "softplus", [&](auto t) {
        using C = compute_t<decltype(t)>;
        run_unary<decltype(t)>(loop, out, in, ops::Softplus<C>{C(p.f0), C(p.f1)}, s);
      });
    case UnaryOp::floor: return dispatch_numeric(dtype, "floor", run(ops::Floor{}));
    case UnaryOp::ceil: return dispatch_numeric(dtype, "ceil", run(ops::Ceil{}));
    case UnaryOp::round: return dispatch_numeric(dtype, "round", run(ops::Round{}));
    case UnaryOp::clamp:
      return dispatch_numeric(dtype, "clamp", [&](auto t) { run_clamp<decltype(t)>(loop, out, in, p, s); });
    case UnaryOp::pow_scalar:
      return dispatch_numeric(dtype, "pow", [&](auto t) {
        using T = decltype(t);
        using C = compute_t<T>;
        if constexpr (std::is_floating_point_v<C>) run_unary<T>(loop, out, in, ops::PowScalar<C>{C(p.f0)}, s);
        else run_unary<T>(loop, out, in, ops::PowInt<C>{p.i0}, s);
      });
    case UnaryOp::isnan: return dispatch_floating(dtype, "isnan", run(ops::IsNan{}));
    case UnaryOp::isinf: return dispatch_floating(dtype, "isinf", run(ops::IsInf{}));
    case UnaryOp::isfinite: return dispatch_floating(dtype, "isfinite", run(ops::IsFinite{}));
    case UnaryOp::logical_not: return dispatch_dtype(dtype, run(ops::LogicalNot{}));
  }
  KILN_FAIL("cuda::unary: unknown op ", int(op));
}

}  // namespace kiln::cuda
