#include "kiln/tensor/linalg.h"

#include <algorithm>
#include <vector>

#include "kiln/kernels/convert.h"
#include "kiln/kernels/cpu/gemm.h"
#include "kiln/kernels/cpu/parallel.h"
#include "kiln/tensor/creation.h"

#if KILN_HAVE_CUDA
#include "kiln/kernels/cuda/blas.h"
#include "kiln/kernels/cuda/runtime.h"
#endif

namespace kiln {
namespace {

// ---- describing a strided matrix to the GEMM -----------------------------------------------------

// A [R, C] matrix view with strides (sr, sc), as a GEMM operand: either row-major with leading
// dimension ld, or (trans) the transpose of a row-major [C, R] matrix with leading dimension ld.
// Why: transposed views (x.t(), weight.transpose) are common and cost nothing this way.
struct GemmOperand {
  bool ok = false;
  bool trans = false;
  int64_t ld = 1;
};

GemmOperand describe(int64_t R, int64_t C, int64_t sr, int64_t sc) {
  const int64_t r1 = std::max<int64_t>(R, 1), c1 = std::max<int64_t>(C, 1);
  // A column vector with unit stride reads best as the transpose of a row (GEMV-like products).
  if (C == 1 && (sr == 1 || R == 1)) return {true, true, r1};
  if ((sc == 1 || C == 1) && (R == 1 || sr >= c1)) return {true, false, R == 1 ? c1 : sr};
  if ((sr == 1 || R == 1) && (C == 1 || sc >= r1)) return {true, true, C == 1 ? r1 : sc};
  return {};
}

// Element offsets of each matrix of t (shape batch + [r, c]), batch flattened in row-major order.
std::vector<int64_t> batch_offsets(const Tensor& t, int nb) {
  int64_t total = 1;
  for (int d = 0; d < nb; ++d) total *= t.size(d);
  std::vector<int64_t> off(size_t(std::max<int64_t>(total, 0)), 0);
  std::vector<int64_t> idx(size_t(nb), 0);
  int64_t cur = 0;
  for (int64_t i = 0; i < total; ++i) {
    off[size_t(i)] = cur;
    for (int d = nb - 1; d >= 0; --d) {  // odometer step
      if (++idx[size_t(d)] < t.size(d)) {
        cur += t.stride(d);
        break;
      }
      cur -= (t.size(d) - 1) * t.stride(d);
      idx[size_t(d)] = 0;
    }
  }
  return off;
}

// Runs body(i) for each matrix of a batch: in parallel over the batch when the matrices are small
// or numerous (each GEMM then runs on one thread), else one after the other with threaded GEMMs.
template <class F>
void for_each_matrix(int64_t batch, int64_t flops_per_matrix, F&& body) {
  const int64_t nt = cpu::num_threads();
  if (batch > 1 && (batch >= 2 * nt || flops_per_matrix < (int64_t(1) << 20))) {
    const int64_t grain = std::max<int64_t>(1, (int64_t(1) << 16) / std::max<int64_t>(flops_per_matrix, 1));
    cpu::parallel_for(0, batch, grain, [&](int64_t b0, int64_t b1) {
      for (int64_t i = b0; i < b1; ++i) body(i);
    });
  } else {
    for (int64_t i = 0; i < batch; ++i) body(i);
  }
}

// ---- CPU products into a preallocated output ---------------------------------------------------
// a: batch + [M, K], b: batch + [K, N] (any strides, 0 for broadcast batch dimensions), out:
// contiguous batch + [M, N] holding the C of beta (read only when beta != 0).
// out = alpha * a x b + beta * out.

template <class T>
void matmul_float_cpu(Tensor a, Tensor b, Tensor& out, double alpha, double beta) {
  const int nd = out.dim(), nb = nd - 2;
  const int64_t M = out.size(nd - 2), N = out.size(nd - 1), K = a.size(nd - 1);
  GemmOperand la = describe(M, K, a.stride(nd - 2), a.stride(nd - 1));
  if (!la.ok) {
    a = a.contiguous();
    la = describe(M, K, a.stride(nd - 2), a.stride(nd - 1));
  }
  GemmOperand lb = describe(K, N, b.stride(nd - 2), b.stride(nd - 1));
  if (!lb.ok) {
    b = b.contiguous();
    lb = describe(K, N, b.stride(nd - 2), b.stride(nd - 1));
  }
  const std::vector<int64_t> oa = batch_offsets(a, nb), ob = batch_offsets(b, nb);
  const T* pa = K > 0 ? a.data<T>() : nullptr;
  const T* pb = K > 0 ? b.data<T>() : nullptr;
  T* po = out.data<T>();
  for_each_matrix(int64_t(oa.size()), M * N * K, [&](int64_t i) {
    cpu::gemm(la.trans, lb.trans, M, N, K, T(alpha), pa ? pa + oa[size_t(i)] : pa, la.ld,
              pb ? pb + ob[size_t(i)] : pb, lb.ld, T(beta), po + i * M * N, N);
  });
}

template <class T>
void matmul_int_cpu(const Tensor& a, const Tensor& b, Tensor& out, int64_t alpha, int64_t beta) {
  const int nd = out.dim(), nb = nd - 2;
  const int64_t M = out.size(nd - 2), N = out.size(nd - 1), K = a.size(nd - 1);
  const std::vector<int64_t> oa = batch_offsets(a, nb), ob = batch_offsets(b, nb);
  const T* pa = a.data<T>();
  const T* pb = b.data<T>();
  T* po = out.data<T>();
  for_each_matrix(int64_t(oa.size()), M * N * K, [&](int64_t i) {
    cpu::gemm_strided<T, int64_t>(M, N, K, alpha, pa + oa[size_t(i)], a.stride(nd - 2), a.stride(nd - 1),
                                  pb + ob[size_t(i)], b.stride(nd - 2), b.stride(nd - 1), beta,
                                  po + i * M * N, N);
  });
}

void matmul_cpu(const Tensor& a, const Tensor& b, Tensor& out, Scalar alpha, Scalar beta) {
  if (out.numel() == 0) return;
  switch (out.dtype()) {
    case DType::f32: return matmul_float_cpu<float>(a, b, out, alpha.to_double(), beta.to_double());
    case DType::f64: return matmul_float_cpu<double>(a, b, out, alpha.to_double(), beta.to_double());
    case DType::f16:
    case DType::bf16: {
      // Computed in f32 and rounded once at the end.
      Tensor o32 = beta.to_double() != 0 ? out.to(DType::f32) : empty(out.shape(), DType::f32);
      matmul_float_cpu<float>(a.to(DType::f32), b.to(DType::f32), o32, alpha.to_double(), beta.to_double());
      out.copy_(o32);
      return;
    }
    case DType::i64: return matmul_int_cpu<int64_t>(a, b, out, alpha.to_int(), beta.to_int());
    case DType::i32: return matmul_int_cpu<int32_t>(a, b, out, alpha.to_int(), beta.to_int());
    case DType::u8: return matmul_int_cpu<uint8_t>(a, b, out, alpha.to_int(), beta.to_int());
    case DType::b8: break;
  }
  KILN_FAIL("matmul: dtype ", dtype_name(out.dtype()), " is not supported");
}

// ---- CUDA products into a preallocated output -----------------------------------------------------

#if KILN_HAVE_CUDA
// One batch dimension of a product as cuBLAS sees it: `size` matrices, `sa` / `sb` elements apart
// in a and b (0: broadcast).
struct BatchDim {
  int64_t size, sa, sb;
};

// The batch dimensions of a and b (out's leading nb dimensions), with size-1 dimensions dropped and
// neighbours merged where both operands step through them with one stride: a contiguous or a
// broadcast batch becomes one dimension, so the whole batch is one strided-batched cuBLAS call.
std::vector<BatchDim> batch_dims(const Tensor& a, const Tensor& b, const Tensor& out, int nb) {
  std::vector<BatchDim> dims;
  for (int d = 0; d < nb; ++d) {
    const BatchDim cur{out.size(d), a.stride(d), b.stride(d)};
    if (cur.size == 1) continue;
    if (!dims.empty() && dims.back().sa == cur.sa * cur.size && dims.back().sb == cur.sb * cur.size)
      dims.back() = {dims.back().size * cur.size, cur.sa, cur.sb};
    else
      dims.push_back(cur);
  }
  return dims;
}

// out = alpha * a x b + beta * out on the GPU; shapes as matmul_cpu. The innermost merged batch
// dimension is one (strided-batched) call; the outer ones, if any remain, are a host loop.
void matmul_cuda(Tensor a, Tensor b, Tensor& out, Scalar alpha, Scalar beta) {
  if (out.numel() == 0) return;
  const int nd = out.dim(), nb = nd - 2;
  const int64_t M = out.size(nd - 2), N = out.size(nd - 1), K = a.size(nd - 1);
  const DType dt = out.dtype();
  const bool floating = is_floating(dt);
  GemmOperand la, lb;
  if (floating) {
    // cuBLAS needs each matrix as (maybe transposed) row-major with a leading dimension.
    la = describe(M, K, a.stride(nd - 2), a.stride(nd - 1));
    if (!la.ok) {
      a = a.contiguous();
      la = describe(M, K, a.stride(nd - 2), a.stride(nd - 1));
    }
    lb = describe(K, N, b.stride(nd - 2), b.stride(nd - 1));
    if (!lb.ok) {
      b = b.contiguous();
      lb = describe(K, N, b.stride(nd - 2), b.stride(nd - 1));
    }
  }
  std::vector<BatchDim> dims = batch_dims(a, b, out, nb);
  const BatchDim inner = dims.empty() ? BatchDim{1, 0, 0} : dims.back();
  if (!dims.empty()) dims.pop_back();
  int64_t outer = 1;
  for (const BatchDim& d : dims) outer *= d.size;

  const int64_t es = dtype_size(dt);
  auto* pa = static_cast<const char*>(a.data_ptr());
  auto* pb = static_cast<const char*>(b.data_ptr());
  auto* po = static_cast<char*>(out.data_ptr());
  const cuda::Stream s = cuda::prepare(out.device().index);
  std::vector<int64_t> idx(dims.size(), 0);
  int64_t oa = 0, ob = 0;
  for (int64_t i = 0; i < outer; ++i) {
    const char* a_i = K > 0 ? pa + oa * es : nullptr;
    const char* b_i = K > 0 ? pb + ob * es : nullptr;
    char* o_i = po + i * inner.size * M * N * es;
    if (floating) {
      cuda::gemm_batched(dt, la.trans, lb.trans, M, N, K, alpha.to_double(), a_i, la.ld, inner.sa, b_i, lb.ld,
                         inner.sb, beta.to_double(), o_i, N, M * N, inner.size, s);
    } else {
      cuda::gemm_int_batched(dt, M, N, K, alpha.to_int(), a_i, a.stride(nd - 2), a.stride(nd - 1), inner.sa, b_i,
                             b.stride(nd - 2), b.stride(nd - 1), inner.sb, beta.to_int(), o_i, N, M * N, inner.size,
                             s);
    }
    for (int d = int(dims.size()) - 1; d >= 0; --d) {  // odometer step over the outer dimensions
      if (++idx[size_t(d)] < dims[size_t(d)].size) {
        oa += dims[size_t(d)].sa;
        ob += dims[size_t(d)].sb;
        break;
      }
      oa -= (dims[size_t(d)].size - 1) * dims[size_t(d)].sa;
      ob -= (dims[size_t(d)].size - 1) * dims[size_t(d)].sb;
      idx[size_t(d)] = 0;
    }
  }
}
#endif

// The one device switch of the products: out = alpha * a x b + beta * out.
void matmul_into(const Tensor& a, const Tensor& b, Tensor& out, Scalar alpha, Scalar beta, const char* op) {
  switch (out.device().type) {
    case DeviceType::CPU: return matmul_cpu(a, b, out, alpha, beta);
    case DeviceType::CUDA:
#if KILN_HAVE_CUDA
      return matmul_cuda(a, b, out, alpha, beta);
#endif
      break;
  }
  unsupported_device(op, out.device());
}

// ---- validation -----------------------------------------------------------------------------------

void check_operands(const Tensor& a, const Tensor& b, const char* op) {
  check_defined(a, op, "a");
  check_defined(b, op, "b");
  check_same_device(a, b, op);
  KILN_CHECK(a.dtype() == b.dtype(), op, ": dtypes ", dtype_name(a.dtype()), " and ", dtype_name(b.dtype()),
             " differ");
  KILN_CHECK(a.dtype() != DType::b8, op, ": bool tensors are not supported");
}

void check_inner(const Tensor& a, const Tensor& b, int64_t ka, int64_t kb, const char* op) {
  KILN_CHECK(ka == kb, op, ": ", a.shape(), " x ", b.shape(), ": inner dimensions ", ka, " and ", kb, " differ");
}

// ---- bodies of the public ops (device-agnostic: the device switch is in matmul_into / dot) -------

Tensor mm_body(const Tensor& a, const Tensor& b, const char* op) {
  Tensor out = empty({a.size(0), b.size(1)}, a.dtype(), a.device());
  matmul_into(a, b, out, 1, 0, op);
  return out;
}

Tensor dot_cpu(const Tensor& a, const Tensor& b) {
  Tensor out = empty({}, a.dtype(), a.device());
  dispatch_dtype(a.dtype(), [&](auto tag) {
    using T = decltype(tag);
    using Acc = std::conditional_t<std::is_floating_point_v<compute_t<T>>, double, int64_t>;
    const T* pa = a.data<T>();
    const T* pb = b.data<T>();
    const int64_t n = a.size(0), sa = a.stride(0), sb = b.stride(0);
    Acc s = Acc(0);
    for (int64_t i = 0; i < n; ++i) s += Acc(compute_t<T>(pa[i * sa])) * Acc(compute_t<T>(pb[i * sb]));
    out.data<T>()[0] = convert<T>(s);
  });
  return out;
}

#if KILN_HAVE_CUDA
// The CPU's dot on the GPU: floating dtypes accumulate in f64 (an f64 [1, K] x [K, 1] product,
// rounded once to the dtype), integers in int64 (the integer kernel).
Tensor dot_cuda(const Tensor& a, const Tensor& b) {
  if (is_floating(a.dtype())) {
    Tensor out = empty({1, 1}, DType::f64, a.device());
    matmul_cuda(a.to(DType::f64).unsqueeze(0), b.to(DType::f64).unsqueeze(1), out, 1, 0);
    return out.view({}).to(a.dtype());
  }
  Tensor out = empty({1, 1}, a.dtype(), a.device());
  matmul_cuda(a.unsqueeze(0), b.unsqueeze(1), out, 1, 0);
  return out.view({});
}
#endif

Tensor matmul_nd(const Tensor& a, const Tensor& b) {
  const int64_t K = a.size(-1);
  const Tensor a2 = a.dim() == 1 ? a.unsqueeze(0) : a;  // [.., M, K]
  const Tensor b2 = b.dim() == 1 ? b.unsqueeze(1) : b;  // [.., K, N]
  const int64_t M = a2.size(-2), N = b2.size(-1);
  Shape out_shape;
  Tensor out;
  if (b2.dim() == 2) {
    // One GEMM with the batch folded into M: [..., M, K] -> [batch * M, K]. The row count is
    // spelled out: reshape cannot infer a -1 next to K = 0.
    int64_t rows = 1;
    for (int d = 0; d + 1 < a2.dim(); ++d) rows *= a2.size(d);
    Tensor flat = a2.reshape({rows, K});
    out = empty({flat.size(0), N}, a.dtype(), a.device());
    matmul_into(flat, b2, out, 1, 0, "matmul");
    out_shape = a2.shape();
    out_shape.back() = N;
  } else {
    Shape ba(a2.shape().begin(), a2.shape().end() - 2), bb(b2.shape().begin(), b2.shape().end() - 2);
    Shape batch = broadcast_shapes(ba, bb, "matmul");
    Shape sa = batch, sb = batch;
    sa.push_back(M);
    sa.push_back(K);
    sb.push_back(K);
    sb.push_back(N);
    out_shape = batch;
    out_shape.push_back(M);
    out_shape.push_back(N);
    out = empty(out_shape, a.dtype(), a.device());
    matmul_into(a2.expand(sa), b2.expand(sb), out, 1, 0, "matmul");
  }
  // Drop the dimensions added for 1-D operands.
  if (b.dim() == 1) out_shape.erase(out_shape.size() - 1);
  if (a.dim() == 1) out_shape.erase(out_shape.size() - (b.dim() == 1 ? 1 : 2));
  return out.view(out_shape);
}

}  // namespace

Tensor mm(const Tensor& a, const Tensor& b) {
  check_operands(a, b, "mm");
  KILN_CHECK(a.dim() == 2 && b.dim() == 2, "mm: expected 2-D tensors, got ", a.shape(), " and ", b.shape());
  check_inner(a, b, a.size(1), b.size(0), "mm");
  return mm_body(a, b, "mm");
}

Tensor bmm(const Tensor& a, const Tensor& b) {
  check_operands(a, b, "bmm");
  KILN_CHECK(a.dim() == 3 && b.dim() == 3, "bmm: expected 3-D tensors, got ", a.shape(), " and ", b.shape());
  KILN_CHECK(a.size(0) == b.size(0), "bmm: batch sizes ", a.size(0), " and ", b.size(0), " differ (", a.shape(),
             " x ", b.shape(), ")");
  check_inner(a, b, a.size(2), b.size(1), "bmm");
  Tensor out = empty({a.size(0), a.size(1), b.size(2)}, a.dtype(), a.device());
  matmul_into(a, b, out, 1, 0, "bmm");
  return out;
}

Tensor matmul(const Tensor& a, const Tensor& b) {
  check_operands(a, b, "matmul");
  KILN_CHECK(a.dim() >= 1 && b.dim() >= 1, "matmul: both arguments need at least 1 dimension, got ", a.dim(),
             "-d and ", b.dim(), "-d");
  const int64_t kb = b.dim() == 1 ? b.size(0) : b.size(-2);
  check_inner(a, b, a.size(-1), kb, "matmul");
  if (a.dim() == 1 && b.dim() == 1) return dot(a, b);
  if (a.dim() == 2 && b.dim() == 2) return mm_body(a, b, "matmul");
  return matmul_nd(a, b);
}

Tensor addmm(const Tensor& c, const Tensor& a, const Tensor& b, Scalar beta, Scalar alpha) {
  check_operands(a, b, "addmm");
  check_defined(c, "addmm", "c");
  check_same_device(c, a, "addmm");
  KILN_CHECK(c.dtype() == a.dtype(), "addmm: dtypes ", dtype_name(c.dtype()), " (c) and ", dtype_name(a.dtype()),
             " (a) differ");
  KILN_CHECK(a.dim() == 2 && b.dim() == 2, "addmm: expected 2-D a and b, got ", a.shape(), " and ", b.shape());
  check_inner(a, b, a.size(1), b.size(0), "addmm");
  if (is_integral(a.dtype()))
    KILN_CHECK(!alpha.is_floating() && !beta.is_floating(), "addmm: alpha and beta must be integers for dtype ",
               dtype_name(a.dtype()), ", got ", alpha.to_double(), " and ", beta.to_double());
  const Shape out_shape{a.size(0), b.size(1)};
  KILN_CHECK(broadcast_shapes(c.shape(), out_shape, "addmm") == out_shape, "addmm: c of shape ", c.shape(),
             " does not broadcast to the product's shape ", out_shape);
  Tensor out = empty(out_shape, a.dtype(), a.device());
  if (beta.to_double() != 0) out.copy_(c);
  matmul_into(a, b, out, alpha, beta, "addmm");
  return out;
}

Tensor outer(const Tensor& a, const Tensor& b) {
  check_operands(a, b, "outer");
  KILN_CHECK(a.dim() == 1 && b.dim() == 1, "outer: expected 1-D tensors, got ", a.shape(), " and ", b.shape());
  Tensor out = empty({a.size(0), b.size(0)}, a.dtype(), a.device());
  matmul_into(a.unsqueeze(1), b.unsqueeze(0), out, 1, 0, "outer");
  return out;
}

Tensor dot(const Tensor& a, const Tensor& b) {
  check_operands(a, b, "dot");
  KILN_CHECK(a.dim() == 1 && b.dim() == 1, "dot: expected 1-D tensors, got ", a.shape(), " and ", b.shape());
  KILN_CHECK(a.size(0) == b.size(0), "dot: lengths ", a.size(0), " and ", b.size(0), " differ");
  switch (a.device().type) {
    case DeviceType::CPU: return dot_cpu(a, b);
    case DeviceType::CUDA:
#if KILN_HAVE_CUDA
      return dot_cuda(a, b);
#endif
      break;
  }
  unsupported_device("dot", a.device());
}

}  // namespace kiln
