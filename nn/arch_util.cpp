// fastai's init_cnn and a parameter counter for the architectures.
#include "kiln/nn/arch_util.h"

#include "kiln/nn/conv.h"
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

int64_t num_parameters(const Module& m) {
  int64_t n = 0;
  for (const Tensor& p : m.parameters()) n += p.numel();
  return n;
}

}  // namespace kiln::nn
