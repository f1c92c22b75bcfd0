// Batch norm + activation: the argument checks both devices make before touching memory, so the
// CPU reference and the CUDA kernels refuse the same calls with the same messages.
#include "kiln/kernels/bn_act_math.h"
#include "kiln/kernels/error.h"

namespace kiln {

const char* bn_activation_name(BnActivation a) {
  switch (a) {
    case BnActivation::none: return "none";
    case BnActivation::relu: return "relu";
    case BnActivation::leaky_relu: return "leaky_relu";
    case BnActivation::silu: return "silu";
  }
  return "?";
}

namespace {

void check_common(const char* op, int64_t N, int64_t C, int64_t S, const BnActParams& p) {
  KILN_CHECK(N >= 0 && C >= 0 && S >= 0, op, ": sizes must be non-negative, got N=", N, " C=", C, " S=", S);
  KILN_CHECK(p.act == BnActivation::none || p.act == BnActivation::relu || p.act == BnActivation::leaky_relu ||
                 p.act == BnActivation::silu,
             op, ": unknown activation code ", int(p.act));
  KILN_CHECK(p.eps >= 0, op, ": eps must be non-negative, got ", p.eps);
}

}  // namespace

bool check_bn_act_forward_args(const char* op, int64_t N, int64_t C, int64_t S, const BnActParams& p,
                               const void* running_mean, const void* running_var) {
  check_common(op, N, C, S, p);
  if (C == 0) return false;  // nothing to read or write (empty buffers may be null)
  KILN_CHECK((running_mean == nullptr) == (running_var == nullptr), op,
             ": running_mean and running_var must be given together");
  if (p.training)
    KILN_CHECK(N * S > 1, op, ": training needs more than 1 value per channel, got N=", N, " S=", S);
  else
    KILN_CHECK(running_mean != nullptr, op, ": eval mode needs running_mean and running_var");
  return true;
}

bool check_bn_act_backward_args(const char* op, int64_t N, int64_t C, int64_t S, const BnActParams& p,
                                const void* save_mean, const void* save_invstd) {
  check_common(op, N, C, S, p);
  if (C == 0) return false;
  KILN_CHECK(save_mean != nullptr && save_invstd != nullptr, op, ": save_mean and save_invstd are required");
  return true;
}

}  // namespace kiln
