// The differentiable ops of this area, see registry.h.
#include "kiln/autograd/registry.h"

namespace kiln::ag {

std::vector<std::string> nn_op_names() {
  return {"mm",           "bmm",          "matmul",           "addmm",       "outer",
          "dot",          "linear",       "conv2d",           "conv_transpose2d", "conv1d",
          "max_pool2d",   "avg_pool2d",   "adaptive_avg_pool2d", "adaptive_max_pool2d", "batch_norm",
          "layer_norm",   "group_norm",   "softmax",          "log_softmax", "upsample_nearest2d",
          "upsample_bilinear2d", "interpolate", "affine_grid", "grid_sample", "dropout",
          "dropout2d",    "embedding"};
}

}  // namespace kiln::ag
