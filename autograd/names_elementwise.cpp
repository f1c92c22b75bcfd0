// The differentiable ops of this area, see registry.h. One name per function family: all the
// overloads of an op share its name (and its gradient-check rows cover each overload). The C++
// operators record the nodes of the functions they call (add, sub, mul, div, neg).
#include "kiln/autograd/registry.h"

namespace kiln::ag {

std::vector<std::string> elementwise_op_names() {
  return {"neg",     "abs",   "sign",    "exp",       "log",      "log1p",      "expm1",     "sqrt",    "rsqrt",
          "reciprocal", "square", "sin",  "cos",       "tanh",     "sigmoid",    "relu",      "leaky_relu", "gelu",
          "silu",    "mish",  "softplus", "floor",    "ceil",     "round",      "clamp",     "clamp_min", "clamp_max",
          "pow",     "add",   "sub",     "mul",       "div",      "minimum",    "maximum",   "where",
          "erf",     "erfc"};
}

}  // namespace kiln::ag
