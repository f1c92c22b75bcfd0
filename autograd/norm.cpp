// Normalisations: the raw forward returns the statistics its backward needs (batch mean / invstd,
// or per-row mean / rstd), which are saved instead of being recomputed.
#include "kiln/autograd/norm.h"

namespace kiln::ag {

namespace {

Tensor batch_norm_op(const char* name, const Tensor& x, const Tensor& weight, const Tensor& bias,
                     const Tensor& running_mean, const Tensor& running_var, bool training, BnActivation act,
                     double slope, double momentum, double eps) {
  BatchNormResult r =
      kiln::batch_norm_forward(x, weight, bias, running_mean, running_var, training, momentum, eps, act, slope);
  if (!any_requires_grad({&x, &weight, &bias})) return r.y;
  // The running statistics are buffers, not inputs: they get no gradient, and in eval the saved
  // statistics are copies of them (so a later in-place update does not invalidate this graph).
  // With an activation the bias is saved too: the backward recomputes the pre-activation values.
  const bool with_act = act != BnActivation::none;
  SavedTensor sx(x, name), sw(weight, name), sm(r.save_mean, name), si(r.save_invstd, name);
  SavedTensor sb = with_act ? SavedTensor(bias, name) : SavedTensor();
  return record(name, {x, weight, bias}, r.y,
                [sx, sw, sb, sm, si, training, act, slope](const Grads& g) -> std::vector<Tensor> {
                  Tensor w = sw.defined() ? sw.get() : Tensor();
                  Tensor b = sb.defined() ? sb.get() : Tensor();
                  NormGrads d =
                      kiln::batch_norm_backward(g[0], sx.get(), w, sm.get(), si.get(), training, b, act, slope);
                  return {g.needs[0] ? d.dx : Tensor(), g.needs[1] ? d.dweight : Tensor(),
                          g.needs[2] ? d.dbias : Tensor()};
                });
}

}  // namespace

Tensor batch_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, const Tensor& running_mean,
                  const Tensor& running_var, bool training, double momentum, double eps) {
  return batch_norm_op("batch_norm", x, weight, bias, running_mean, running_var, training, BnActivation::none, 0.0,
                       momentum, eps);
}

Tensor batch_norm_act(const Tensor& x, const Tensor& weight, const Tensor& bias, const Tensor& running_mean,
                      const Tensor& running_var, bool training, BnActivation act, double slope, double momentum,
                      double eps) {
  return batch_norm_op("batch_norm_act", x, weight, bias, running_mean, running_var, training, act, slope, momentum,
                       eps);
}

Tensor layer_norm(const Tensor& x, const Shape& normalized_shape, const Tensor& weight, const Tensor& bias,
                  double eps) {
  LayerNormResult r = kiln::layer_norm(x, normalized_shape, weight, bias, eps);
  if (!any_requires_grad({&x, &weight, &bias})) return r.y;
  SavedTensor sx(x, "layer_norm"), sw(weight, "layer_norm"), sm(r.mean, "layer_norm"), sr(r.rstd, "layer_norm");
  return record("layer_norm", {x, weight, bias}, r.y, [sx, sw, sm, sr](const Grads& g) -> std::vector<Tensor> {
    Tensor w = sw.defined() ? sw.get() : Tensor();
    NormGrads d = kiln::layer_norm_backward(g[0], sx.get(), sm.get(), sr.get(), w);
    return {g.needs[0] ? d.dx : Tensor(), g.needs[1] ? d.dweight : Tensor(), g.needs[2] ? d.dbias : Tensor()};
  });
}

Tensor group_norm(const Tensor& x, int64_t num_groups, const Tensor& weight, const Tensor& bias, double eps) {
  GroupNormResult r = kiln::group_norm(x, num_groups, weight, bias, eps);
  if (!any_requires_grad({&x, &weight, &bias})) return r.y;
  SavedTensor sx(x, "group_norm"), sw(weight, "group_norm"), sm(r.mean, "group_norm"), sr(r.rstd, "group_norm");
  return record("group_norm", {x, weight, bias}, r.y,
                [sx, sw, sm, sr, num_groups](const Grads& g) -> std::vector<Tensor> {
                  Tensor w = sw.defined() ? sw.get() : Tensor();
                  NormGrads d = kiln::group_norm_backward(g[0], sx.get(), sm.get(), sr.get(), num_groups, w);
                  return {g.needs[0] ? d.dx : Tensor(), g.needs[1] ? d.dweight : Tensor(),
                          g.needs[2] ? d.dbias : Tensor()};
                });
}

}  // namespace kiln::ag
