// fastai's optimizers as callback lists (optimizers.h).
#include "kiln/learner/optimizers.h"

#include "kiln/learner/optim_callbacks.h"

namespace kiln::optim {

namespace {

using optim_kernels::FusedOptim;

OptimCallback decay(bool decouple) { return decouple ? weight_decay() : l2_reg(); }

Optimizer make(ParamLists params, std::vector<OptimCallback> cbs, const Hypers& hypers, const char* name,
               std::optional<FusedSpec> spec) {
  Optimizer opt(std::move(params.lists), std::move(cbs), hypers);
  opt.set_type_name(name);
  opt.set_fused_spec(spec);
  return opt;
}

}  // namespace

Optimizer SGD(ParamLists params, const SGDParams& p) {
  KILN_CHECK(!p.nesterov || p.mom != 0, "SGD: nesterov momentum needs mom != 0");
  std::vector<OptimCallback> cbs{decay(p.decouple_wd)};
  if (p.mom != 0) cbs.push_back(average_grad(p.dampening));
  cbs.push_back(p.mom == 0 ? sgd_step() : p.nesterov ? nesterov_step() : momentum_step());
  return make(std::move(params), std::move(cbs), {{"lr", p.lr}, {"mom", p.mom}, {"wd", p.wd}}, "SGD",
              FusedSpec{FusedOptim::sgd, p.dampening, p.nesterov, true, p.mom != 0});
}

Optimizer RMSProp(ParamLists params, const RMSPropParams& p) {
  std::vector<OptimCallback> cbs{decay(p.decouple_wd)};
  if (p.mom != 0) cbs.push_back(average_grad());
  cbs.push_back(average_sqr_grad());
  cbs.push_back(rms_prop_step());
  return make(std::move(params), std::move(cbs),
              {{"lr", p.lr}, {"mom", p.mom}, {"sqr_mom", p.sqr_mom}, {"eps", p.eps}, {"wd", p.wd}}, "RMSProp",
              std::nullopt);
}

Optimizer Adam(ParamLists params, const AdamParams& p) {
  std::vector<OptimCallback> cbs{decay(p.decouple_wd), average_grad(true), average_sqr_grad(), step_stat(),
                                 adam_step()};
  return make(std::move(params), std::move(cbs),
              {{"lr", p.lr}, {"mom", p.mom}, {"sqr_mom", p.sqr_mom}, {"eps", p.eps}, {"wd", p.wd}}, "Adam",
              FusedSpec{FusedOptim::adam, true, false, true, true});
}

Optimizer AdamW(ParamLists params, AdamParams p) {
  p.decouple_wd = true;
  Optimizer opt = Adam(std::move(params), p);
  opt.set_type_name("AdamW");
  return opt;
}

Optimizer RAdam(ParamLists params, const RAdamParams& p) {
  std::vector<OptimCallback> cbs{decay(p.decouple_wd), average_grad(true), average_sqr_grad(), step_stat(),
                                 radam_step()};
  return make(std::move(params), std::move(cbs),
              {{"lr", p.lr}, {"mom", p.mom}, {"sqr_mom", p.sqr_mom}, {"eps", p.eps}, {"wd", p.wd}, {"beta", p.beta}},
              "RAdam", FusedSpec{FusedOptim::radam, true, false, true, true});
}

Optimizer QHAdam(ParamLists params, const QHAdamParams& p) {
  std::vector<OptimCallback> cbs{decay(p.decouple_wd), average_grad(true), average_sqr_grad(true), step_stat(),
                                 qhadam_step()};
  return make(std::move(params), std::move(cbs),
              {{"lr", p.lr},
               {"mom", p.mom},
               {"sqr_mom", p.sqr_mom},
               {"nu_1", p.nu_1},
               {"nu_2", p.nu_2},
               {"eps", p.eps},
               {"wd", p.wd}},
              "QHAdam", FusedSpec{FusedOptim::qhadam, true, false, true, true});
}

Optimizer Larc(ParamLists params, const LarcParams& p) {
  std::vector<OptimCallback> cbs{decay(p.decouple_wd)};
  if (p.mom != 0) cbs.push_back(average_grad());
  cbs.push_back(larc_layer_lr(p.clip));
  cbs.push_back(larc_step());
  return make(std::move(params), std::move(cbs),
              {{"lr", p.lr}, {"mom", p.mom}, {"trust_coeff", p.trust_coeff}, {"eps", p.eps}, {"wd", p.wd}},
              p.clip ? "Larc" : "Lars", FusedSpec{FusedOptim::larc, false, false, p.clip, p.mom != 0});
}

Optimizer Lars(ParamLists params, LarcParams p) {
  p.clip = false;
  return Larc(std::move(params), p);
}

Optimizer Lamb(ParamLists params, const LambParams& p) {
  std::vector<OptimCallback> cbs{decay(p.decouple_wd), average_grad(true), average_sqr_grad(), step_stat(),
                                 lamb_step()};
  return make(std::move(params), std::move(cbs),
              {{"lr", p.lr}, {"mom", p.mom}, {"sqr_mom", p.sqr_mom}, {"eps", p.eps}, {"wd", p.wd}}, "Lamb",
              FusedSpec{FusedOptim::lamb, true, false, true, true});
}

Optimizer ranger(ParamLists params, const RangerParams& p) {
  RAdamParams r;
  r.lr = p.lr;
  r.mom = p.mom;
  r.sqr_mom = p.sqr_mom;
  r.eps = p.eps;
  r.wd = p.wd;
  r.beta = p.beta;
  r.decouple_wd = p.decouple_wd;
  Optimizer opt = Lookahead(RAdam(std::move(params), r), p.k, p.alpha);
  opt.set_type_name("ranger");
  return opt;
}

}  // namespace kiln::optim
