#pragma once
// Finite-difference gradient checking (float64).
#include <functional>
#include <string>
#include <vector>

#include "kiln/tensor/tensor.h"

namespace kiln::ag {

struct GradcheckOptions {
  double eps = 1e-6;   // central difference step
  double atol = 1e-5;
  double rtol = 1e-3;
  uint64_t seed = 0;   // for the random projection of the output
};

struct GradcheckResult {
  bool ok = true;
  std::string message;  // the first mismatch: input, element, analytic vs numeric
};

// Checks the gradient of f at `inputs` for every floating input that requires grad. The inputs
// must be f64 (the check is meaningless in f32). Method: draw a random v of f's output shape,
// compute the analytic vector-Jacobian product J^T v with one backward, and compare each of its
// elements with the central difference (f(x + eps e_i) . v - f(x - eps e_i) . v) / (2 eps),
// |analytic - numeric| <= atol + rtol |numeric|. Inputs are restored after perturbation.
// Non-contiguous inputs are perturbed through their own strides.
GradcheckResult gradcheck(const std::function<Tensor(const std::vector<Tensor>&)>& f,
                          const std::vector<Tensor>& inputs, const GradcheckOptions& opt = {});

}  // namespace kiln::ag
