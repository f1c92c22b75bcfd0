#pragma once
// nn.Embedding: a lookup table weight [num_embeddings, embedding_dim], initialised N(0, 1) as
// PyTorch, with the row padding_idx (if >= 0) zeroed and receiving no gradient.
#include <climits>
#include <cstdint>

#include "kiln/nn/module.h"

namespace kiln::nn {

// index (i64, any shape) -> [index.shape..., embedding_dim]. padding_idx kNoPadding means no
// padding row; a negative padding_idx counts from the end, as PyTorch's.
class Embedding : public Module {
 public:
  static constexpr int64_t kNoPadding = INT64_MIN;
  Embedding(int64_t num_embeddings, int64_t embedding_dim, int64_t padding_idx = kNoPadding);
  int64_t num_embeddings, embedding_dim;
  int64_t padding_idx;  // normalised to [0, num_embeddings) or kNoPadding
  Tensor weight;

 protected:
  Tensor forward_impl(const Tensor& index) override;
  std::string extra_repr() const override;
};

}  // namespace kiln::nn
