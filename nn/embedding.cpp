#include "kiln/nn/embedding.h"

#include "kiln/autograd/embedding.h"
#include "kiln/autograd/grad_mode.h"
#include "kiln/tensor/creation.h"
#include "kiln/tensor/elementwise.h"
#include "kiln/tensor/random.h"

namespace kiln::nn {

Embedding::Embedding(int64_t n, int64_t d, int64_t pad) : Module("Embedding"), num_embeddings(n), embedding_dim(d) {
  KILN_CHECK(n >= 0 && d >= 0, "Embedding: sizes must be >= 0, got num_embeddings=", n, " embedding_dim=", d);
  if (pad != kNoPadding) {
    KILN_CHECK(pad >= -n && pad < n, "Embedding: padding_idx ", pad, " out of range for num_embeddings=", n);
    if (pad < 0) pad += n;
  }
  padding_idx = pad;
  Tensor w = randn({n, d});
  if (pad != kNoPadding) kiln::zero_(w.select(0, pad));
  weight = register_parameter("weight", w);
}

Tensor Embedding::forward_impl(const Tensor& index) {
  return ag::embedding(weight, index, padding_idx == kNoPadding ? -1 : padding_idx);
}

std::string Embedding::extra_repr() const {
  std::string s = std::to_string(num_embeddings) + ", " + std::to_string(embedding_dim);
  if (padding_idx != kNoPadding) s += ", padding_idx=" + std::to_string(padding_idx);
  return s;
}

}  // namespace kiln::nn
