// The device switch of the fused cross-entropy kernels: checks, dtype normalisation (i64 targets,
// compute-dtype weights, contiguous rows) and output allocation.
#include "kiln/tensor/cross_entropy.h"

#include "kiln/kernels/cpu/cross_entropy.h"
#include "kiln/tensor/creation.h"
#if KILN_HAVE_CUDA
#include "kiln/kernels/cuda/cross_entropy.h"
#include "kiln/kernels/cuda/runtime.h"
#endif

namespace kiln {
namespace {

DType compute_dtype(DType d) { return d == DType::f64 ? DType::f64 : DType::f32; }

struct Prepared {
  Tensor x, t, w;
  int64_t N = 0, C = 0;
};

Prepared prepare_rows(const Tensor& logits, const Tensor& target, const Tensor& weight, const char* op) {
  check_defined(logits, op, "logits");
  check_defined(target, op, "target");
  KILN_CHECK(logits.dim() == 2, op, ": logits must be [N, C], got ", logits.shape());
  const DType d = logits.dtype();
  KILN_CHECK(d == DType::f32 || d == DType::f64 || d == DType::f16 || d == DType::bf16, op,
             ": logits must be f32, f64, f16 or bf16, got ", dtype_name(d));
  KILN_CHECK(target.dtype() == DType::i64 || target.dtype() == DType::i32, op,
             ": target must hold class indices (i64 or i32), got ", dtype_name(target.dtype()));
  Prepared p;
  p.N = logits.size(0);
  p.C = logits.size(1);
  KILN_CHECK(p.C >= 1, op, ": logits need at least one class, got ", logits.shape());
  KILN_CHECK(target.shape() == Shape{p.N}, op, ": target of shape ", target.shape(), " does not match logits ",
             logits.shape(), " (expected [", p.N, "])");
  check_same_device(logits, target, op);
  p.x = logits.contiguous();
  p.t = target.to(DType::i64).contiguous();
  if (weight.defined()) {
    KILN_CHECK(weight.shape() == Shape{p.C}, op, ": weight must be [", p.C, "], got ", weight.shape());
    check_same_device(logits, weight, op);
    p.w = weight.to(compute_dtype(d)).contiguous();
  }
  return p;
}

}  // namespace

CrossEntropyRows cross_entropy_rows_forward(const Tensor& logits, const Tensor& target, const Tensor& weight,
                                            const CrossEntropyParams& p) {
  const char* op = "cross_entropy_rows_forward";
  Prepared r = prepare_rows(logits, target, weight, op);
  const DType cd = compute_dtype(r.x.dtype());
  const Device dev = r.x.device();
  CrossEntropyRows out;
  out.loss = empty({p.reduction == CeReduction::none ? r.N : 1}, r.x.dtype(), dev);
  out.lse = empty({r.N}, cd, dev);
  out.denom = empty({1}, cd, dev);
  const void* w = r.w.defined() ? r.w.data_ptr() : nullptr;
  switch (dev.type) {
    case DeviceType::CPU:
      cpu::cross_entropy_forward(r.x.dtype(), r.x.data_ptr(), r.t.data<int64_t>(), w, r.N, r.C, p,
                                 out.loss.data_ptr(), out.lse.data_ptr(), out.denom.data_ptr());
      return out;
    case DeviceType::CUDA: {
#if KILN_HAVE_CUDA
      const size_t ws_bytes = cuda::cross_entropy_workspace_size(r.x.dtype(), r.N);
      Tensor ws = empty({int64_t(ws_bytes)}, DType::u8, dev);
      cuda::cross_entropy_forward(r.x.dtype(), r.x.data_ptr(), r.t.data<int64_t>(), w, r.N, r.C, p,
                                  out.loss.data_ptr(), out.lse.data_ptr(), out.denom.data_ptr(),
                                  ws_bytes ? ws.data_ptr() : nullptr, ws_bytes, cuda::prepare(dev.index));
      return out;
#endif
      unsupported_device(op, dev);
    }
  }
  unsupported_device(op, dev);
}

Tensor cross_entropy_rows_backward(const Tensor& dloss, const Tensor& logits, const Tensor& target,
                                   const Tensor& weight, const CrossEntropyRows& fwd, const CrossEntropyParams& p) {
  const char* op = "cross_entropy_rows_backward";
  Prepared r = prepare_rows(logits, target, weight, op);
  check_defined(dloss, op, "dloss");
  const int64_t expect = p.reduction == CeReduction::none ? r.N : 1;
  KILN_CHECK(dloss.numel() == expect, op, ": dloss has ", dloss.numel(), " elements, expected ", expect);
  KILN_CHECK(fwd.lse.defined() && fwd.lse.numel() == r.N && fwd.denom.defined() && fwd.denom.numel() == 1, op,
             ": the forward's lse / denom do not match ", r.N, " rows");
  check_same_device(logits, dloss, op);
  const DType cd = compute_dtype(r.x.dtype());
  Tensor g = dloss.to(r.x.dtype()).contiguous();
  Tensor lse = fwd.lse.to(cd).contiguous(), denom = fwd.denom.to(cd).contiguous();
  Tensor dx = empty({r.N, r.C}, r.x.dtype(), r.x.device());
  const void* w = r.w.defined() ? r.w.data_ptr() : nullptr;
  switch (r.x.device().type) {
    case DeviceType::CPU:
      cpu::cross_entropy_backward(r.x.dtype(), g.data_ptr(), r.x.data_ptr(), r.t.data<int64_t>(), w, lse.data_ptr(),
                                  denom.data_ptr(), r.N, r.C, p, dx.data_ptr());
      return dx;
    case DeviceType::CUDA:
#if KILN_HAVE_CUDA
      cuda::cross_entropy_backward(r.x.dtype(), g.data_ptr(), r.x.data_ptr(), r.t.data<int64_t>(), w, lse.data_ptr(),
                                   denom.data_ptr(), r.N, r.C, p, dx.data_ptr(), cuda::prepare(r.x.device().index));
      return dx;
#endif
      unsupported_device(op, r.x.device());
  }
  unsupported_device(op, r.x.device());
}

}  // namespace kiln
