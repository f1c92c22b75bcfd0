// The differentiable ops of this area, see registry.h. "max" / "min" cover both the all-elements
// and the (dim, keepdim) forms.
#include "kiln/autograd/registry.h"

namespace kiln::ag {

std::vector<std::string> reduce_op_names() {
  return {"sum", "mean", "prod", "amax", "amin", "max", "min", "var", "std", "var_mean", "norm", "logsumexp",
          "cumsum", "cumprod"};
}

}  // namespace kiln::ag
