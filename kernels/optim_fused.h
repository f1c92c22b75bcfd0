#pragma once
// The fused optimizer steps: the arguments shared by the CPU kernels (kernels/cpu/optim.h) and the
// multi-tensor CUDA kernels (kernels/cuda/optim.h), and the per-element update formulas they both
// call (kernels/optim_math.h). The learner layer's composed optimizers (stats + steppers, fastai's
// formulas) are the reference; these compute the same updates in one pass per element.
//
// Note [Fused optimizer semantics]
// Every kind first forms the gradient g = grad * inv_scale (grad read in its dtype, math in f32),
// and reads the weight w from `master` when given (f16/bf16 parameters keep an f32 master copy),
// else from `param`. Then, with wd the tensor's weight decay (0 when its do_wd mask is off):
//   decouple_wd: w = w * (1 - lr * wd)           (fastai weight_decay, first callback)
//   else:        g = g + wd * w                  (fastai l2_reg, with w before the update)
// and the kind's update (fastai's steppers; m = exp_avg, v = exp_avg_sq):
//   sgd:    mom == 0: w -= lr * g
//           else: m = mom * m + (dampening ? 1 - mom : 1) * g;
//                 w -= lr * (nesterov ? g + mom * m : m)
//   adam:   m = mom * m + (1 - mom) * g;  v = sqr_mom * v + (1 - sqr_mom) * g^2
//           w -= (lr / debias1) * m / (sqrt(v / debias2) + eps)
//   radam:  m, v as adam; radam_rect > 0: d = sqrt(v / debias2) + eps,
//                                          d = beta != 0 ? softplus(d, beta) : d,
//                                          w -= (lr * radam_rect / debias1) * m / d
//                         else:            w -= (lr / debias1) * m
//   qhadam: m, v as adam; w -= lr * ((1 - nu1) g + nu1 m / debias1)
//                                  / (sqrt((1 - nu2) g^2 + nu2 v / debias2) + eps)
//   lamb:   m, v as adam; u = (m / debias1) / (sqrt(v / debias2) + eps)
//           r1 = sqrt(mean(w^2)) (w after decay), r2 = sqrt(mean(u^2)) over the whole tensor,
//           q = (r1 == 0 || r2 == 0) ? 1 : min(r1 / r2, 10);  w -= lr * q * u
//   larc:   (w after decay) local = lr * trust_coeff * |w| / (|g| + |w| * wd + eps)  (L2 norms of
//           the whole tensor, g after the L2 term); clip: local = min(lr, local);
//           mom != 0: m = mom * m + (dampening ? 1 - mom : 1) * g, w -= local * m
//           else:     w -= local * g
// Then w is stored to master (when given) and, rounded to the parameter dtype, to param.
// debias1 = 1 - mom^step and debias2 = 1 - sqr_mom^step use the tensor's own step count (after
// it was incremented for this step), computed by the caller in double. radam_rect is RAdam's
// rectification factor for that step (0 while rho_t <= 5).
// lamb and larc need whole-tensor norms before the update: two phases (norms, then update).
#include <cstdint>

#include "kiln/kernels/dtype.h"

namespace kiln::optim_kernels {

enum class FusedOptim : int32_t { sgd, adam, radam, qhadam, lamb, larc };

const char* fused_optim_name(FusedOptim kind);

// Hyper-parameters shared by all tensors of one group for one step.
struct FusedGroupArgs {
  FusedOptim kind = FusedOptim::sgd;
  float lr = 0;
  float mom = 0;           // SGD momentum, beta1 of the Adam family
  float sqr_mom = 0;       // beta2
  float eps = 0;
  bool decouple_wd = true; // see the Note
  bool dampening = false;  // sgd / larc momentum average
  bool nesterov = false;   // sgd
  float beta = 0;          // radam softplus beta (0: off)
  float nu1 = 0, nu2 = 0;  // qhadam
  float trust_coeff = 0;   // larc
  bool clip = true;        // larc
  float inv_scale = 1;     // gradient multiplier (loss-scale unscaling), 1 = none
};

// One parameter tensor: n contiguous elements in each buffer.
struct FusedTensorArgs {
  void* param = nullptr;        // param_dtype: f32, f16 or bf16
  const void* grad = nullptr;   // grad_dtype: f32, f16 or bf16
  float* master = nullptr;      // f32 master weights (needed for f16/bf16 params, else nullptr)
  float* exp_avg = nullptr;     // grad_avg / momentum buffer; nullptr when the kind has none
  float* exp_avg_sq = nullptr;  // sqr_avg (adam, radam, qhadam, lamb)
  int64_t n = 0;
  float wd = 0;                 // this tensor's weight decay (0 when masked off)
  float debias1 = 1;            // 1 - mom^step
  float debias2 = 1;            // 1 - sqr_mom^step
  float radam_rect = 0;         // RAdam rectification factor (0: un-adapted step)
};

// The checks both devices' fused_optim_step make before touching memory (kernels/optim_fused.cpp):
// a known kind, param / grad dtypes in {f32, f16, bf16}, count >= 0, and for every tensor with
// n > 0 the buffers its kind needs (param, grad, master for f16 / bf16 params, exp_avg when the
// kind keeps a momentum, exp_avg_sq for the Adam family and lamb). Throws kiln::Error naming `op`
// and the tensor index.
void check_fused_args(const char* op, const FusedGroupArgs& group, DType param_dtype, DType grad_dtype,
                      const FusedTensorArgs* tensors, int64_t count);

// Checks of any_nonfinite / nonfinite_check: grad dtype in {f32, f16, bf16}, count >= 0, n >= 0,
// and a pointer for every non-empty gradient.
void check_nonfinite_args(const char* op, const void* const* grads, const int64_t* n, int64_t count,
                          DType grad_dtype);

}  // namespace kiln::optim_kernels
