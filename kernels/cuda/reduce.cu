// CUDA value reductions (kernels/cuda/reduce.h): picks the fold of kernels/reduce_math.h for the
// kind and dtype and runs it with the kernels of reduce_kernels.cuh. logsumexp and var/std are two
// folds, as on the CPU: a per-output centre (the max, the mean) into scratch memory, then the fold
// that reads it, so the CUDA results follow the CPU's formulas (two-pass variance, no Welford).
#include <cuda_runtime.h>

#include <cmath>

#include "kiln/kernels/cuda/reduce.h"
#include "kiln/kernels/cuda/reduce_kernels.cuh"

namespace kiln::cuda {
namespace {

using namespace reduce_math;
using cpu::ReduceKind;

// Which of the two layouts of reduce.h, and how many elements each output reduces.
struct Layout {
  bool split;
  int64_t n0, n1, n2;
  int64_t outputs() const { return split ? n1 : n0 * n2; }
  int64_t count() const { return split ? n0 * n2 : n1; }
  template <class Op, class T>
  void run(const Op& op, const T* x, const typename Op::Acc* centre, Stream s) const {
    if (split)
      red::run_reduce_split(op, x, n0, n1, n2, centre, s);
    else
      red::run_reduce(op, x, n0, n1, n2, centre, s);
  }
};

template <class C, class T>
__global__ void centre_to_aux(const C* __restrict__ centre, T* __restrict__ aux, int64_t n) {
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    aux[i] = T(centre[i]);
}

template <class T>
void reduce_floating(ReduceKind kind, const T* x, const Layout& L, T* y, T* aux, const cpu::ReduceParams& params,
                     Stream s) {
  using C = compute_t<T>;
  switch (kind) {
    case ReduceKind::mean: {
      SumFold<T> op;
      op.y = y;
      op.scale = 1.0 / double(L.count());
      return L.run(op, x, nullptr, s);
    }
    case ReduceKind::norm: {
      const double p = params.p;
      if (p == 1) return L.run(NormFold<T, 1>{y}, x, nullptr, s);
      if (p == 2) return L.run(NormFold<T, 2>{y}, x, nullptr, s);
      if (std::isinf(p)) return L.run(NormFold<T, 3>{y}, x, nullptr, s);
      NormFold<T, 0> op;
      op.y = y;
      op.p = C(p);
      return L.run(op, x, nullptr, s);
    }
    case ReduceKind::logsumexp: {
      red::Scratch centre(size_t(L.outputs()) * sizeof(C), s);
      LseCenterFold<T> cop;
      cop.centre = centre.as<C>();
      L.run(cop, x, nullptr, s);
      return L.run(LseFold<T>{y}, x, centre.as<const C>(), s);
    }
    case ReduceKind::var:
    case ReduceKind::std: {
      red::Scratch centre(size_t(L.outputs()) * sizeof(C), s);
      MeanCenterFold<T> mop;
      mop.centre = centre.as<C>();
      mop.scale = 1.0 / double(L.count());
      L.run(mop, x, nullptr, s);
      SqDevFold<T> op;
      op.y = y;
      op.denom = double(L.count()) - params.correction;
      op.take_sqrt = kind == ReduceKind::std;
      L.run(op, x, centre.as<const C>(), s);
      const int64_t n = L.outputs();
      if (aux && n > 0) {
        const int64_t blocks = std::min<int64_t>(red::ceil_div(n, 256), 65535);
        centre_to_aux<<<unsigned(blocks), 256, 0, s>>>(centre.as<const C>(), aux, n);
        KILN_CUDA_CHECK_LAUNCH("centre_to_aux");
      }
      return;
    }
    default: return;
  }
}

void reduce_layout(ReduceKind kind, DType dtype, const void* xv, const Layout& L, void* yv, void* aux,
                   const cpu::ReduceParams& params, Stream s) {
  if (L.outputs() == 0) return;
  dispatch_dtype(dtype, [&](auto tag) {
    using T = decltype(tag);
    const T* x = static_cast<const T*>(xv);
    switch (kind) {
      case ReduceKind::sum: return L.run(SumFold<T>{static_cast<sum_out_t<T>*>(yv)}, x, nullptr, s);
      case ReduceKind::prod: return L.run(ProdFold<T>{static_cast<sum_out_t<T>*>(yv)}, x, nullptr, s);
      case ReduceKind::max: return L.run(ExtremeFold<T, true>{static_cast<T*>(yv)}, x, nullptr, s);
      case ReduceKind::min: return L.run(ExtremeFold<T, false>{static_cast<T*>(yv)}, x, nullptr, s);
      case ReduceKind::any: return L.run(LogicalFold<T, false>{static_cast<bool*>(yv)}, x, nullptr, s);
      case ReduceKind::all: return L.run(LogicalFold<T, true>{static_cast<bool*>(yv)}, x, nullptr, s);
      default:
        if constexpr (kFloat<T>)
          reduce_floating(kind, x, L, static_cast<T*>(yv), static_cast<T*>(aux), params, s);
        return;
    }
  });
}

}  // namespace

void reduce(ReduceKind kind, DType dtype, const void* x, int64_t outer, int64_t R, int64_t inner, void* y, void* aux,
            const cpu::ReduceParams& params, Stream stream) {
  reduce_layout(kind, dtype, x, Layout{false, outer, R, inner}, y, aux, params, stream);
}

void reduce_split(ReduceKind kind, DType dtype, const void* x, int64_t A, int64_t K, int64_t B, void* y, void* aux,
                  const cpu::ReduceParams& params, Stream stream) {
  reduce_layout(kind, dtype, x, Layout{true, A, K, B}, y, aux, params, stream);
}

}  // namespace kiln::cuda
