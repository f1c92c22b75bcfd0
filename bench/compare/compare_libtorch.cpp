// Side-by-side runner: kiln vs LibTorch C++ (Debian's libtorch-dev) on the same ops, shapes and
// thread count, interleaved in one process (DESIGN.md section 7). For every case it alternates
// rounds of kiln and LibTorch, takes the median time per call of each, and prints
// ratio = LibTorch time / kiln time (> 1: kiln is faster), plus kiln's throughput as a fraction of
// the ceiling measured in the same run (FMA peak for GEMM/conv, copy bandwidth otherwise).
//
//   compare_libtorch [--filter SUBSTRING] [--rounds N] [--threads N] [--out FILE.md] [--quick] [--passes]
//
// --passes adds the conv cases split by pass (forward, input gradient, weight gradient), group
// "convpass", to see which pass a conv ratio comes from.
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <functional>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "ceiling.h"
#include "side_by_side.h"
#include "kiln/kernels/cpu/parallel.h"
#include "kiln/tensor/ops.h"

namespace {

using namespace kiln::bench::sbs;

// Random inputs with identical values on both sides.
struct Pair {
  kiln::Tensor k;
  at::Tensor t;
};
Pair randn_pair(const kiln::Shape& shape, uint64_t seed) {
  kiln::Generator g(seed);
  kiln::Tensor k = kiln::randn(shape, kiln::DType::f32, &g);
  std::vector<int64_t> sizes(shape.begin(), shape.end());
  at::Tensor t = torch::from_blob(k.data_ptr(), sizes, torch::kFloat32).clone();
  return {k, t};
}

std::vector<Case> make_cases(bool quick, bool passes) {
  std::vector<Case> cases;
  auto keep = [](auto v) { return std::make_shared<decltype(v)>(std::move(v)); };

  // ---- GEMM (f32, square): goal 1.2x
  for (int64_t n : {256, 512, 1024, 2048}) {
    if (quick && n > 1024) continue;
    auto a = keep(randn_pair({n, n}, 1)), b = keep(randn_pair({n, n}, 2));
    cases.push_back({"gemm", "mm f32 " + std::to_string(n) + "^3", 2.0 * n * n * n, 0, 1.2,
                     [a, b] { kiln::mm(a->k, b->k); }, [a, b] { at::mm(a->t, b->t); }});
  }

  // ---- conv2d forward + backward (data, weight, bias) on typical CNN shapes, batch 8
  struct ConvShape {
    const char* name;
    int64_t B, C, H, W, O, k, s, p;
  };
  std::vector<ConvShape> convs = {
      {"stem 3->64 7x7 s2 224", 8, 3, 224, 224, 64, 7, 2, 3},
      {"64->64 3x3 56", 8, 64, 56, 56, 64, 3, 1, 1},
      {"128->128 3x3 28", 8, 128, 28, 28, 128, 3, 1, 1},
      {"256->256 3x3 14", 8, 256, 14, 14, 256, 3, 1, 1},
      {"256->1024 1x1 14", 8, 256, 14, 14, 1024, 1, 1, 0},
      {"128->256 3x3 s2 28", 8, 128, 28, 28, 256, 3, 2, 1},
      // simple_cnn 1-8-16-32-2 on 28x28 at batch 64 (compare_models' model), layer by layer.
      {"simple_cnn 1->8 3x3 s2 28 b64", 64, 1, 28, 28, 8, 3, 2, 1},
      {"simple_cnn 8->16 3x3 s2 14 b64", 64, 8, 14, 14, 16, 3, 2, 1},
      {"simple_cnn 16->32 3x3 s2 7 b64", 64, 16, 7, 7, 32, 3, 2, 1},
      {"simple_cnn 32->2 3x3 s2 4 b64", 64, 32, 4, 4, 2, 3, 2, 1},
      // xresnet18 on 3x64x64 at batch 64 (compare_models' model): its distinct 3x3 convolutions.
      {"xresnet18 3->32 3x3 s2 64 b64", 64, 3, 64, 64, 32, 3, 2, 1},
      {"xresnet18 32->32 3x3 32 b64", 64, 32, 32, 32, 32, 3, 1, 1},
      {"xresnet18 32->64 3x3 32 b64", 64, 32, 32, 32, 64, 3, 1, 1},
      {"xresnet18 64->64 3x3 16 b64", 64, 64, 16, 16, 64, 3, 1, 1},
      {"xresnet18 64->128 3x3 s2 16 b64", 64, 64, 16, 16, 128, 3, 2, 1},
      {"xresnet18 128->128 3x3 8 b64", 64, 128, 8, 8, 128, 3, 1, 1},
      {"xresnet18 128->256 3x3 s2 8 b64", 64, 128, 8, 8, 256, 3, 2, 1},
      {"xresnet18 256->256 3x3 4 b64", 64, 256, 4, 4, 256, 3, 1, 1},
      {"xresnet18 256->512 3x3 s2 4 b64", 64, 256, 4, 4, 512, 3, 2, 1},
      {"xresnet18 512->512 3x3 2 b64", 64, 512, 2, 2, 512, 3, 1, 1},
  };
  for (const auto& cs : convs) {
    if (quick && cs.C > 128) continue;
    auto x = keep(randn_pair({cs.B, cs.C, cs.H, cs.W}, 3));
    auto w = keep(randn_pair({cs.O, cs.C, cs.k, cs.k}, 4));
    auto bias = keep(randn_pair({cs.O}, 5));
    int64_t oh = (cs.H + 2 * cs.p - cs.k) / cs.s + 1, ow = (cs.W + 2 * cs.p - cs.k) / cs.s + 1;
    auto dy = keep(randn_pair({cs.B, cs.O, oh, ow}, 6));
    double fl = 2.0 * cs.B * cs.O * oh * ow * cs.C * cs.k * cs.k;  // per pass
    kiln::Shape xs{cs.B, cs.C, cs.H, cs.W}, ws{cs.O, cs.C, cs.k, cs.k};
    int64_t s = cs.s, p = cs.p, O = cs.O;
    cases.push_back({"conv", std::string("fwd+bwd ") + cs.name, 3 * fl, 0, 1.0,
                     [=] {
                       kiln::conv2d(x->k, w->k, bias->k, s, p);
                       kiln::conv2d_backward_data(dy->k, w->k, xs, s, p);
                       kiln::conv2d_backward_weight(dy->k, x->k, ws, s, p);
                       kiln::conv2d_backward_bias(dy->k);
                     },
                     [=] {
                       at::conv2d(x->t, w->t, bias->t, {s, s}, {p, p});
                       std::vector<int64_t> bias_sizes{O};
                       at::convolution_backward(dy->t, x->t, w->t, bias_sizes, {s, s}, {p, p}, {1, 1}, false, {0, 0},
                                                1, {true, true, true});
                     }});
    if (!passes) continue;
    cases.push_back({"convpass", std::string("fwd ") + cs.name, fl, 0, 1.0,
                     [=] { kiln::conv2d(x->k, w->k, bias->k, s, p); },
                     [=] { at::conv2d(x->t, w->t, bias->t, {s, s}, {p, p}); }});
    cases.push_back({"convpass", std::string("bwd-data ") + cs.name, fl, 0, 1.0,
                     [=] { kiln::conv2d_backward_data(dy->k, w->k, xs, s, p); },
                     [=] {
                       at::convolution_backward(dy->t, x->t, w->t, c10::nullopt, {s, s}, {p, p}, {1, 1}, false,
                                                {0, 0}, 1, {true, false, false});
                     }});
    cases.push_back({"convpass", std::string("bwd-weight+bias ") + cs.name, fl, 0, 1.0,
                     [=] {
                       kiln::conv2d_backward_weight(dy->k, x->k, ws, s, p);
                       kiln::conv2d_backward_bias(dy->k);
                     },
                     [=] {
                       std::vector<int64_t> bias_sizes{O};
                       at::convolution_backward(dy->t, x->t, w->t, bias_sizes, {s, s}, {p, p}, {1, 1}, false,
                                                {0, 0}, 1, {false, true, true});
                     }});
  }

  // ---- elementwise, reductions, softmax: 1K .. 64M elements
  std::vector<int64_t> sizes = {1 << 10, 1 << 16, 1 << 20, 1 << 24, 1 << 26};
  if (quick) sizes = {1 << 10, 1 << 16, 1 << 20};
  for (int64_t n : sizes) {
    std::string ns = n >= (1 << 20) ? std::to_string(n >> 20) + "M" : std::to_string(n >> 10) + "K";
    auto a = keep(randn_pair({n}, 7)), b = keep(randn_pair({n}, 8));
    double f4 = 4.0 * double(n);
    cases.push_back({"elementwise", "add " + ns, 0, 3 * f4, 1.0, [a, b] { kiln::add(a->k, b->k); },
                     [a, b] { at::add(a->t, b->t); }});
    cases.push_back({"elementwise", "mul " + ns, 0, 3 * f4, 1.0, [a, b] { kiln::mul(a->k, b->k); },
                     [a, b] { at::mul(a->t, b->t); }});
    cases.push_back({"elementwise", "exp " + ns, 0, 2 * f4, 1.0, [a] { kiln::exp(a->k); }, [a] { at::exp(a->t); }});
    cases.push_back({"elementwise", "relu " + ns, 0, 2 * f4, 1.0, [a] { kiln::relu(a->k); }, [a] { at::relu(a->t); }});
    cases.push_back({"elementwise", "sigmoid " + ns, 0, 2 * f4, 1.0, [a] { kiln::sigmoid(a->k); },
                     [a] { at::sigmoid(a->t); }});
    cases.push_back({"elementwise", "gelu " + ns, 0, 2 * f4, 1.0, [a] { kiln::gelu(a->k); }, [a] { at::gelu(a->t); }});
    cases.push_back({"elementwise", "add_ in place " + ns, 0, 3 * f4, 1.0, [a, b] { kiln::add_(a->k, b->k, 1e-9); },
                     [a, b] { a->t.add_(b->t, 1e-9); }});
    cases.push_back({"reduction", "sum all " + ns, 0, f4, 1.0, [a] { kiln::sum(a->k); }, [a] { at::sum(a->t); }});
    cases.push_back({"reduction", "max all " + ns, 0, f4, 1.0, [a] { kiln::max(a->k); }, [a] { at::max(a->t); }});
    int64_t cols = n >= 1024 ? 1024 : n;
    std::string rc = "[" + std::to_string(n / cols) + "," + std::to_string(cols) + "]";
    auto m = keep(Pair{a->k.view({n / cols, cols}), a->t.view({n / cols, cols})});
    cases.push_back({"reduction", "mean last dim " + rc, 0, f4, 1.0, [m] { kiln::mean(m->k, {1}); },
                     [m] { at::mean(m->t, {1}); }});
    cases.push_back({"reduction", "sum first dim " + rc, 0, f4, 1.0, [m] { kiln::sum(m->k, {0}); },
                     [m] { at::sum(m->t, {0}); }});
    if (n <= (1 << 24))
      cases.push_back({"nn", "softmax last dim " + rc, 0, 2 * f4, 1.0, [m] { kiln::softmax(m->k, 1); },
                       [m] { at::softmax(m->t, 1); }});
  }

  // ---- softmax on the shape of an attention / classifier block, and the norm layers (forward):
  // layer norm over the last dim, batch norm in training mode (batch statistics, running stats
  // updated).
  {
    auto m = keep(randn_pair({4096, 1024}, 11));
    cases.push_back({"nn", "softmax last dim [4096,1024]", 0, 2 * 4.0 * 4096 * 1024, 1.0,
                     [m] { kiln::softmax(m->k, 1); }, [m] { at::softmax(m->t, 1); }});
    cases.push_back({"nn", "log_softmax last dim [4096,1024]", 0, 2 * 4.0 * 4096 * 1024, 1.0,
                     [m] { kiln::log_softmax(m->k, 1); }, [m] { at::log_softmax(m->t, 1); }});
  }
  for (int64_t rows : {int64_t(64), int64_t(4096)}) {
    const int64_t D = 1024;
    auto x = keep(randn_pair({rows, D}, 12)), w = keep(randn_pair({D}, 13)), b = keep(randn_pair({D}, 14));
    cases.push_back({"nn", "layer_norm [" + std::to_string(rows) + ",1024]", 0, 2 * 4.0 * double(rows * D), 1.0,
                     [x, w, b] { kiln::layer_norm(x->k, {D}, w->k, b->k); },
                     [x, w, b] { at::layer_norm(x->t, {D}, w->t, b->t); }});
  }
  for (auto shape : {std::vector<int64_t>{8, 64, 16, 16}, std::vector<int64_t>{32, 64, 32, 32}}) {
    const int64_t C = shape[1];
    auto x = keep(randn_pair(kiln::Shape(shape.begin(), shape.end()), 15));
    auto w = keep(randn_pair({C}, 16)), b = keep(randn_pair({C}, 17));
    auto rm = keep(randn_pair({C}, 18)), rv = keep(randn_pair({C}, 19));
    rv->k = kiln::ones({C}, kiln::DType::f32);
    rv->t = at::ones({C});
    std::string name = "batch_norm train [" + std::to_string(shape[0]) + "," + std::to_string(shape[1]) + "," +
                       std::to_string(shape[2]) + "," + std::to_string(shape[3]) + "]";
    double numel = double(shape[0] * shape[1] * shape[2] * shape[3]);
    cases.push_back({"nn", name, 0, 2 * 4.0 * numel, 1.0,
                     [x, w, b, rm, rv] { kiln::batch_norm_forward(x->k, w->k, b->k, rm->k, rv->k, true); },
                     [x, w, b, rm, rv] { at::batch_norm(x->t, w->t, b->t, rm->t, rv->t, true, 0.1, 1e-5, false); }});
  }

  // ---- per-op overhead on tiny tensors: goal kiln <= 1/4 of LibTorch's time (ratio >= 4)
  for (int64_t n : {1, 4, 16}) {
    auto a = keep(randn_pair({n}, 9)), b = keep(randn_pair({n}, 10));
    std::string ns = std::to_string(n) + (n == 1 ? " element" : " elements");
    cases.push_back({"overhead", "add " + ns, 0, 0, 4.0, [a, b] { kiln::add(a->k, b->k); },
                     [a, b] { at::add(a->t, b->t); }});
    cases.push_back({"overhead", "mul scalar " + ns, 0, 0, 4.0, [a] { kiln::mul(a->k, 2.0); },
                     [a] { at::mul(a->t, 2.0); }});
    cases.push_back({"overhead", "relu " + ns, 0, 0, 4.0, [a] { kiln::relu(a->k); }, [a] { at::relu(a->t); }});
    cases.push_back({"overhead", "sum " + ns, 0, 0, 4.0, [a] { kiln::sum(a->k); }, [a] { at::sum(a->t); }});
  }
  return cases;
}

}  // namespace

int main(int argc, char** argv) {
  std::string filter, out_path;
  int rounds = 9;
  bool quick = false, passes = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--filter" && i + 1 < argc) filter = argv[++i];
    else if (a == "--rounds" && i + 1 < argc) rounds = std::max(1, std::atoi(argv[++i]));
    else if (a == "--out" && i + 1 < argc) out_path = argv[++i];
    else if (a == "--quick") quick = true;
    else if (a == "--passes") passes = true;
    else if (a == "--threads" && i + 1 < argc) kiln::cpu::set_num_threads(std::max(1, std::atoi(argv[++i])));
    else {
      std::fprintf(stderr, "usage: compare_libtorch [--filter S] [--rounds N] [--threads N] [--out FILE.md] [--quick] [--passes]\n");
      return 2;
    }
  }
  int threads = kiln::cpu::num_threads();
  at::set_num_threads(threads);

  std::fprintf(stderr, "measuring ceilings...\n");
  const double bw = kiln::bench::copy_bandwidth();
  const double peak = kiln::bench::fma_peak_f32();
  const double peak1 = kiln::bench::fma_peak_f32_single_thread();

  std::ostringstream md;
  md << "# kiln vs LibTorch " << TORCH_VERSION << " (CPU)\n\n";
  md << "Machine: " << kiln::bench::machine_description() << "; both libraries use " << threads << " threads.\n\n";
  md << "Ceilings measured in this run: copy bandwidth " << bw / 1e9 << " GB/s (read + write), f32 FMA peak "
     << peak / 1e9 << " GFLOP/s (" << peak1 / 1e9 << " on one thread).\n\n";
  md << "ratio = LibTorch time / kiln time (> 1 means kiln is faster); median of " << rounds
     << " interleaved rounds. `of ceiling` = FLOP/s over the FMA peak (gemm, conv) or minimal bytes/s over the "
        "copy bandwidth (others).\n\n";
  md << "| group | case | kiln | LibTorch | ratio | goal | kiln throughput | kiln of ceiling | LibTorch of ceiling |\n";
  md << "|---|---|---|---|---|---|---|---|---|\n";
  Table table(md.str());

  for (const Case& c : make_cases(quick, passes)) {
    std::string full = c.group + " " + c.name;
    if (!filter.empty() && full.find(filter) == std::string::npos) continue;
    table.add(c, run_case(c, rounds, c.group == "overhead" ? 0.02 : 0.05), bw, peak);
  }
  return table.finish(out_path, "compare_libtorch");
}
