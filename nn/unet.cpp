// fastai's DynamicUnet and UnetBlock.
#include "kiln/nn/unet.h"

#include <cmath>

#include "kiln/autograd/ops.h"
#include "kiln/nn/activation.h"
#include "kiln/nn/arch_util.h"
#include "kiln/nn/conv.h"
#include "kiln/nn/layers.h"
#include "kiln/nn/norm.h"
#include "kiln/nn/pool.h"
#include "kiln/nn/self_attention.h"
#include "kiln/nn/xresnet.h"
#include "kiln/tensor/ops.h"

namespace kiln::nn {

namespace {

// fastai's ResizeToOrig: nearest-resize to the spatial size of the block's input (set by
// DynamicUnet before the call).
class ResizeToOrig : public Module {
 public:
  ResizeToOrig() : Module("ResizeToOrig") {}
  Tensor orig;

 protected:
  Tensor forward_impl(const Tensor& x) override {
    KILN_CHECK(orig.defined(), "ResizeToOrig: runs only inside DynamicUnet");
    if (x.size(-2) == orig.size(-2) && x.size(-1) == orig.size(-1)) return x;
    return ag::interpolate(x, std::array<int64_t, 2>{orig.size(-2), orig.size(-1)}, std::nullopt,
                           InterpolateMode::nearest);
  }
};

int64_t in_channels(Module& m) {
  for (auto& mod : m.modules())
    if (auto* c = dynamic_cast<Conv2d*>(mod.get())) return c->in_channels;
  KILN_FAIL("DynamicUnet: the encoder has no Conv2d to tell its input channels");
}

// fastai's ConvLayer(ni, nf, ks, norm_type=None, act_cls, xtra) as the U-Net uses it.
ModulePtr conv_layer(int64_t ni, int64_t nf, int64_t ks = 3, bool relu = true, ModulePtr xtra = nullptr) {
  ConvLayerOptions o;
  o.ks = ks;
  o.norm_type = NormType::none;
  if (!relu) o.act = nullptr;
  o.xtra = std::move(xtra);
  return std::make_shared<ConvLayer>(ni, nf, o);
}

}  // namespace

UnetBlock::UnetBlock(int64_t up_in_c, int64_t x_in_c, std::shared_ptr<Tensor> stored, bool final_div, bool blur,
                     bool self_attention)
    : Module("UnetBlock"), stored_(std::move(stored)) {
  register_module("shuf", std::make_shared<PixelShuffle_ICNR>(up_in_c, up_in_c / 2, 2, blur, NormType::none));
  register_module("bn", fastai_batch_norm(x_in_c));
  const int64_t ni = up_in_c / 2 + x_in_c;
  out_channels = final_div ? ni : ni / 2;
  auto conv1 = register_module("conv1", conv_layer(ni, out_channels));
  auto conv2 = register_module(
      "conv2", conv_layer(out_channels, out_channels, 3, true,
                          self_attention ? std::make_shared<SelfAttention>(out_channels) : nullptr));
  apply_init(*conv1);
  apply_init(*conv2);
}

Tensor UnetBlock::forward_impl(const Tensor& up_in) {
  const Tensor& s = *stored_;
  KILN_CHECK(s.defined(), "UnetBlock: no stored encoder activation (run it inside its DynamicUnet)");
  Tensor up = (*child("shuf"))(up_in);
  if (up.size(-2) != s.size(-2) || up.size(-1) != s.size(-1))
    up = ag::interpolate(up, std::array<int64_t, 2>{s.size(-2), s.size(-1)}, std::nullopt, InterpolateMode::nearest);
  Tensor cat_x = ag::relu(ag::cat({up, (*child("bn"))(s)}, 1));
  return (*child("conv2"))((*child("conv1"))(cat_x));
}

DynamicUnet::DynamicUnet(std::shared_ptr<Sequential> encoder, int64_t n_out, std::array<int64_t, 2> img_size,
                         const UnetOptions& o)
    : Module("DynamicUnet") {
  KILN_CHECK(encoder && encoder->size() > 0 && n_out > 0, "DynamicUnet: needs a non-empty encoder and n_out > 0");
  const int64_t c_in = in_channels(*encoder);
  // Dummy eval forward recording every child's output shape.
  {
    const bool was_training = encoder->is_training();
    encoder->eval();
    std::vector<HookHandle> probes;
    for (auto& [name, ch] : encoder->named_children())
      probes.push_back(ch->register_forward_hook(
          [this](Module&, const std::vector<Tensor>&, Tensor& out) { encoder_sizes.push_back(out.shape()); }));
    ag::NoGradGuard ng;
    auto ps = encoder->parameters();
    const Device dev = ps.empty() ? kCPU : ps.front().device();  // the probe runs where the encoder lives
    (*encoder)(kiln::zeros({1, c_in, img_size[0], img_size[1]}, DType::f32, dev));
    for (auto& h : probes) h.remove();
    encoder->train(was_training);
  }
  const int64_t n = int64_t(encoder_sizes.size());
  for (int64_t i = n - 2; i >= 0; --i)
    if (encoder_sizes[size_t(i)].back() != encoder_sizes[size_t(i + 1)].back()) skip_indices.push_back(i);
  // Hooks storing the skip activations during the real forward.
  for (int64_t idx : skip_indices) {
    auto slot = std::make_shared<Tensor>();
    stored_.push_back(slot);
    hooks_.push_back((*encoder)[idx]->register_forward_hook(
        [slot](Module&, const std::vector<Tensor>&, Tensor& out) { *slot = out; }));
  }
  int64_t ni = encoder_sizes.back()[1];
  register_module("0", encoder);
  register_module("1", fastai_batch_norm(ni));
  register_module("2", std::make_shared<ReLU>());
  auto middle = register_module("3", std::make_shared<Sequential>(std::vector<ModulePtr>{
                                         conv_layer(ni, 2 * ni), conv_layer(2 * ni, ni)}));
  int64_t k = 4;
  const size_t n_blocks = skip_indices.size();
  for (size_t i = 0; i < n_blocks; ++i) {
    const bool not_final = i + 1 != n_blocks;
    const bool sa = o.self_attention && n_blocks >= 3 && i == n_blocks - 3;
    auto block = std::make_shared<UnetBlock>(ni, encoder_sizes[size_t(skip_indices[i])][1], stored_[i], not_final,
                                             o.blur && not_final, sa);
    ni = block->out_channels;
    register_module(std::to_string(k++), block);
  }
  const Shape& first = encoder_sizes.front();
  if (first[first.size() - 2] != img_size[0] || first[first.size() - 1] != img_size[1])
    register_module(std::to_string(k++), std::make_shared<PixelShuffle_ICNR>(ni, ni, 2, false, NormType::none));
  ModulePtr before_final = register_module(std::to_string(k++), std::make_shared<ResizeToOrig>());
  if (o.last_cross) {
    register_module(std::to_string(k++), std::make_shared<MergeLayer>(true));
    ni += c_in;
    before_final = register_module(std::to_string(k++), std::make_shared<ResBlock>(1, ni, o.bottle ? ni / 2 : ni));
  }
  register_module(std::to_string(k++), conv_layer(ni, n_out, 1, false));
  // fastai re-initialises the middle and the layer before the final conv only (its
  // apply_init(nn.Sequential(layers[3], layers[-2]))); the UnetBlocks did their own.
  apply_init(*middle);
  apply_init(*before_final);
  if (o.y_range) register_module(std::to_string(k++), std::make_shared<SigmoidRange>(o.y_range->first, o.y_range->second));
}

DynamicUnet::~DynamicUnet() {
  for (auto& h : hooks_) h.remove();
}

Tensor DynamicUnet::forward_impl(const Tensor& x) {
  Tensor y = x;
  for (auto& [name, m] : named_children()) {
    if (auto* r = dynamic_cast<ResizeToOrig*>(m.get())) r->orig = x;
    if (auto* mg = dynamic_cast<MergeLayer*>(m.get())) mg->orig = x;
    y = (*m)(y);
    if (auto* r = dynamic_cast<ResizeToOrig*>(m.get())) r->orig = Tensor();
    if (auto* mg = dynamic_cast<MergeLayer*>(m.get())) mg->orig = Tensor();
  }
  for (auto& s : stored_) *s = Tensor();  // release the skip activations
  return y;
}

}  // namespace kiln::nn
