// Host-side pieces of the fused optimizer steps shared by the CPU and CUDA entry points: the kind
// names and the argument checks, so that both devices refuse the same calls with the same words.
#include "kiln/kernels/optim_fused.h"

#include "kiln/kernels/error.h"

namespace kiln::optim_kernels {

const char* fused_optim_name(FusedOptim kind) {
  switch (kind) {
    case FusedOptim::sgd: return "sgd";
    case FusedOptim::adam: return "adam";
    case FusedOptim::radam: return "radam";
    case FusedOptim::qhadam: return "qhadam";
    case FusedOptim::lamb: return "lamb";
    case FusedOptim::larc: return "larc";
  }
  return "unknown";
}

namespace {

bool supported_float(DType d) { return d == DType::f32 || d == DType::f16 || d == DType::bf16; }

bool known_kind(FusedOptim k) {
  switch (k) {
    case FusedOptim::sgd:
    case FusedOptim::adam:
    case FusedOptim::radam:
    case FusedOptim::qhadam:
    case FusedOptim::lamb:
    case FusedOptim::larc: return true;
  }
  return false;
}

// Whether the kind reads and writes exp_avg / exp_avg_sq (Note [Fused optimizer semantics]).
bool needs_exp_avg(const FusedGroupArgs& g) {
  switch (g.kind) {
    case FusedOptim::sgd:
    case FusedOptim::larc: return g.mom != 0;
    default: return true;
  }
}
bool needs_exp_avg_sq(const FusedGroupArgs& g) { return g.kind != FusedOptim::sgd && g.kind != FusedOptim::larc; }

}  // namespace

void check_fused_args(const char* op, const FusedGroupArgs& group, DType param_dtype, DType grad_dtype,
                      const FusedTensorArgs* tensors, int64_t count) {
  KILN_CHECK(known_kind(group.kind), op, ": unknown optimizer kind ", int(group.kind));
  const char* kind = fused_optim_name(group.kind);
  KILN_CHECK(supported_float(param_dtype), op, " (", kind, "): parameter dtype ", dtype_name(param_dtype),
             " is not supported (f32, f16 or bf16)");
  KILN_CHECK(supported_float(grad_dtype), op, " (", kind, "): gradient dtype ", dtype_name(grad_dtype),
             " is not supported (f32, f16 or bf16)");
  KILN_CHECK(count >= 0, op, " (", kind, "): negative tensor count ", count);
  KILN_CHECK(count == 0 || tensors != nullptr, op, " (", kind, "): ", count, " tensors but no tensor list");
  const bool need_master = param_dtype != DType::f32;
  const bool need_m = needs_exp_avg(group), need_v = needs_exp_avg_sq(group);
  for (int64_t i = 0; i < count; ++i) {
    const FusedTensorArgs& t = tensors[i];
    KILN_CHECK(t.n >= 0, op, " (", kind, "): tensor ", i, " has a negative size ", t.n);
    if (t.n == 0) continue;
    KILN_CHECK(t.param != nullptr, op, " (", kind, "): tensor ", i, " has no param buffer");
    KILN_CHECK(t.grad != nullptr, op, " (", kind, "): tensor ", i, " has no grad buffer");
    KILN_CHECK(!need_master || t.master != nullptr, op, " (", kind, "): tensor ", i, " has ",
               dtype_name(param_dtype), " parameters but no f32 master buffer");
    KILN_CHECK(!need_m || t.exp_avg != nullptr, op, " (", kind, "): tensor ", i, " has no exp_avg buffer",
               group.kind == FusedOptim::sgd || group.kind == FusedOptim::larc ? " (needed when mom != 0)" : "");
    KILN_CHECK(!need_v || t.exp_avg_sq != nullptr, op, " (", kind, "): tensor ", i, " has no exp_avg_sq buffer");
  }
}

void check_nonfinite_args(const char* op, const void* const* grads, const int64_t* n, int64_t count,
                          DType grad_dtype) {
  KILN_CHECK(supported_float(grad_dtype), op, ": gradient dtype ", dtype_name(grad_dtype),
             " is not supported (f32, f16 or bf16)");
  KILN_CHECK(count >= 0, op, ": negative tensor count ", count);
  if (count == 0) return;
  KILN_CHECK(grads != nullptr && n != nullptr, op, ": ", count, " tensors but no gradient list");
  for (int64_t i = 0; i < count; ++i) {
    KILN_CHECK(n[i] >= 0, op, ": tensor ", i, " has a negative size ", n[i]);
    KILN_CHECK(n[i] == 0 || grads[i] != nullptr, op, ": tensor ", i, " has no gradient buffer");
  }
}

}  // namespace kiln::optim_kernels
