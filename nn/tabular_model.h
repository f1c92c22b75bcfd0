#pragma once
// fastai's TabularModel (embeddings of categorical columns + batch-normed continuous columns, then
// a LinBnDrop MLP) and the collaborative-filtering models built on it.
#include <cstdint>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include "kiln/nn/containers.h"
#include "kiln/nn/module.h"
#include "kiln/tensor/random.h"

namespace kiln::nn {

struct TabularOptions {
  std::vector<double> ps;   // dropout per hidden layer (empty = 0s)
  double embed_p = 0.0;     // dropout on the concatenated embeddings
  std::optional<std::pair<double, double>> y_range;  // SigmoidRange(lo, hi) at the end
  bool use_bn = true, bn_final = false, bn_cont = true, lin_first = true;
};

// fastai's Embedding initialisation: truncated normal (values folded into (-2, 2) with fmod),
// std 0.01. Returns the tensor.
Tensor trunc_normal_(const Tensor& t, double std = 0.01, Generator* gen = nullptr);

// fastai's TabularModel(emb_szs, n_cont, out_sz, layers, ...). Children: embeds ("embeds.i":
// Embedding(n_cat_i, dim_i), fastai init), emb_drop (Dropout(embed_p)), bn_cont (BatchNorm1d(n_cont),
// when bn_cont and n_cont > 0), layers (Sequential of LinBnDrop over sizes [n_emb + n_cont, *layers,
// out_sz]: BatchNorm when use_bn and (not last or bn_final), dropout ps[i], ReLU except for the
// last, then SigmoidRange when y_range).
// forward({x_cat [B, n_cat] i64, x_cont [B, n_cont] float}) -> [B, out_sz].
class TabularModel : public Module {
 public:
  TabularModel(const std::vector<std::pair<int64_t, int64_t>>& emb_szs, int64_t n_cont, int64_t out_sz,
               const std::vector<int64_t>& layers, const TabularOptions& opts = {});
  int64_t n_emb = 0, n_cont = 0;
  std::shared_ptr<Sequential> embeds, layers;

 protected:
  Tensor forward_impl_many(const std::vector<Tensor>& xs) override;
};

// fastai's EmbeddingDotBias(n_factors, n_users, n_items, y_range): parameters-holding Embeddings
// u_weight, i_weight [n, n_factors] and u_bias, i_bias [n, 1] (fastai init).
// forward(x [B, 2] i64 (user, item)) = sum(u * i, 1) + u_bias + i_bias -> [B], then
// sigmoid_range(lo, hi) when y_range.
class EmbeddingDotBias : public Module {
 public:
  EmbeddingDotBias(int64_t n_factors, int64_t n_users, int64_t n_items,
                   std::optional<std::pair<double, double>> y_range = std::nullopt);
  std::optional<std::pair<double, double>> y_range;

 protected:
  Tensor forward_impl(const Tensor& x) override;
};

// fastai's EmbeddingNN(emb_szs, layers, ...) = TabularModel(emb_szs, 0, 1, layers, ...); its input
// is x_cat [B, n_cat] alone (a single tensor).
class EmbeddingNN : public TabularModel {
 public:
  EmbeddingNN(const std::vector<std::pair<int64_t, int64_t>>& emb_szs, const std::vector<int64_t>& layers,
              const TabularOptions& opts = {});

 protected:
  Tensor forward_impl(const Tensor& x_cat) override;
};

}  // namespace kiln::nn
