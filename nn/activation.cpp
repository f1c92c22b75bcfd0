#include "kiln/nn/activation.h"

#include <sstream>

#include "kiln/autograd/elementwise.h"
#include "kiln/autograd/softmax.h"

namespace kiln::nn {

Tensor ReLU::forward_impl(const Tensor& x) { return ag::relu(x); }

Tensor LeakyReLU::forward_impl(const Tensor& x) { return ag::leaky_relu(x, negative_slope); }
std::string LeakyReLU::extra_repr() const {
  std::ostringstream s;
  s << "negative_slope=" << negative_slope;
  return s.str();
}

Tensor GELU::forward_impl(const Tensor& x) { return ag::gelu(x, approximate); }
std::string GELU::extra_repr() const {
  return std::string("approximate='") + (approximate == GeluApprox::none ? "none" : "tanh") + "'";
}

Tensor SiLU::forward_impl(const Tensor& x) { return ag::silu(x); }
Tensor Mish::forward_impl(const Tensor& x) { return ag::mish(x); }
Tensor Sigmoid::forward_impl(const Tensor& x) { return ag::sigmoid(x); }
Tensor Tanh::forward_impl(const Tensor& x) { return ag::tanh(x); }

Tensor Softmax::forward_impl(const Tensor& x) { return ag::softmax(x, dim); }
std::string Softmax::extra_repr() const { return "dim=" + std::to_string(dim); }

Tensor sigmoid_range(const Tensor& x, double low, double high) {
  return ag::add(ag::mul(ag::sigmoid(x), high - low), low);
}

Tensor SigmoidRange::forward_impl(const Tensor& x) { return sigmoid_range(x, low, high); }
std::string SigmoidRange::extra_repr() const {
  std::ostringstream s;
  s << "low=" << low << ", high=" << high;
  return s.str();
}

}  // namespace kiln::nn
