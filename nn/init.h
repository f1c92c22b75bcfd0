#pragma once
// Parameter initialisation (PyTorch's torch.nn.init semantics). Every function fills its tensor
// IN PLACE (the TensorImpl keeps its storage, so layer members and optimizers see the values),
// under NoGradGuard, and returns it. `gen` null means the default generator.
#include <string>

#include "kiln/tensor/random.h"
#include "kiln/tensor/tensor.h"

namespace kiln::nn::init {

enum class FanMode { fan_in, fan_out };

// The activation names calculate_gain knows, as PyTorch: linear, conv1d/2d/3d, sigmoid -> 1;
// tanh -> 5/3; relu -> sqrt(2); leaky_relu -> sqrt(2 / (1 + param^2)); selu -> 3/4.
enum class Nonlinearity { linear, conv, sigmoid, tanh, relu, leaky_relu, selu };
double calculate_gain(Nonlinearity nl, double param = 0.01);

// Fans of a weight of shape [out, in, k...] (Linear [out, in]; Conv [C_out, C_in/groups, kH, kW]):
// fan_in = in * prod(k), fan_out = out * prod(k). Needs at least 2 dims.
struct Fans {
  int64_t fan_in = 0, fan_out = 0;
};
Fans calculate_fans(const Tensor& w);

// While a SkipInitGuard is alive, on its thread, the random initialisers (uniform_, normal_ and
// those built on them) and the layers' default initialisations leave their tensors as allocated
// (unspecified values); constant_ / zeros_ / ones_ still fill. For building a model only to inspect
// its structure (parameter names, counts) or to load a state dict into it afterwards (PyTorch's
// skip_init idea): a large model then costs its allocations, not its random draws. Nests.
class SkipInitGuard {
 public:
  SkipInitGuard();
  ~SkipInitGuard();
  SkipInitGuard(const SkipInitGuard&) = delete;
  SkipInitGuard& operator=(const SkipInitGuard&) = delete;

 private:
  bool prev_;
};
// True while a SkipInitGuard is alive on this thread.
bool init_skipped();

Tensor uniform_(const Tensor& t, double lo = 0, double hi = 1, Generator* gen = nullptr);
Tensor normal_(const Tensor& t, double mean = 0, double std = 1, Generator* gen = nullptr);
Tensor constant_(const Tensor& t, double value);
Tensor zeros_(const Tensor& t);
Tensor ones_(const Tensor& t);

// std = gain / sqrt(fan); a is the negative slope used for the leaky_relu gain.
// kaiming_normal_: N(0, std^2); kaiming_uniform_: U(-sqrt(3) std, sqrt(3) std).
Tensor kaiming_normal_(const Tensor& t, double a = 0, FanMode mode = FanMode::fan_in,
                       Nonlinearity nl = Nonlinearity::leaky_relu, Generator* gen = nullptr);
Tensor kaiming_uniform_(const Tensor& t, double a = 0, FanMode mode = FanMode::fan_in,
                        Nonlinearity nl = Nonlinearity::leaky_relu, Generator* gen = nullptr);
// std = gain sqrt(2 / (fan_in + fan_out)); uniform bound sqrt(3) std.
Tensor xavier_normal_(const Tensor& t, double gain = 1, Generator* gen = nullptr);
Tensor xavier_uniform_(const Tensor& t, double gain = 1, Generator* gen = nullptr);

}  // namespace kiln::nn::init
