// The differentiable ops of this area, see registry.h.
#include "kiln/autograd/registry.h"

namespace kiln::ag {

std::vector<std::string> nn_op_names() {
  return {// linalg.cpp
          "mm", "bmm", "matmul", "addmm", "outer", "dot", "linear",
          // conv.cpp
          "conv2d", "conv_transpose2d", "conv1d",
          // pool.cpp
          "max_pool2d", "avg_pool2d", "adaptive_avg_pool2d", "adaptive_max_pool2d",
          // norm.cpp
          "batch_norm", "batch_norm_act", "layer_norm", "group_norm",
          // softmax.cpp
          "softmax", "log_softmax",
          // interpolate.cpp
          "upsample_nearest2d", "upsample_bilinear2d", "interpolate",
          // grid_sample.cpp
          "affine_grid", "grid_sample",
          // dropout.cpp, embedding.cpp
          "dropout", "dropout2d", "embedding",
          // lstm_cell.cpp
          "lstm_cell"};
}

}  // namespace kiln::ag
