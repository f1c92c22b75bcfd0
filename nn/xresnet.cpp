// fastai's XResNet, ResBlock and SEModule.
#include "kiln/nn/xresnet.h"

#include "kiln/autograd/ops.h"
#include "kiln/tensor/ops.h"
#include "kiln/nn/conv.h"
#include "kiln/nn/dropout.h"
#include "kiln/nn/init.h"
#include "kiln/nn/layers.h"
#include "kiln/nn/linear.h"
#include "kiln/nn/pool.h"

namespace kiln::nn {

namespace {

// fastai's make_divisible(v, 8): nearest multiple of 8, at least 8, and not below 90% of v.
int64_t make_divisible(double v, int64_t divisor = 8) {
  int64_t n = std::max<int64_t>(divisor, int64_t(v + double(divisor) / 2) / divisor * divisor);
  if (double(n) < 0.9 * v) n += divisor;
  return n;
}

// fastai's ConvLayer(ni, nf, ks, stride, norm_type, act_cls) as the XResNet uses it.
ModulePtr conv_layer(int64_t ni, int64_t nf, int64_t ks, int64_t stride = 1, NormType norm = NormType::batch,
                     std::function<ModulePtr()> act = [] { return std::make_shared<ReLU>(); }) {
  ConvLayerOptions o;
  o.ks = ks;
  o.stride = stride;
  o.norm_type = norm;
  o.act = std::move(act);
  return std::make_shared<ConvLayer>(ni, nf, o);
}

}  // namespace

SEModule::SEModule(int64_t ch_, int64_t reduction) : Module("SEModule"), ch(ch_) {
  KILN_CHECK(ch > 0 && reduction > 0, "SEModule: channels ", ch, " and reduction ", reduction, " must be positive");
  nr = make_divisible(double(ch / reduction));
  register_module("0", std::make_shared<AdaptiveAvgPool2d>(1));
  register_module("1", conv_layer(ch, nr, 1, 1, NormType::none));
  register_module("2", conv_layer(nr, ch, 1, 1, NormType::none, [] { return std::make_shared<Sigmoid>(); }));
}

Tensor SEModule::forward_impl(const Tensor& x) {
  Tensor s = (*child("0"))(x);
  s = (*child("1"))(s);
  s = (*child("2"))(s);
  return ag::mul(x, s);
}

ResBlock::ResBlock(int64_t expansion, int64_t ni, int64_t nf, int64_t stride, bool sa, int64_t reduction)
    : Module("ResBlock") {
  KILN_CHECK(expansion >= 1 && ni > 0 && nf > 0 && stride >= 1, "ResBlock: bad arguments expansion ", expansion,
             ", ni ", ni, ", nf ", nf, ", stride ", stride);
  const int64_t nh = nf;
  nf *= expansion;
  ni *= expansion;
  convpath = register_module("convpath", std::make_shared<Sequential>());
  if (expansion == 1) {
    convpath->push_back(conv_layer(ni, nf, 3, stride));
    convpath->push_back(conv_layer(nf, nf, 3, 1, NormType::batch_zero, nullptr));
  } else {
    convpath->push_back(conv_layer(ni, nh, 1));
    convpath->push_back(conv_layer(nh, nh, 3, stride));
    convpath->push_back(conv_layer(nh, nf, 1, 1, NormType::batch_zero, nullptr));
  }
  if (reduction > 0) convpath->push_back(std::make_shared<SEModule>(nf, reduction));
  if (sa) convpath->push_back(std::make_shared<SimpleSelfAttention>(nf));
  idpath = register_module("idpath", std::make_shared<Sequential>());
  if (stride != 1) idpath->push_back(std::make_shared<AvgPool2d>(stride, stride, 0, /*ceil_mode=*/true));
  if (ni != nf) idpath->push_back(conv_layer(ni, nf, 1, 1, NormType::batch, nullptr));
}

Tensor ResBlock::forward_impl(const Tensor& x) {
  Tensor y = (*convpath)(x);
  Tensor id = idpath->size() == 0 ? x : (*idpath)(x);
  return ag::relu(ag::add(y, id));
}

std::shared_ptr<Sequential> xresnet(const XResNetOptions& o) {
  const int64_t n_stages = int64_t(o.layers.size());
  KILN_CHECK(n_stages >= 1 && o.expansion >= 1 && o.c_in > 0 && o.n_out > 0, "xresnet: bad options (",
             n_stages, " stages, expansion ", o.expansion, ", c_in ", o.c_in, ", n_out ", o.n_out, ")");
  auto m = std::make_shared<XResNet>();
  const int64_t stem[4] = {o.c_in, 32, 32, 64};
  for (int i = 0; i < 3; ++i) m->push_back(conv_layer(stem[i], stem[i + 1], 3, i == 0 ? 2 : 1));
  m->push_back(std::make_shared<MaxPool2d>(3, 2, 1));
  std::vector<int64_t> szs = {64 / o.expansion};
  const int64_t base[4] = {64, 128, 256, 512};
  for (int64_t i = 0; i < n_stages; ++i) szs.push_back(int64_t(double(i < 4 ? base[i] : 256) * o.widen));
  for (int64_t i = 0; i < n_stages; ++i) {
    auto stage = std::make_shared<Sequential>();
    for (int64_t j = 0; j < o.layers[size_t(i)]; ++j) {
      const bool last = j == o.layers[size_t(i)] - 1;
      const bool sa = o.sa && last && i == n_stages - 4;
      stage->push_back(std::make_shared<ResBlock>(o.expansion, j == 0 ? szs[size_t(i)] : szs[size_t(i + 1)],
                                                  szs[size_t(i + 1)], j == 0 ? (i == 0 ? 1 : 2) : 1, sa, o.reduction));
    }
    m->push_back(stage);
  }
  m->push_back(std::make_shared<AdaptiveAvgPool2d>(1));
  m->push_back(std::make_shared<Flatten>());
  m->push_back(std::make_shared<Dropout>(o.p));
  m->push_back(std::make_shared<Linear>(szs.back() * o.expansion, o.n_out));
  init_cnn(*m);
  return m;
}

std::shared_ptr<Sequential> xresnet18(int64_t n_out, int64_t c_in, double p) {
  return xresnet({1, {2, 2, 2, 2}, p, c_in, n_out});
}
std::shared_ptr<Sequential> xresnet34(int64_t n_out, int64_t c_in, double p) {
  return xresnet({1, {3, 4, 6, 3}, p, c_in, n_out});
}
std::shared_ptr<Sequential> xresnet50(int64_t n_out, int64_t c_in, double p) {
  return xresnet({4, {3, 4, 6, 3}, p, c_in, n_out});
}

}  // namespace kiln::nn
