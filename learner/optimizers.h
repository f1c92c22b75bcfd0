#pragma once
// fastai's optimizers as compositions of the callbacks in optim_callbacks.h, with typed
// parameters and fastai's defaults. Each returns an Optimizer whose hypers carry the given values
// under fastai's names (lr, mom, sqr_mom, eps, wd, beta, nu_1, nu_2, trust_coeff) and which names
// the fused pass it is equivalent to (Note [Optimizer]).
//
// decouple_wd: true applies weight_decay (p *= 1 - lr wd, AdamW style, fastai's default), false
// applies l2_reg (wd p added to the gradient, PyTorch's weight_decay for SGD / Adam / RAdam).
#include <initializer_list>
#include <vector>

#include "kiln/learner/lookahead.h"
#include "kiln/learner/optimizer.h"

namespace kiln::optim {

// One list per parameter group (a single list is one group).
struct ParamLists {
  std::vector<std::vector<Tensor>> lists;
  ParamLists(std::vector<Tensor> params) : lists{std::move(params)} {}  // NOLINT: implicit on purpose
  ParamLists(std::vector<std::vector<Tensor>> l) : lists(std::move(l)) {}  // NOLINT
  ParamLists(std::initializer_list<Tensor> params) : lists{std::vector<Tensor>(params)} {}  // NOLINT
};

struct SGDParams {
  double lr = 1e-3, mom = 0, wd = 0;
  bool decouple_wd = true;
  bool nesterov = false;   // needs mom != 0
  bool dampening = false;  // grad_avg = mom grad_avg + (1 - mom) g
};
Optimizer SGD(ParamLists params, const SGDParams& p = {});

struct RMSPropParams {
  double lr = 1e-3, sqr_mom = 0.99, mom = 0, eps = 1e-8, wd = 0;
  bool decouple_wd = true;
};
Optimizer RMSProp(ParamLists params, const RMSPropParams& p = {});

struct AdamParams {
  double lr = 1e-3, mom = 0.9, sqr_mom = 0.99, eps = 1e-5, wd = 0.01;
  bool decouple_wd = true;
};
Optimizer Adam(ParamLists params, const AdamParams& p = {});
// Adam with decoupled weight decay whatever p.decouple_wd says.
Optimizer AdamW(ParamLists params, AdamParams p = {});

struct RAdamParams {
  double lr = 1e-3, mom = 0.9, sqr_mom = 0.99, eps = 1e-5, wd = 0, beta = 0;
  bool decouple_wd = true;
};
Optimizer RAdam(ParamLists params, const RAdamParams& p = {});

struct QHAdamParams {
  double lr = 1e-3, mom = 0.999, sqr_mom = 0.999, nu_1 = 0.7, nu_2 = 1.0, eps = 1e-8, wd = 0;
  bool decouple_wd = true;
};
Optimizer QHAdam(ParamLists params, const QHAdamParams& p = {});

struct LarcParams {
  double lr = 1e-3, mom = 0.9, trust_coeff = 0.02, eps = 1e-8, wd = 0;
  bool clip = true;  // LARC (clip = true) or LARS (clip = false)
  bool decouple_wd = true;
};
Optimizer Larc(ParamLists params, const LarcParams& p = {});
// LARS: Larc without clipping the local learning rate to lr.
Optimizer Lars(ParamLists params, LarcParams p = {});

struct LambParams {
  double lr = 1e-3, mom = 0.9, sqr_mom = 0.99, eps = 1e-5, wd = 0;
  bool decouple_wd = true;
};
Optimizer Lamb(ParamLists params, const LambParams& p = {});

struct RangerParams {
  double lr = 1e-3, mom = 0.95, sqr_mom = 0.99, eps = 1e-6, wd = 0.01, beta = 0;
  bool decouple_wd = true;
  int64_t k = 6;
  double alpha = 0.5;
};
// RAdam inside Lookahead (fastai's ranger).
Optimizer ranger(ParamLists params, const RangerParams& p = {});

}  // namespace kiln::optim
