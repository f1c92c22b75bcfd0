// fastai's TabularModel, EmbeddingDotBias and EmbeddingNN.
#include "kiln/nn/tabular_model.h"

#include "kiln/autograd/ops.h"
#include "kiln/nn/activation.h"
#include "kiln/nn/layers.h"
#include "kiln/nn/dropout.h"
#include "kiln/nn/embedding.h"
#include "kiln/nn/norm.h"
#include "kiln/tensor/ops.h"

namespace kiln::nn {

Tensor trunc_normal_(const Tensor& t, double std, Generator* gen) {
  ag::NoGradGuard ng;
  Tensor tt = t;
  kiln::normal_(tt, 0.0, 1.0, gen);
  // fastai folds the tails back with fmod(2), so values lie in (-2 std, 2 std).
  tt.copy_(kiln::mul(kiln::fmod(tt, 2.0), std));
  return t;
}

namespace {

std::shared_ptr<Embedding> fastai_embedding(int64_t n, int64_t d) {
  auto e = std::make_shared<Embedding>(n, d);
  trunc_normal_(e->weight, 0.01);
  return e;
}

}  // namespace

TabularModel::TabularModel(const std::vector<std::pair<int64_t, int64_t>>& emb_szs, int64_t n_cont_, int64_t out_sz,
                           const std::vector<int64_t>& hidden, const TabularOptions& o)
    : Module("TabularModel"), n_cont(n_cont_) {
  KILN_CHECK(n_cont >= 0 && out_sz > 0, "TabularModel: n_cont ", n_cont, " and out_sz ", out_sz, " out of range");
  KILN_CHECK(o.ps.empty() || o.ps.size() == hidden.size(), "TabularModel: ", hidden.size(), " layers but ",
             o.ps.size(), " dropout probabilities");
  embeds = register_module("embeds", std::make_shared<Sequential>());
  for (auto [n, d] : emb_szs) {
    KILN_CHECK(n > 0 && d > 0, "TabularModel: embedding size (", n, ", ", d, ") out of range");
    embeds->push_back(fastai_embedding(n, d));
    n_emb += d;
  }
  KILN_CHECK(n_emb + n_cont > 0, "TabularModel: no inputs (no embeddings and n_cont = 0)");
  register_module("emb_drop", std::make_shared<Dropout>(o.embed_p));
  if (o.bn_cont && n_cont > 0) register_module("bn_cont", std::make_shared<BatchNorm1d>(n_cont));
  std::vector<int64_t> sizes = {n_emb + n_cont};
  sizes.insert(sizes.end(), hidden.begin(), hidden.end());
  sizes.push_back(out_sz);
  layers = register_module("layers", std::make_shared<Sequential>());
  const size_t n_lin = sizes.size() - 1;
  for (size_t i = 0; i < n_lin; ++i) {
    const bool last = i == n_lin - 1;
    const double p = last || o.ps.empty() ? 0.0 : o.ps[i];
    layers->push_back(std::make_shared<LinBnDrop>(sizes[i], sizes[i + 1], o.use_bn && (!last || o.bn_final), p,
                                                  last ? nullptr : std::make_shared<ReLU>(), o.lin_first));
  }
  if (o.y_range) layers->push_back(std::make_shared<SigmoidRange>(o.y_range->first, o.y_range->second));
}

Tensor TabularModel::forward_impl_many(const std::vector<Tensor>& xs) {
  KILN_CHECK(xs.size() == 2, "TabularModel: expects {x_cat, x_cont}, got ", xs.size(), " inputs");
  const Tensor& x_cat = xs[0];
  Tensor x_cont = xs[1];
  const int64_t n_cat = embeds->size();
  Tensor x;
  if (n_emb > 0) {
    KILN_CHECK(x_cat.dim() == 2 && x_cat.size(1) == n_cat, "TabularModel: x_cat must be [B, ", n_cat, "], got ",
               x_cat.shape());
    std::vector<Tensor> parts;
    for (int64_t i = 0; i < n_cat; ++i) parts.push_back((*(*embeds)[i])(x_cat.select(1, i)));
    x = (*child("emb_drop"))(ag::cat(parts, 1));
  }
  if (n_cont > 0) {
    KILN_CHECK(x_cont.dim() == 2 && x_cont.size(1) == n_cont, "TabularModel: x_cont must be [B, ", n_cont,
               "], got ", x_cont.shape());
    if (has_child("bn_cont")) x_cont = (*child("bn_cont"))(x_cont);
    x = n_emb > 0 ? ag::cat({x, x_cont}, 1) : x_cont;
  }
  return (*layers)(x);
}

EmbeddingDotBias::EmbeddingDotBias(int64_t n_factors, int64_t n_users, int64_t n_items,
                                   std::optional<std::pair<double, double>> y_range_)
    : Module("EmbeddingDotBias"), y_range(y_range_) {
  KILN_CHECK(n_factors > 0 && n_users > 0 && n_items > 0, "EmbeddingDotBias: sizes must be positive, got ",
             n_factors, ", ", n_users, ", ", n_items);
  register_module("u_weight", fastai_embedding(n_users, n_factors));
  register_module("i_weight", fastai_embedding(n_items, n_factors));
  register_module("u_bias", fastai_embedding(n_users, 1));
  register_module("i_bias", fastai_embedding(n_items, 1));
}

Tensor EmbeddingDotBias::forward_impl(const Tensor& x) {
  KILN_CHECK(x.dim() == 2 && x.size(1) == 2, "EmbeddingDotBias: x must be [B, 2] (user, item), got ", x.shape());
  Tensor users = x.select(1, 0), items = x.select(1, 1);
  Tensor dot = ag::mul((*child("u_weight"))(users), (*child("i_weight"))(items));
  Tensor res = ag::add(ag::sum(dot, {1}), ag::squeeze((*child("u_bias"))(users), 1));
  res = ag::add(res, ag::squeeze((*child("i_bias"))(items), 1));
  if (!y_range) return res;
  return sigmoid_range(res, y_range->first, y_range->second);
}

EmbeddingNN::EmbeddingNN(const std::vector<std::pair<int64_t, int64_t>>& emb_szs, const std::vector<int64_t>& hidden,
                         const TabularOptions& opts)
    : TabularModel(emb_szs, 0, 1, hidden, opts) {}

Tensor EmbeddingNN::forward_impl(const Tensor& x_cat) { return forward_impl_many({x_cat, Tensor()}); }

}  // namespace kiln::nn
