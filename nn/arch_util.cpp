// fastai's init_cnn and ConvLayer builder for the architectures.
#include "kiln/nn/arch_util.h"

#include <cmath>

#include "kiln/autograd/grad_mode.h"
#include "kiln/nn/activation.h"
#include "kiln/nn/containers.h"
#include "kiln/autograd/ops.h"
#include "kiln/nn/conv.h"
#include "kiln/nn/dropout.h"
#include "kiln/nn/linear.h"
#include "kiln/nn/norm.h"

namespace kiln::nn {

namespace {

// kaiming_normal_(w) with PyTorch's defaults (a = 0, fan_in, leaky_relu gain = sqrt(2)):
// std = sqrt(2 / fan_in), fan_in = w.size(1) * receptive field.
void kaiming_normal_fan_in(Tensor& w, Generator* gen) {
  const int64_t fan_in = w.size(0) > 0 ? w.numel() / w.size(0) : 0;
  const double std = fan_in > 0 ? std::sqrt(2.0 / double(fan_in)) : 0.0;
  kiln::normal_(w, 0.0, std, gen);
}

void init_weight_bias(Tensor& w, Tensor& b, Generator* gen) {
  ag::NoGradGuard ng;
  kaiming_normal_fan_in(w, gen);
  if (b.defined()) kiln::fill_(b, 0.0);
}

}  // namespace

void init_cnn(Module& m, Generator* gen) {
  m.apply([gen](Module& mod) {
    if (auto* c = dynamic_cast<Conv2d*>(&mod)) init_weight_bias(c->weight, c->bias, gen);
    else if (auto* c1 = dynamic_cast<Conv1d*>(&mod)) init_weight_bias(c1->weight, c1->bias, gen);
    else if (auto* l = dynamic_cast<Linear*>(&mod)) init_weight_bias(l->weight, l->bias, gen);
  });
}

ModulePtr arch_conv_layer(int64_t ni, int64_t nf, int64_t ks, int64_t stride, ArchNorm norm, ArchAct act) {
  const bool bn = norm != ArchNorm::none;
  auto seq = std::make_shared<Sequential>();
  auto conv = std::make_shared<Conv2d>(ni, nf, ks, stride, (ks - 1) / 2, 1, 1, /*bias=*/!bn);
  init_weight_bias(conv->weight, conv->bias, nullptr);
  seq->push_back(conv);
  if (bn) {
    auto b = std::make_shared<BatchNorm2d>(nf);
    if (norm == ArchNorm::batch_zero) {
      ag::NoGradGuard ng;
      kiln::fill_(b->weight, 0.0);
    }
    seq->push_back(b);
  }
  if (act == ArchAct::relu) seq->push_back(std::make_shared<ReLU>());
  else if (act == ArchAct::sigmoid) seq->push_back(std::make_shared<Sigmoid>());
  return seq;
}

ModulePtr arch_lin_bn_drop(int64_t n_in, int64_t n_out, bool bn, double p, ArchAct act, bool lin_first) {
  std::vector<ModulePtr> norm_drop, lin;
  if (bn) norm_drop.push_back(std::make_shared<BatchNorm1d>(lin_first ? n_out : n_in));
  if (p != 0.0) norm_drop.push_back(std::make_shared<Dropout>(p));
  lin.push_back(std::make_shared<Linear>(n_in, n_out, /*bias=*/!bn));
  if (act == ArchAct::relu) lin.push_back(std::make_shared<ReLU>());
  else if (act == ArchAct::sigmoid) lin.push_back(std::make_shared<Sigmoid>());
  auto seq = std::make_shared<Sequential>();
  for (auto& m : lin_first ? lin : norm_drop) seq->push_back(m);
  for (auto& m : lin_first ? norm_drop : lin) seq->push_back(m);
  return seq;
}

ModulePtr arch_flatten() {
  return std::make_shared<Lambda>([](const Tensor& x) { return ag::flatten(x, 1); }, "Flatten");
}

int64_t num_parameters(const Module& m) {
  int64_t n = 0;
  for (const Tensor& p : m.parameters()) n += p.numel();
  return n;
}

}  // namespace kiln::nn
