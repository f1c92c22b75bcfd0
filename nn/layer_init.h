#pragma once
// Initialisation helpers private to the layer files (not installed API; nn/init.h has the general
// kaiming / xavier initialisers). They fill a tensor in place under NoGradGuard.
#include <cmath>

#include "kiln/autograd/grad_mode.h"
#include "kiln/nn/init.h"
#include "kiln/tensor/random.h"

namespace kiln::nn::detail {

// Uniform in [-bound, bound].
inline void uniform_bound(Tensor& t, double bound) {
  if (init::init_skipped()) return;
  ag::NoGradGuard ng;
  kiln::uniform_(t, -bound, bound);
}

// PyTorch's default for Linear / Conv weights and biases: kaiming_uniform(a = sqrt(5)) on the
// weight, which is uniform in +-1/sqrt(fan_in), and the bias uniform in the same bound.
inline double default_bound(int64_t fan_in) { return fan_in > 0 ? 1.0 / std::sqrt(double(fan_in)) : 0.0; }

}  // namespace kiln::nn::detail
