// Optimizer::fused_step: one fused pass per group (Note [Fused optimizer semantics] in
// kernels/optim_fused.h) on the same state the composed callbacks use, so the two paths can be
// switched at any step. A group falls back to the composed callbacks when the fused kernel would
// not compute the same thing: a parameter or gradient that is not contiguous, a dtype other than
// f32 / f16 / bf16, a parameter on a device without the kernel, or a momentum composition whose
// mom hyper-parameter was set to 0 (the callbacks still refresh grad_avg then; the kernel skips it).
#include <cmath>

#include "kiln/autograd/node.h"
#include "kiln/kernels/cpu/optim.h"
#include "kiln/kernels/error.h"
#include "kiln/learner/optim_callbacks.h"
#include "kiln/learner/optimizer.h"
#include "kiln/tensor/ops.h"
#if KILN_HAVE_CUDA
#include "kiln/kernels/cuda/optim.h"
#include "kiln/kernels/cuda/runtime.h"
#endif

namespace kiln::optim {

namespace {

using optim_kernels::FusedGroupArgs;
using optim_kernels::FusedOptim;
using optim_kernels::FusedTensorArgs;

bool fusable_dtype(DType d) { return d == DType::f32 || d == DType::f16 || d == DType::bf16; }

bool uses_sqr_avg(FusedOptim k) {
  return k == FusedOptim::adam || k == FusedOptim::radam || k == FusedOptim::qhadam || k == FusedOptim::lamb;
}

double hyper_or(const Hypers& h, const char* name, double fallback) {
  auto it = h.find(name);
  return it == h.end() ? fallback : it->second;
}


}  // namespace

bool Optimizer::fused_step(const StepOptions& options) {
  const FusedSpec& spec = *fused_spec_;
  // First decide per group; only then change anything, so a fallback never sees a half-done step.
  std::vector<char> fuse(groups_.size(), 0);
  for (size_t g = 0; g < groups_.size(); ++g) {
    const Hypers& h = groups_[g].hypers;
    bool ok = !(spec.momentum && (spec.kind == FusedOptim::sgd || spec.kind == FusedOptim::larc) &&
                hyper_or(h, "mom", 0) == 0);
    Device dev = kCPU;
    DType pd = DType::f32, gd = DType::f32;
    bool first = true;
    for (const auto& p : groups_[g].params) {
      if (!ok) break;
      if (!trainable(p)) continue;
      Tensor gr = ag::grad(p);
      if (first) {
        dev = p.device();
        pd = p.dtype();
        gd = gr.dtype();
        first = false;
      }
      ok = p.is_contiguous() && gr.is_contiguous() && fusable_dtype(p.dtype()) && fusable_dtype(gr.dtype()) &&
           p.device() == dev && p.dtype() == pd && gr.dtype() == gd;
    }
#if !KILN_HAVE_CUDA
    ok = ok && dev.is_cpu();
#endif
    fuse[g] = ok;
  }
  for (size_t g = 0; g < groups_.size(); ++g) {
    if (!fuse[g]) continue;
    const Hypers& h = groups_[g].hypers;
    FusedGroupArgs a;
    a.kind = spec.kind;
    a.lr = float(h.at("lr"));
    a.mom = spec.momentum ? float(hyper_or(h, "mom", 0)) : 0.0f;
    a.sqr_mom = float(hyper_or(h, "sqr_mom", 0));
    a.eps = float(hyper_or(h, "eps", 0));
    a.decouple_wd = callbacks_.front().name == "weight_decay";
    a.dampening = spec.dampening;
    a.nesterov = spec.nesterov;
    a.beta = float(hyper_or(h, "beta", 0));
    a.nu1 = float(hyper_or(h, "nu_1", 0));
    a.nu2 = float(hyper_or(h, "nu_2", 0));
    a.trust_coeff = float(hyper_or(h, "trust_coeff", 0));
    a.clip = spec.clip;
    a.inv_scale = float(options.inv_scale);
    std::vector<FusedTensorArgs> ts;
    Device dev = kCPU;
    DType pd = DType::f32, gd = DType::f32;
    for (size_t i = 0; i < groups_[g].params.size(); ++i) {
      const Tensor& p = groups_[g].params[i];
      if (!trainable(p)) continue;
      ParamState& st = states_[g][i];
      Tensor gr = ag::grad(p);
      dev = p.device();
      pd = p.dtype();
      gd = gr.dtype();
      FusedTensorArgs t;
      t.param = p.data_ptr();
      t.grad = gr.data_ptr();
      t.n = p.numel();
      if (pd != DType::f32) t.master = st.master(p).data<float>();
      if (spec.momentum) t.exp_avg = st.buffer("grad_avg", p).data<float>();
      if (uses_sqr_avg(spec.kind)) t.exp_avg_sq = st.buffer("sqr_avg", p).data<float>();
      t.wd = st.do_wd ? float(hyper_or(h, "wd", 0)) : 0.0f;
      if (spec.kind != FusedOptim::sgd && spec.kind != FusedOptim::larc) {
        const double step = (st.values["step"] += 1);
        t.debias1 = float(debias(h.at("mom"), step));
        t.debias2 = float(debias(h.at("sqr_mom"), step));
        if (spec.kind == FusedOptim::radam) t.radam_rect = float(radam_rectification(h.at("sqr_mom"), step));
      }
      ts.push_back(t);
      p.bump_version();
    }
    if (ts.empty()) continue;
    if (dev.is_cpu()) {
      cpu::fused_optim_step(a, pd, gd, ts.data(), int64_t(ts.size()));
    } else {
#if KILN_HAVE_CUDA
      cuda::fused_optim_step(a, pd, gd, ts.data(), int64_t(ts.size()), nullptr, cuda::prepare(dev.index));
#endif
    }
  }
  // Groups the kernel cannot take run the composed callbacks.
  for (size_t g = 0; g < groups_.size(); ++g)
    if (!fuse[g]) composed_group_step(g, options);
  return true;
}

}  // namespace kiln::optim
