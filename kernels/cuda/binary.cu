// Binary elementwise ops on CUDA: the same op switch, dtype rules and formulas
// (kernels/scalar_ops.h) as kernels/cpu/vec/binary.cpp, run by the two kernels of Note [CUDA
// elementwise loops]. An operand is either a tensor read per element, or one value for the whole
// launch: a host scalar (ScalarArg, in the compute type, passed by value) or a broadcast tensor
// element (stride 0, read once per thread). Which one is a run-time flag that is the same for
// every thread, so the three contiguous combinations share one kernel per op and dtype.
#include <cmath>

#include "kiln/kernels/cuda/elementwise.h"
#include "kiln/kernels/cuda/elementwise_loops.cuh"

namespace kiln::cuda {
namespace {

using ew::Pack;

// One operand as the kernels see it. kind: 0 = tensor, 1 = host scalar `value`, 2 = the single
// element p[0] (a stride-0 tensor on the contiguous path).
template <class T>
struct Operand {
  const T* p;
  compute_t<T> value;
  int kind;
};

template <class T>
__device__ __forceinline__ compute_t<T> operand_value(const Operand<T>& a) {
  using C = compute_t<T>;
  return a.kind == 2 ? C(a.p[0]) : a.value;
}

template <class T, class O, int V, class F>
__global__ void __launch_bounds__(ew::kThreads)
    binary_contig_kernel(O* out, const Operand<T> a, const Operand<T> b, int64_t n, F f) {
  using C = compute_t<T>;
  const C av = a.kind == 0 ? C{} : operand_value(a);
  const C bv = b.kind == 0 ? C{} : operand_value(b);
  const int64_t nvec = n / V;
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  const int64_t tid = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  for (int64_t i = tid; i < nvec; i += stride) {
    C x[V], y[V];
    if (a.kind == 0) {
      const Pack<T, V> pa = reinterpret_cast<const Pack<T, V>*>(a.p)[i];
#pragma unroll
      for (int k = 0; k < V; ++k) x[k] = C(pa.v[k]);
    } else {
#pragma unroll
      for (int k = 0; k < V; ++k) x[k] = av;
    }
    if (b.kind == 0) {
      const Pack<T, V> pb = reinterpret_cast<const Pack<T, V>*>(b.p)[i];
#pragma unroll
      for (int k = 0; k < V; ++k) y[k] = C(pb.v[k]);
    } else {
#pragma unroll
      for (int k = 0; k < V; ++k) y[k] = bv;
    }
    Pack<O, V> r;
#pragma unroll
    for (int k = 0; k < V; ++k) r.v[k] = O(f(x[k], y[k]));
    reinterpret_cast<Pack<O, V>*>(out)[i] = r;
  }
  for (int64_t i = nvec * V + tid; i < n; i += stride) {
    const C x = a.kind == 0 ? C(a.p[i]) : av;
    const C y = b.kind == 0 ? C(b.p[i]) : bv;
    out[i] = O(f(x, y));
  }
}

// Host scalars have kind 1 (their Loop strides are 0 and their pointer may be null).
template <class T, class O, class F>
__global__ void __launch_bounds__(ew::kThreads) binary_strided_kernel(O* out, const Operand<T> a, const Operand<T> b,
                                                                      const Loop loop, int64_t n, bool small, F f) {
  using C = compute_t<T>;
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) {
    int64_t off[3];
    ew::strided_offsets<3>(loop, i, small, off);
    const C x = a.kind == 1 ? a.value : C(a.p[off[1]]);
    const C y = b.kind == 1 ? b.value : C(b.p[off[2]]);
    out[off[0]] = O(f(x, y));
  }
}

template <class T, class F>
void run_binary(const Loop& loop, void* out_v, const void* a_v, const void* b_v, const ScalarArg* sa,
                const ScalarArg* sb, F f, Stream s) {
  using C = compute_t<T>;
  using R = decltype(f(C{}, C{}));
  using O = std::conditional_t<std::is_same_v<R, bool>, bool, T>;
  const int64_t n = loop.numel();
  if (n == 0) return;
  O* out = static_cast<O*>(out_v);
  Operand<T> a{static_cast<const T*>(a_v), sa ? scalar_as<C>(*sa) : C{}, sa ? 1 : 0};
  Operand<T> b{static_cast<const T*>(b_v), sb ? scalar_as<C>(*sb) : C{}, sb ? 1 : 0};
  constexpr int V = ew::vec_width<T>();
  bool contig = ew::is_contiguous_loop(loop, 3) && ew::aligned_to(out, V * int64_t(sizeof(O)));
  if (contig) {
    // Stride-0 tensors become single values; tensors with stride 1 need aligned pointers.
    for (Operand<T>* x : {&a, &b}) {
      const int k = x == &a ? 1 : 2;
      const int64_t st = loop.ndim == 0 ? 0 : loop.strides[k][0];
      if (x->kind == 0 && st == 0) x->kind = 2;
      if (x->kind == 0 && !ew::aligned_to(x->p, V * int64_t(sizeof(T)))) contig = false;
    }
  }
  if (contig) {
    binary_contig_kernel<T, O, V, F><<<unsigned(ew::grid_for((n + V - 1) / V)), ew::kThreads, 0, s>>>(out, a, b, n, f);
  } else {
    a.kind = sa ? 1 : 0;
    b.kind = sb ? 1 : 0;
    binary_strided_kernel<T, O, F><<<unsigned(ew::grid_for(n)), ew::kThreads, 0, s>>>(out, a, b, loop, n,
                                                                                     ew::small_index(n), f);
  }
  KILN_CUDA_CHECK_LAUNCH("binary");
}

}  // namespace

void binary(BinaryOp op, const Loop& loop, DType dtype, void* out, const void* a, const void* b, const ScalarArg* sa,
            const ScalarArg* sb, const ScalarArg& alpha, Stream s) {
  ops::visit_binary_op(op, dtype, alpha,
                       [&](auto t, auto fn) { run_binary<decltype(t)>(loop, out, a, b, sa, sb, fn, s); });
}

}  // namespace kiln::cuda
