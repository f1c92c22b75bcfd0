#include "kiln/nn/linear.h"

#include "kiln/autograd/linalg.h"
#include "kiln/nn/layer_init.h"
#include "kiln/tensor/creation.h"

namespace kiln::nn {

Linear::Linear(int64_t in, int64_t out, bool has_bias) : Module("Linear"), in_features(in), out_features(out) {
  KILN_CHECK(in >= 0 && out >= 0, "Linear: feature counts must be >= 0, got in_features=", in,
             " out_features=", out);
  Tensor w = empty({out, in});
  detail::uniform_bound(w, detail::default_bound(in));
  weight = register_parameter("weight", w);
  if (has_bias) {
    Tensor b = empty({out});
    detail::uniform_bound(b, detail::default_bound(in));
    bias = register_parameter("bias", b);
  }
}

Tensor Linear::forward_impl(const Tensor& x) {
  KILN_CHECK(x.dim() >= 1 && x.size(-1) == in_features, "Linear: input of shape ", x.shape(),
             " does not end with in_features=", in_features);
  return ag::linear(x, weight, bias);
}

std::string Linear::extra_repr() const {
  return "in_features=" + std::to_string(in_features) + ", out_features=" + std::to_string(out_features) +
         ", bias=" + (bias.defined() ? "True" : "False");
}

}  // namespace kiln::nn
