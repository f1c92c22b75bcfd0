// fastai's init_cnn and a parameter counter for the architectures.
#include "kiln/nn/arch_util.h"

#include "kiln/autograd/node.h"
#include "kiln/nn/conv.h"
#include "kiln/nn/embedding.h"
#include "kiln/nn/norm.h"
#include "kiln/nn/init.h"
#include "kiln/nn/linear.h"

namespace kiln::nn {

namespace {

void init_weight_bias(const Tensor& w, const Tensor& b, Generator* gen) {
  init::kaiming_normal_(w, 0, init::FanMode::fan_in, init::Nonlinearity::leaky_relu, gen);
  if (b.defined()) init::zeros_(b);
}

}  // namespace

void init_cnn(Module& m, Generator* gen) {
  m.apply([gen](Module& mod) {
    if (auto* c = dynamic_cast<Conv2d*>(&mod)) init_weight_bias(c->weight, c->bias, gen);
    else if (auto* c1 = dynamic_cast<Conv1d*>(&mod)) init_weight_bias(c1->weight, c1->bias, gen);
    else if (auto* l = dynamic_cast<Linear*>(&mod)) init_weight_bias(l->weight, l->bias, gen);
  });
}

void apply_init(Module& m, const std::function<void(const Tensor&)>& init, Generator* gen) {
  auto weight_init = [&](const Tensor& w) {
    if (init) init(w);
    else init::kaiming_normal_(w, 0, init::FanMode::fan_in, init::Nonlinearity::leaky_relu, gen);
  };
  m.apply([&](Module& mod) {
    if (dynamic_cast<BatchNorm*>(&mod) || dynamic_cast<LayerNorm*>(&mod) || dynamic_cast<GroupNorm*>(&mod)) return;
    const auto ps = mod.parameters();
    if (ps.empty() || !ag::requires_grad(ps.front())) return;
    Tensor w, b;
    if (auto* l = dynamic_cast<Linear*>(&mod)) w = l->weight, b = l->bias;
    else if (auto* c1 = dynamic_cast<Conv1d*>(&mod)) w = c1->weight, b = c1->bias;
    else if (auto* c2 = dynamic_cast<Conv2d*>(&mod)) w = c2->weight, b = c2->bias;
    else if (auto* ct = dynamic_cast<ConvTranspose2d*>(&mod)) w = ct->weight, b = ct->bias;
    else if (auto* e = dynamic_cast<Embedding*>(&mod)) w = e->weight;
    if (w.defined()) weight_init(w);
    if (b.defined()) init::zeros_(b);
  });
}

int64_t num_parameters(const Module& m) {
  int64_t n = 0;
  for (const Tensor& p : m.parameters()) n += p.numel();
  return n;
}

}  // namespace kiln::nn
