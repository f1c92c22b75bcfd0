#pragma once
// fastai's optimizer callbacks (Note [Optimizer] in optimizer.h): stats keep running quantities
// in the parameter's state, steppers change the weights. Each returns an OptimCallback with the
// hyper-parameters it reads and their fastai defaults. Compose them into an Optimizer; the
// factories in optimizers.h are such compositions.
//
// Formulas (p weights, g gradient, lr, mom, sqr_mom, eps, wd hyper-parameters, step the
// parameter's own step count, debias(b) = 1 - b^step):
//   weight_decay      p *= 1 - lr wd                              (when do_wd and wd != 0)
//   l2_reg            g  = g + wd p  (this step's gradient only)  (when do_wd and wd != 0)
//   average_grad      grad_avg = mom grad_avg + (dampening ? 1 - mom : 1) g
//   average_sqr_grad  sqr_avg  = sqr_mom sqr_avg + (dampening ? 1 - sqr_mom : 1) g^2
//   step_stat         step += 1
//   sgd_step          p -= lr g
//   momentum_step     p -= lr grad_avg
//   nesterov_step     p -= lr (g + mom grad_avg)                  (PyTorch's nesterov SGD)
//   rms_prop_step     p -= lr a / (sqrt(sqr_avg) + eps), a = grad_avg when tracked, else g
//   adam_step         p -= lr / debias(mom) * grad_avg / (sqrt(sqr_avg / debias(sqr_mom)) + eps)
//   radam_step        RAdam's rectified adam_step (beta > 0: softplus(denominator, beta))
//   qhadam_step       p -= lr ((1 - nu_1) g + nu_1 grad_avg / debias(mom))
//                             / (sqrt((1 - nu_2) g^2 + nu_2 sqr_avg / debias(sqr_mom)) + eps)
//   larc_layer_lr     local_lr = lr trust_coeff |p| / (|g| + |p| wd' + eps), clip: min(lr, .)
//                     with wd' = wd when do_wd, else 0 (fastai uses wd even when masked; kiln
//                     uses the decay that is actually applied, so masks mean the same everywhere)
//   larc_step         p -= local_lr a, a = grad_avg when tracked, else g
//   lamb_step         u = grad_avg / debias(mom) / (sqrt(sqr_avg / debias(sqr_mom)) + eps),
//                     r1 = rms(p), r2 = rms(u), q = 1 if r1 or r2 is 0 else min(r1 / r2, 10),
//                     p -= lr q u
#include "kiln/learner/optimizer.h"

namespace kiln::optim {

// 1 - beta^step, the Adam-family bias correction (fastai's debias(mom, 1 - mom, step)).
double debias(double beta, double step);
// RAdam's rectification factor at `step` for sqr_mom, or 0 while rho_t <= 5 (un-adapted step).
double radam_rectification(double sqr_mom, double step);

OptimCallback weight_decay();                       // wd = 0
OptimCallback l2_reg();                             // wd = 0
OptimCallback average_grad(bool dampening = false);       // mom = 0.9
OptimCallback average_sqr_grad(bool dampening = true);    // sqr_mom = 0.99
OptimCallback step_stat();
OptimCallback sgd_step();
OptimCallback momentum_step();
OptimCallback nesterov_step();
OptimCallback rms_prop_step();                      // eps = 1e-8
OptimCallback adam_step();                          // eps = 1e-5
OptimCallback radam_step();                         // eps = 1e-5, beta = 0
OptimCallback qhadam_step();                        // eps = 1e-8, nu_1 = 0.7, nu_2 = 1
OptimCallback larc_layer_lr(bool clip = true);      // trust_coeff = 0.02, wd = 0, eps = 1e-8
OptimCallback larc_step();
OptimCallback lamb_step();                          // eps = 1e-6, wd = 0

}  // namespace kiln::optim
