// Embedding lookup: the gradient adds each output row back into the weight row it was read from
// (kiln::embedding_backward, deterministic, skipping padding_idx).
#include "kiln/autograd/embedding.h"

#include "kiln/kernels/error.h"

namespace kiln::ag {

Tensor embedding(const Tensor& weight, const Tensor& index, int64_t padding_idx) {
  KILN_CHECK(weight.defined() && weight.dim() == 2, "embedding: weight must be 2-d [V, D]");
  const int64_t V = weight.size(0);
  KILN_CHECK(padding_idx >= -1 && padding_idx < V, "embedding: padding_idx ", padding_idx, " is outside [-1, ", V,
             ")");
  Tensor y = kiln::embedding(weight, index);
  if (!any_requires_grad({&weight})) return y;
  SavedTensor si(index, "embedding");
  return record("embedding", {weight}, y, [si, V, padding_idx](const Grads& g) -> std::vector<Tensor> {
    return {kiln::embedding_backward(g[0], si.get(), V, padding_idx)};
  });
}

}  // namespace kiln::ag
