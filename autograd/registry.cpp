#include "kiln/autograd/registry.h"

namespace kiln::ag {

std::vector<std::string> differentiable_ops() {
  std::vector<std::string> all;
  for (auto list : {elementwise_op_names(), reduce_op_names(), nn_op_names(), shape_op_names()})
    all.insert(all.end(), list.begin(), list.end());
  return all;
}

}  // namespace kiln::ag
