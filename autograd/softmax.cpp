// Softmax and log-softmax: both gradients are functions of the output alone, so only y is saved.
#include "kiln/autograd/softmax.h"

namespace kiln::ag {

Tensor softmax(const Tensor& x, int64_t dim) {
  Tensor y = kiln::softmax(x, dim);
  if (!any_requires_grad({&x})) return y;
  SavedTensor sy(y, "softmax");
  return record("softmax", {x}, y, [sy, dim](const Grads& g) -> std::vector<Tensor> {
    return {kiln::softmax_backward(g[0], sy.get(), dim)};
  });
}

Tensor log_softmax(const Tensor& x, int64_t dim) {
  Tensor y = kiln::log_softmax(x, dim);
  if (!any_requires_grad({&x})) return y;
  SavedTensor sy(y, "log_softmax");
  return record("log_softmax", {x}, y, [sy, dim](const Grads& g) -> std::vector<Tensor> {
    return {kiln::log_softmax_backward(g[0], sy.get(), dim)};
  });
}

}  // namespace kiln::ag
