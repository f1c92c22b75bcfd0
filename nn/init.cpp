// Initialisers. They write through the tensor's own storage (fill_/copy_), never rebind the
// handle, so parameters registered in a Module keep their identity.
#include "kiln/nn/init.h"

#include <cmath>

#include "kiln/autograd/grad_mode.h"
#include "kiln/kernels/error.h"
#include "kiln/tensor/ops.h"

namespace kiln::nn::init {

namespace {
thread_local bool skip_init = false;
}  // namespace

SkipInitGuard::SkipInitGuard() : prev_(skip_init) { skip_init = true; }
SkipInitGuard::~SkipInitGuard() { skip_init = prev_; }
bool init_skipped() { return skip_init; }

double calculate_gain(Nonlinearity nl, double param) {
  switch (nl) {
    case Nonlinearity::linear:
    case Nonlinearity::conv:
    case Nonlinearity::sigmoid: return 1.0;
    case Nonlinearity::tanh: return 5.0 / 3.0;
    case Nonlinearity::relu: return std::sqrt(2.0);
    case Nonlinearity::leaky_relu: return std::sqrt(2.0 / (1.0 + param * param));
    case Nonlinearity::selu: return 3.0 / 4.0;
  }
  return 1.0;
}

Fans calculate_fans(const Tensor& w) {
  check_defined(w, "calculate_fans", "w");
  KILN_CHECK(w.dim() >= 2, "calculate_fans: weight of shape ", w.shape(), " needs at least 2 dimensions");
  int64_t receptive = 1;
  for (int d = 2; d < w.dim(); ++d) receptive *= w.size(d);
  return {w.size(1) * receptive, w.size(0) * receptive};
}

static void check_floating(const Tensor& t, const char* op) {
  check_defined(t, op, "t");
  KILN_CHECK(t.is_floating_point(), op, ": tensor has dtype ", dtype_name(t.dtype()), ", expected a floating dtype");
}

// Draws on the CPU in the tensor's dtype and copies into it (same values on every device).
static Tensor fill_from(const Tensor& t, const Tensor& values) {
  ag::NoGradGuard ng;
  Tensor dst = t;
  dst.copy_(values.device() == t.device() ? values : values.to(t.device()));
  return t;
}

Tensor uniform_(const Tensor& t, double lo, double hi, Generator* gen) {
  check_floating(t, "init::uniform_");
  KILN_CHECK(lo <= hi, "init::uniform_: lo ", lo, " > hi ", hi);
  if (skip_init) return t;
  Tensor r = rand(t.shape(), DType::f64, gen);
  return fill_from(t, add(mul(r, hi - lo), lo));
}

Tensor normal_(const Tensor& t, double mean, double std, Generator* gen) {
  check_floating(t, "init::normal_");
  KILN_CHECK(std >= 0, "init::normal_: std ", std, " is negative");
  if (skip_init) return t;
  return fill_from(t, normal(mean, std, t.shape(), DType::f64, gen));
}

Tensor constant_(const Tensor& t, double value) {
  check_defined(t, "init::constant_", "t");
  ag::NoGradGuard ng;
  fill_(t, value);
  return t;
}

Tensor zeros_(const Tensor& t) { return constant_(t, 0); }
Tensor ones_(const Tensor& t) { return constant_(t, 1); }

static double kaiming_std(const Tensor& t, double a, FanMode mode, Nonlinearity nl, const char* op) {
  check_floating(t, op);
  Fans f = calculate_fans(t);
  int64_t fan = mode == FanMode::fan_in ? f.fan_in : f.fan_out;
  KILN_CHECK(fan > 0, op, ": tensor of shape ", t.shape(), " has fan 0");
  return calculate_gain(nl, a) / std::sqrt(double(fan));
}

Tensor kaiming_normal_(const Tensor& t, double a, FanMode mode, Nonlinearity nl, Generator* gen) {
  double std = kaiming_std(t, a, mode, nl, "init::kaiming_normal_");
  return normal_(t, 0, std, gen);
}

Tensor kaiming_uniform_(const Tensor& t, double a, FanMode mode, Nonlinearity nl, Generator* gen) {
  double bound = std::sqrt(3.0) * kaiming_std(t, a, mode, nl, "init::kaiming_uniform_");
  return uniform_(t, -bound, bound, gen);
}

static double xavier_std(const Tensor& t, double gain, const char* op) {
  check_floating(t, op);
  Fans f = calculate_fans(t);
  KILN_CHECK(f.fan_in + f.fan_out > 0, op, ": tensor of shape ", t.shape(), " has fans 0");
  return gain * std::sqrt(2.0 / double(f.fan_in + f.fan_out));
}

Tensor xavier_normal_(const Tensor& t, double gain, Generator* gen) {
  return normal_(t, 0, xavier_std(t, gain, "init::xavier_normal_"), gen);
}

Tensor xavier_uniform_(const Tensor& t, double gain, Generator* gen) {
  double bound = std::sqrt(3.0) * xavier_std(t, gain, "init::xavier_uniform_");
  return uniform_(t, -bound, bound, gen);
}

}  // namespace kiln::nn::init
