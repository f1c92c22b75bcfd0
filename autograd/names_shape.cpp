// The differentiable ops of this area, see registry.h.
#include "kiln/autograd/registry.h"

namespace kiln::ag {

std::vector<std::string> shape_op_names() {
  return {// views and copies (view.h)
          "view", "reshape", "permute", "transpose", "t", "expand", "broadcast_to", "squeeze", "unsqueeze", "narrow",
          "slice", "select", "flatten", "unflatten", "contiguous", "clone", "to",
          // shape ops (shape_ops.h)
          "cat", "stack", "split", "chunk", "pad", "flip", "roll", "tril", "triu", "repeat", "tile",
          // indexing (indexing.h)
          "index_select", "gather", "take_along_dim", "scatter", "scatter_add", "masked_fill", "masked_select",
          "index_add", "index", "index_put"};
}

}  // namespace kiln::ag
