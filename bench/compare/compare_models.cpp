// Side-by-side model steps: kiln's xresnet18, simple_cnn, AWD-LSTM language model and a 784-100-10
// MLP against the same architectures written here in LibTorch C++ (Debian's libtorch-dev),
// interleaved in one process (DESIGN.md section 7). kiln's initial weights are copied into the
// LibTorch model by parameter name, and the losses (and every parameter's gradient) are compared
// once before timing, so both sides do the same computation.
//
//   compare_models [--filter SUBSTRING] [--skip SUBSTRING] [--groups fwd,fwd+bwd,step,gemm] [--rounds N] [--heavy-rounds N] [--threads N] [--out FILE.md]
//                  [--lm-vocab V] [--lm-emb E] [--lm-hid H] [--lm-layers L] [--lm-batch B] [--lm-seq T]
//
// Cases per model: "fwd" (forward + cross-entropy with the graph recorded), "fwd+bwd" (the same plus
// backward into freshly allocated gradients) and "step" (fwd+bwd plus a plain SGD step: kiln's
// optim::SGD vs torch::optim::SGD). Models run in training mode (BatchNorm on batch statistics) with
// every dropout probability 0. A case whose first call takes more than a second on either side runs
// one call per round for --heavy-rounds rounds (its name says so) instead of the calibrated batches.
//
// FLOPs: 2 * MACs of the convolutions, linears and LSTM projections in the forward, x3 for a
// forward + backward (the stem's input gradient, which neither side computes, is counted too).
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <functional>
#include <iostream>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "ceiling.h"
#include "kiln/autograd/backward.h"
#include "kiln/autograd/grad_mode.h"
#include "kiln/autograd/node.h"
#include "kiln/autograd/view.h"
#include "kiln/kernels/cpu/parallel.h"
#include "kiln/learner/optimizers.h"
#include "kiln/nn/activation.h"
#include "kiln/nn/conv.h"
#include "kiln/nn/linear.h"
#include "kiln/nn/loss.h"
#include "kiln/nn/simple_cnn.h"
#include "kiln/nn/text_models.h"
#include "kiln/nn/xresnet.h"
#include "kiln/tensor/ops.h"
#include "side_by_side.h"

namespace {

using namespace kiln::bench::sbs;
namespace knn = kiln::nn;

// ---------------------------------------------------------------- LibTorch models
// A sequential container that names its children "0", "1"... like kiln's Sequential (and PyTorch's
// nn.Sequential), and unlike torch::nn::Sequential can hold another container.
struct TSeqImpl : torch::nn::Module {
  std::vector<std::function<at::Tensor(const at::Tensor&)>> fns;
  template <class M>
  void add(M m) {
    auto h = register_module(std::to_string(fns.size()), m);
    fns.push_back([h](const at::Tensor& x) { return h->forward(x); });
  }
  at::Tensor forward(at::Tensor x) {
    for (auto& f : fns) x = f(x);
    return x;
  }
};
TORCH_MODULE(TSeq);

// fastai's ConvLayer: conv (bias only without BN), BatchNorm2d, ReLU; children "0", "1", "2".
TSeq t_conv_layer(int64_t ni, int64_t nf, int64_t ks, int64_t stride, bool bn, bool act) {
  TSeq s;
  s->add(torch::nn::Conv2d(torch::nn::Conv2dOptions(ni, nf, ks).stride(stride).padding((ks - 1) / 2).bias(!bn)));
  if (bn) s->add(torch::nn::BatchNorm2d(nf));
  if (act) s->add(torch::nn::ReLU());
  return s;
}

// fastai's ResBlock with expansion 1: relu(convpath(x) + idpath(x)), idpath = [AvgPool2d(stride,
// ceil_mode)] [ConvLayer(ni, nf, 1, no act)].
struct TResBlockImpl : torch::nn::Module {
  TSeq convpath{nullptr}, idpath{nullptr};
  TResBlockImpl(int64_t ni, int64_t nf, int64_t stride) {
    convpath = register_module("convpath", TSeq());
    convpath->add(t_conv_layer(ni, nf, 3, stride, true, true));
    convpath->add(t_conv_layer(nf, nf, 3, 1, true, false));
    idpath = register_module("idpath", TSeq());
    if (stride != 1)
      idpath->add(torch::nn::AvgPool2d(torch::nn::AvgPool2dOptions(stride).stride(stride).ceil_mode(true)));
    if (ni != nf) idpath->add(t_conv_layer(ni, nf, 1, 1, true, false));
  }
  at::Tensor forward(const at::Tensor& x) { return torch::relu(convpath->forward(x) + idpath->forward(x)); }
};
TORCH_MODULE(TResBlock);

// fastai's xresnet18: stem 3->32 (stride 2) ->32->64, MaxPool2d(3, 2, 1), stages of 2 ResBlocks
// (64, 128, 256, 512; stride 1, 2, 2, 2), AdaptiveAvgPool2d(1), Flatten, Dropout(0), Linear.
TSeq t_xresnet18(int64_t c_in, int64_t n_out) {
  TSeq m;
  const int64_t stem[4] = {c_in, 32, 32, 64};
  for (int i = 0; i < 3; ++i) m->add(t_conv_layer(stem[i], stem[i + 1], 3, i == 0 ? 2 : 1, true, true));
  m->add(torch::nn::MaxPool2d(torch::nn::MaxPool2dOptions(3).stride(2).padding(1)));
  const int64_t szs[5] = {64, 64, 128, 256, 512};
  for (int i = 0; i < 4; ++i) {
    TSeq stage;
    stage->add(TResBlock(szs[i], szs[i + 1], i == 0 ? 1 : 2));
    stage->add(TResBlock(szs[i + 1], szs[i + 1], 1));
    m->add(stage);
  }
  m->add(torch::nn::AdaptiveAvgPool2d(1));
  m->add(torch::nn::Flatten());
  m->add(torch::nn::Dropout(0.0));
  m->add(torch::nn::Linear(512, n_out));
  return m;
}

// fastai's simple_cnn(actns, bn=True): stride-2 3x3 ConvLayers, BN on all but the last (which has
// a bias), ReLU on all, then AdaptiveAvgPool2d(1), Flatten.
TSeq t_simple_cnn(const std::vector<int64_t>& actns) {
  TSeq m;
  const size_t n = actns.size() - 1;
  for (size_t i = 0; i < n; ++i) m->add(t_conv_layer(actns[i], actns[i + 1], 3, 2, i + 1 < n, true));
  m->add(torch::nn::AdaptiveAvgPool2d(1));
  m->add(torch::nn::Flatten());
  return m;
}

TSeq t_mlp(int64_t in, int64_t hid, int64_t out) {
  TSeq m;
  m->add(torch::nn::Linear(in, hid));
  m->add(torch::nn::ReLU());
  m->add(torch::nn::Linear(hid, out));
  return m;
}

// The AWD-LSTM language model without dropouts: "0.encoder" Embedding(padding_idx 1), "0.rnns.l"
// single-layer LSTMs (batch_first; hidden n_hid, the last emb), "1.decoder.bias"; the decoder's
// weight is the encoder's (tied).
struct TLanguageModelImpl : torch::nn::Module {
  torch::nn::Embedding encoder{nullptr};
  std::vector<torch::nn::LSTM> rnns;
  at::Tensor dec_bias;
  TLanguageModelImpl(int64_t vocab, int64_t emb, int64_t hid, int64_t layers) {
    auto enc = register_module("0", std::make_shared<torch::nn::Module>());
    encoder = enc->register_module("encoder", torch::nn::Embedding(torch::nn::EmbeddingOptions(vocab, emb).padding_idx(1)));
    auto rn = enc->register_module("rnns", std::make_shared<torch::nn::Module>());
    for (int64_t l = 0; l < layers; ++l) {
      const int64_t in = l == 0 ? emb : hid, out = l == layers - 1 ? emb : hid;
      rnns.push_back(rn->register_module(std::to_string(l), torch::nn::LSTM(torch::nn::LSTMOptions(in, out).batch_first(true))));
    }
    auto dec = register_module("1", std::make_shared<torch::nn::Module>());
    auto lin = dec->register_module("decoder", std::make_shared<torch::nn::Module>());
    dec_bias = lin->register_parameter("bias", torch::zeros({vocab}));
  }
  at::Tensor forward(const at::Tensor& tokens) {
    at::Tensor x = encoder->forward(tokens);
    for (auto& r : rnns) x = std::get<0>(r->forward(x));
    return torch::linear(x, encoder->weight, dec_bias);
  }
};
TORCH_MODULE(TLanguageModel);

// ---------------------------------------------------------------- kiln <-> LibTorch
at::ScalarType torch_dtype(kiln::DType d) {
  switch (d) {
    case kiln::DType::f32: return torch::kFloat32;
    case kiln::DType::i64: return torch::kInt64;
    default: throw std::runtime_error("compare_models: unexpected dtype");
  }
}

at::Tensor to_torch(const kiln::Tensor& k) {
  kiln::Tensor c = k.contiguous();
  std::vector<int64_t> sizes(c.shape().begin(), c.shape().end());
  return torch::from_blob(c.data_ptr(), sizes, torch_dtype(c.dtype())).clone();
}

using NameMap = std::function<std::string(const std::string&)>;
std::string same_name(const std::string& s) { return s; }

// Copies every kiln parameter and buffer into the LibTorch module's tensor of the mapped name,
// after checking that the two have the same parameter names, count, shapes and total size.
// Returns the number of parameter elements.
int64_t copy_weights(const knn::Module& km, torch::nn::Module& tm, const NameMap& map) {
  torch::NoGradGuard ng;
  auto tp = tm.named_parameters(true);
  auto kp = km.named_parameters(true);
  if (kp.size() != tp.size())
    throw std::runtime_error("parameter counts differ: kiln " + std::to_string(kp.size()) + ", LibTorch " +
                             std::to_string(tp.size()));
  int64_t kn = 0, tn = 0;
  for (const auto& item : tp) tn += item.value().numel();
  auto copy_one = [&](const std::string& kname, const kiln::Tensor& k, torch::OrderedDict<std::string, at::Tensor>& dict) {
    at::Tensor* t = dict.find(map(kname));
    if (!t) throw std::runtime_error("LibTorch model has no tensor " + map(kname) + " (kiln " + kname + ")");
    at::Tensor src = to_torch(k);
    if (!src.sizes().equals(t->sizes()))
      throw std::runtime_error("shape mismatch for " + kname);
    t->copy_(src);
  };
  for (const auto& [name, k] : kp) {
    copy_one(name, k, tp);
    kn += k.numel();
  }
  if (kn != tn)
    throw std::runtime_error("parameter sizes differ: kiln " + std::to_string(kn) + ", LibTorch " + std::to_string(tn));
  auto tb = tm.named_buffers(true);
  auto kb = km.named_buffers(true);
  if (kb.size() != tb.size()) throw std::runtime_error("buffer counts differ");
  for (const auto& [name, k] : kb) copy_one(name, k, tb);
  return kn;
}

void clear_grads(const std::vector<at::Tensor>& ps) {
  for (auto p : ps) p.mutable_grad() = at::Tensor();
}

// Forward FLOPs (2 * MACs) of the Conv2d and Linear modules, counted with forward hooks.
double count_forward_flops(knn::Module& m, const kiln::Tensor& x) {
  auto macs = std::make_shared<double>(0);
  std::vector<knn::HookHandle> hooks;
  for (auto& [name, mod] : m.named_modules()) {
    if (auto* c = dynamic_cast<knn::Conv2d*>(mod.get())) {
      const double per_out = double(c->weight.numel() / c->out_channels);
      hooks.push_back(mod->register_forward_hook(
          [macs, per_out](knn::Module&, const std::vector<kiln::Tensor>&, kiln::Tensor& y) { *macs += per_out * double(y.numel()); }));
    } else if (auto* l = dynamic_cast<knn::Linear*>(mod.get())) {
      const double in = double(l->in_features);
      hooks.push_back(mod->register_forward_hook(
          [macs, in](knn::Module&, const std::vector<kiln::Tensor>&, kiln::Tensor& y) { *macs += in * double(y.numel()); }));
    }
  }
  {
    kiln::ag::NoGradGuard ng;
    m(x);
  }
  for (auto& h : hooks) h.remove();
  return 2 * *macs;
}

// ---------------------------------------------------------------- one model pair
struct ModelPair {
  std::string name;
  std::shared_ptr<knn::Module> k;
  std::shared_ptr<torch::nn::Module> t;
  std::function<kiln::Tensor()> k_loss;  // forward + loss on kiln's side
  std::function<at::Tensor()> t_loss;
  std::function<void()> k_reset = [] {};
  double fwd_flops = 0;
};

// A classifier pair on random inputs of x_shape and labels in [0, classes): cross-entropy loss.
std::shared_ptr<ModelPair> classifier_pair(std::string name, std::shared_ptr<knn::Module> km, TSeq tm,
                                           const kiln::Shape& x_shape, int64_t classes, uint64_t seed) {
  kiln::Generator g(seed);
  auto x = std::make_shared<kiln::Tensor>(kiln::randn(x_shape, kiln::DType::f32, &g));
  auto y = std::make_shared<kiln::Tensor>(kiln::randint(0, classes, {x_shape[0]}, kiln::DType::i64, &g));
  auto tx = std::make_shared<at::Tensor>(to_torch(*x)), ty = std::make_shared<at::Tensor>(to_torch(*y));
  auto mp = std::make_shared<ModelPair>();
  mp->name = std::move(name);
  mp->k = km;
  mp->t = tm.ptr();
  mp->k_loss = [km, x, y] { return knn::cross_entropy((*km)(*x), *y); };
  mp->t_loss = [tm, tx, ty]() mutable { return torch::nn::functional::cross_entropy(tm->forward(*tx), *ty); };
  mp->fwd_flops = count_forward_flops(*km, *x);
  return mp;
}

// Checks once that both sides compute the same loss (rtol 1e-4) and prints the largest relative
// L2 difference of a parameter gradient. Throws when the losses disagree.
std::string check_same(ModelPair& mp, const NameMap& map) {
  mp.k->zero_grad();
  clear_grads(mp.t->parameters());
  mp.k_reset();
  kiln::Tensor kl = mp.k_loss();
  at::Tensor tl = mp.t_loss();
  const double lk = kl.item<double>(), lt = tl.item<double>();
  kiln::ag::backward(kl);
  tl.backward();
  // Per tensor, the L2 difference relative to the whole gradient's norm: a tensor whose true
  // gradient nearly cancels (a bias feeding a training-mode BatchNorm) has no meaningful relative
  // difference of its own, so its own relative difference is reported next to its size.
  auto tp = mp.t->named_parameters(true);
  double total_sq = 0, diff_sq = 0, worst = 0, worst_own = 0, worst_size = 0;
  std::string worst_name;
  for (const auto& [name, p] : mp.k->named_parameters(true)) {
    at::Tensor kg = to_torch(kiln::ag::grad(p));
    at::Tensor tg = tp.find(map(name))->grad();
    const double d = (kg - tg).norm().item<double>(), n = tg.norm().item<double>();
    total_sq += n * n;
    diff_sq += d * d;
    if (d > worst) worst = d, worst_own = d / std::max(n, 1e-30), worst_size = n, worst_name = name;
  }
  const double total = std::max(std::sqrt(total_sq), 1e-30);
  mp.k->zero_grad();
  clear_grads(mp.t->parameters());
  char buf[384];
  std::snprintf(buf, sizeof buf,
                "%s: loss kiln %.7g, LibTorch %.7g (rel diff %.1e); gradients: rel L2 diff of all %.1e, largest "
                "tensor diff %.1e of the whole gradient's norm (%s: %.1e of its own norm, which is %.1e of the whole)",
                mp.name.c_str(), lk, lt, std::abs(lk - lt) / std::abs(lt), std::sqrt(diff_sq) / total, worst / total,
                worst_name.c_str(), worst_own, worst_size / total);
  std::fprintf(stderr, "%s\n", buf);
  if (!(std::abs(lk - lt) <= 1e-4 * std::abs(lt)))
    throw std::runtime_error(std::string("losses disagree: ") + buf);
  return buf;
}

// One warm-up call per side, then `rounds` alternating single calls (for cases of seconds per call).
Result run_case_single_calls(const Case& c, int rounds) {
  std::vector<double> tk, tt;
  for (int r = 0; r < rounds; ++r) {
    if (r % 2 == 0) {
      tk.push_back(batch_time(c.kiln, 1));
      tt.push_back(batch_time(c.torch, 1));
    } else {
      tt.push_back(batch_time(c.torch, 1));
      tk.push_back(batch_time(c.kiln, 1));
    }
  }
  return {median(tk), median(tt)};
}

double load_average() {
  std::ifstream f("/proc/loadavg");
  double l = -1;
  f >> l;
  return l;
}

}  // namespace

int main(int argc, char** argv) {
  std::string out_path, filter, skip, groups;
  int rounds = 5, heavy_rounds = 3;
  int64_t lm_vocab = 2000, lm_emb = 400, lm_hid = 1152, lm_layers = 3, lm_batch = 64, lm_seq = 72;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&] { return std::atoll(argv[++i]); };
    if (i + 1 >= argc) a = "?";
    if (a == "--rounds") rounds = std::max<int>(1, int(next()));
    else if (a == "--heavy-rounds") heavy_rounds = std::max<int>(1, int(next()));
    else if (a == "--out") out_path = argv[++i];
    else if (a == "--filter") filter = argv[++i];
    else if (a == "--skip") skip = argv[++i];
    else if (a == "--groups") groups = "," + std::string(argv[++i]) + ",";
    else if (a == "--threads") kiln::cpu::set_num_threads(std::max<int>(1, int(next())));
    else if (a == "--lm-vocab") lm_vocab = next();
    else if (a == "--lm-emb") lm_emb = next();
    else if (a == "--lm-hid") lm_hid = next();
    else if (a == "--lm-layers") lm_layers = next();
    else if (a == "--lm-batch") lm_batch = next();
    else if (a == "--lm-seq") lm_seq = next();
    else {
      std::fprintf(stderr,
                   "usage: compare_models [--filter S] [--skip S] [--groups G,G] [--rounds N] [--heavy-rounds N] [--threads N] [--out FILE.md]\n"
                   "                      [--lm-vocab V] [--lm-emb E] [--lm-hid H] [--lm-layers L] [--lm-batch B] [--lm-seq T]\n");
      return 2;
    }
  }
  try {
    const double load_before = load_average();
    const int threads = kiln::cpu::num_threads();
    at::set_num_threads(threads);
    std::fprintf(stderr, "measuring the FMA peak...\n");
    const double peak = kiln::bench::fma_peak_f32();
    kiln::manual_seed(0);
    torch::manual_seed(0);

    std::vector<std::shared_ptr<ModelPair>> models;
    std::vector<NameMap> maps;
    std::vector<std::string> notes;
    auto wanted = [&](const std::string& n) {
      return (filter.empty() || n.find(filter) != std::string::npos) && (skip.empty() || n.find(skip) == std::string::npos);
    };

    // xresnet18, batch 64 x 3 x 64 x 64, 10 classes.
    if (wanted("xresnet18")) {
      models.push_back(classifier_pair("xresnet18 b64 3x64x64", knn::xresnet18(10, 3), t_xresnet18(3, 10),
                                       {64, 3, 64, 64}, 10, 1));
      maps.push_back(same_name);
    }
    // simple_cnn 1-8-16-32-2 with BatchNorm, batch 64 x 1 x 28 x 28.
    if (wanted("simple_cnn")) {
      const std::vector<int64_t> actns = {1, 8, 16, 32, 2};
      models.push_back(classifier_pair("simple_cnn 1-8-16-32-2 b64 1x28x28", knn::simple_cnn(actns, {}, {}, true),
                                       t_simple_cnn(actns), {64, 1, 28, 28}, 2, 2));
      maps.push_back(same_name);
    }
    // AWD-LSTM language model (fastai's awd_lstm_lm_config sizes by default, every dropout 0, tied
    // decoder), tokens [B, T], next-token targets [B * T].
    if (wanted("awd_lstm")) {
      knn::AWDLSTMConfig cfg = knn::awd_lstm_lm_config();
      cfg.emb_sz = lm_emb;
      cfg.n_hid = lm_hid;
      cfg.n_layers = lm_layers;
      auto km = knn::get_language_model(lm_vocab, cfg, /*drop_mult=*/0.0);
      auto tm = TLanguageModel(lm_vocab, lm_emb, lm_hid, lm_layers);
      kiln::Generator g(3);
      auto x = std::make_shared<kiln::Tensor>(kiln::randint(0, lm_vocab, {lm_batch, lm_seq}, kiln::DType::i64, &g));
      auto y = std::make_shared<kiln::Tensor>(kiln::randint(0, lm_vocab, {lm_batch * lm_seq}, kiln::DType::i64, &g));
      auto tx = std::make_shared<at::Tensor>(to_torch(*x)), ty = std::make_shared<at::Tensor>(to_torch(*y));
      const int64_t V = lm_vocab, BT = lm_batch * lm_seq;
      auto mp = std::make_shared<ModelPair>();
      char nm[160];
      std::snprintf(nm, sizeof nm, "AWD-LSTM LM emb %lld hid %lld x%lld vocab %lld b%lld seq %lld", (long long)lm_emb,
                    (long long)lm_hid, (long long)lm_layers, (long long)lm_vocab, (long long)lm_batch, (long long)lm_seq);
      mp->name = nm;
      mp->k = km;
      mp->t = tm.ptr();
      mp->k_loss = [km, x, y, V, BT] { return knn::cross_entropy(kiln::ag::reshape((*km)(*x), {BT, V}), *y); };
      mp->t_loss = [tm, tx, ty, V, BT]() mutable {
        return torch::nn::functional::cross_entropy(tm->forward(*tx).reshape({BT, V}), *ty);
      };
      // The carried (detached) hidden state is dropped before every step: both sides start at zero.
      mp->k_reset = [km] { km->reset(); };
      double macs = double(lm_emb) * double(lm_vocab);  // decoder
      for (int64_t l = 0; l < lm_layers; ++l) {
        const double in = l == 0 ? lm_emb : lm_hid, out = l == lm_layers - 1 ? lm_emb : lm_hid;
        macs += 4 * out * (in + out);
      }
      mp->fwd_flops = 2 * macs * double(BT);
      models.push_back(mp);
      maps.push_back([](const std::string& s) {
        std::string r = s;
        for (const std::string drop : {"module.", "_raw"})
          for (size_t p; (p = r.find(drop)) != std::string::npos;) r.erase(p, drop.size());
        return r;
      });
    }
    // MLP 784-100-10 with ReLU, batch 64.
    if (wanted("mlp")) {
      auto km = std::make_shared<knn::Sequential>();
      km->push_back(std::make_shared<knn::Linear>(784, 100));
      km->push_back(std::make_shared<knn::ReLU>());
      km->push_back(std::make_shared<knn::Linear>(100, 10));
      auto tm = t_mlp(784, 100, 10);
      kiln::Generator g(4);
      auto x = std::make_shared<kiln::Tensor>(kiln::randn({64, 784}, kiln::DType::f32, &g));
      auto y = std::make_shared<kiln::Tensor>(kiln::randint(0, 10, {64}, kiln::DType::i64, &g));
      auto tx = std::make_shared<at::Tensor>(to_torch(*x)), ty = std::make_shared<at::Tensor>(to_torch(*y));
      auto mp = std::make_shared<ModelPair>();
      mp->name = "MLP 784-100-10 b64";
      mp->k = km;
      mp->t = tm.ptr();
      mp->k_loss = [km, x, y] { return knn::cross_entropy((*km)(*x), *y); };
      mp->t_loss = [tm, tx, ty]() mutable { return torch::nn::functional::cross_entropy(tm->forward(*tx), *ty); };
      mp->fwd_flops = count_forward_flops(*km, *x);
      models.push_back(mp);
      maps.push_back(same_name);
    }

    // Same weights, same loss and gradients, before anything is timed.
    for (size_t i = 0; i < models.size(); ++i) {
      const int64_t n = copy_weights(*models[i]->k, *models[i]->t, maps[i]);
      notes.push_back(check_same(*models[i], maps[i]) + "; " + std::to_string(n) + " parameters");
    }

    std::ostringstream md;
    md << "# kiln vs LibTorch " << TORCH_VERSION << ": model training steps (CPU)\n\n";
    md << "Machine: " << kiln::bench::machine_description() << "; both libraries use " << threads
       << " threads. Load average (1 min) before the run: " << load_before << ".\n\n";
    md << "Ceiling measured in this run: f32 FMA peak " << peak / 1e9 << " GFLOP/s. ratio = LibTorch time / kiln time "
          "(> 1: kiln is faster), median of " << rounds << " interleaved rounds (cases marked `[1 call x N]`: median "
          "of N interleaved single calls after one warm-up). fwd = forward + cross-entropy (graph recorded); "
          "fwd+bwd = fwd + backward into fresh gradients; step = fwd+bwd + plain SGD (lr 1e-4). Training mode, "
          "every dropout p = 0. GFLOP/s counts 2 x MACs of convs, linears and LSTM projections (x3 for "
          "fwd+bwd and step).\n\n";
    md << "Same computation, checked once before timing (kiln's initial weights copied into the LibTorch model by "
          "name):\n\n";
    for (const auto& n : notes) md << "- " << n << "\n";
    md << "\n| group | case | kiln | LibTorch | ratio | goal | kiln throughput | kiln of peak | LibTorch of peak |\n";
    md << "|---|---|---|---|---|---|---|---|---|\n";
    Table table(md.str());

    for (auto& mp : models) {
      const bool is_mlp = mp->name.rfind("MLP", 0) == 0;
      const double goal = is_mlp ? 1.5 : 1.2;
      auto k = mp->k;
      auto t = mp->t;
      auto kp = std::make_shared<std::vector<kiln::Tensor>>(k->parameters());
      auto tps = std::make_shared<std::vector<at::Tensor>>(t->parameters());
      auto kopt = std::make_shared<kiln::optim::Optimizer>(kiln::optim::SGD(*kp, {.lr = 1e-4}));
      auto topt = std::make_shared<torch::optim::SGD>(*tps, torch::optim::SGDOptions(1e-4));
      auto kloss = mp->k_loss;
      auto tloss = mp->t_loss;
      auto kreset = mp->k_reset;
      auto kfwd = [kloss, kreset] { kreset(); kloss(); };
      auto tfwd = [tloss] { tloss(); };
      auto kfb = [k, kloss, kreset] {
        k->zero_grad();
        kreset();
        kiln::ag::backward(kloss());
      };
      auto tfb = [tps, tloss] {
        clear_grads(*tps);
        tloss().backward();
      };
      std::vector<Case> cases;
      if (!is_mlp) cases.push_back({"fwd", mp->name, mp->fwd_flops, 0, goal, kfwd, tfwd});
      cases.push_back({"fwd+bwd", mp->name, 3 * mp->fwd_flops, 0, goal, kfb, tfb});
      cases.push_back({"step", mp->name, 3 * mp->fwd_flops, 0, goal, [kfb, kopt] { kfb(); kopt->step(); },
                       [tfb, topt] { tfb(); topt->step(); }});
      if (is_mlp) {
        // Diagnostic, no goal: the five GEMMs of the MLP's fwd+bwd alone, with the operands
        // transposed as a linear layer has them: x W1^T, h W2^T, dW2 = dy^T h, dh = dy W2,
        // dW1 = dz^T x. Separates GEMM time from the rest of each framework's step.
        struct G {
          int64_t r0, c0, r1, c1;
          bool t0, t1;  // operand stored [r, c] and used transposed
        };
        const G gs[5] = {{64, 784, 100, 784, false, true}, {64, 100, 10, 100, false, true}, {64, 10, 64, 100, true, false},
                         {64, 10, 10, 100, false, false}, {64, 100, 64, 784, true, false}};
        auto ka = std::make_shared<std::vector<kiln::Tensor>>();
        auto ta = std::make_shared<std::vector<at::Tensor>>();
        kiln::Generator g(5);
        double fl = 0;
        for (const G& e : gs) {
          kiln::Tensor a = kiln::randn({e.r0, e.c0}, kiln::DType::f32, &g), b = kiln::randn({e.r1, e.c1}, kiln::DType::f32, &g);
          at::Tensor ta0 = to_torch(a), tb0 = to_torch(b);
          ka->push_back(e.t0 ? a.t() : a);
          ka->push_back(e.t1 ? b.t() : b);
          ta->push_back(e.t0 ? ta0.t() : ta0);
          ta->push_back(e.t1 ? tb0.t() : tb0);
          fl += 2.0 * double(ka->back().size(0)) * double(ka->back().size(1)) * double((*ka)[ka->size() - 2].size(0));
        }
        cases.push_back({"gemm", "the MLP fwd+bwd's 5 GEMMs alone (diagnostic)", fl, 0, 0.0,
                         [ka] { for (size_t i = 0; i < ka->size(); i += 2) kiln::mm((*ka)[i], (*ka)[i + 1]); },
                         [ta] { for (size_t i = 0; i < ta->size(); i += 2) at::mm((*ta)[i], (*ta)[i + 1]); }});
      }
      for (Case& c : cases) {
        if (!groups.empty() && groups.find("," + c.group + ",") == std::string::npos) continue;
        // First call of each side: warm-up, and the heavy-case test.
        auto t0 = Clock::now();
        c.kiln();
        const double k1 = seconds_since(t0);
        t0 = Clock::now();
        c.torch();
        const double t1 = seconds_since(t0);
        Result r;
        if (std::max(k1, t1) > 1.0) {
          c.name += " [1 call x " + std::to_string(heavy_rounds) + "]";
          r = run_case_single_calls(c, heavy_rounds);
        } else {
          r = run_case(c, rounds, 0.2);
        }
        table.add(c, r, 0, peak);
      }
    }
    const int rc = table.finish(out_path, "compare_models");
    const double load_after = load_average();
    std::printf("Load average (1 min) after the run: %g\n", load_after);
    if (!out_path.empty() && rc == 0) {
      std::ofstream f(out_path, std::ios::app);
      f << "Load average (1 min) after the run: " << load_after << ".\n";
    }
    return rc;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "compare_models: %s\n", e.what());
    return 1;
  }
}
