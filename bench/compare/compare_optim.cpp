// Side-by-side optimizer steps: kiln's fused CPU AdamW and SGD-momentum against LibTorch C++'s
// torch::optim::AdamW and SGD (Debian's libtorch-dev), interleaved in one process on identical
// parameter sets (DESIGN.md section 7). Reports ratio = LibTorch time / kiln time and bytes/s over
// the copy bandwidth measured in the same run. Bytes per parameter and step: AdamW reads p, g, m, v
// and writes p, m, v (28 B in f32); SGD with momentum reads p, g, buf and writes p, buf (20 B).
//
//   compare_optim [--rounds N] [--threads N] [--quick] [--out FILE.md]
//
// Size mixes (bench/param_mixes.h): "resnet50" = xresnet50's parameter shapes scaled to the total;
// "transformer" = GPT-style layers plus the embeddings.
#include <torch/torch.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>

#include "ceiling.h"
#include "kiln/autograd/node.h"
#include "kiln/kernels/cpu/parallel.h"
#include "kiln/learner/optimizers.h"
#include "kiln/tensor/ops.h"
#include "param_mixes.h"
#include "side_by_side.h"

namespace {

using namespace kiln::bench::sbs;
using kiln::bench::param_count;
using kiln::bench::param_count_label;
using kiln::bench::param_mix_sizes;

struct ParamSet {
  std::vector<kiln::Tensor> k;
  std::vector<at::Tensor> t;
};

std::shared_ptr<ParamSet> make_params(const std::vector<int64_t>& sizes) {
  auto ps = std::make_shared<ParamSet>();
  kiln::Generator gen(1);
  for (int64_t n : sizes) {
    kiln::Tensor p = kiln::randn({n}, kiln::DType::f32, &gen), g = kiln::randn({n}, kiln::DType::f32, &gen);
    at::Tensor tp = torch::from_blob(p.data_ptr(), {n}, torch::kFloat32).clone().requires_grad_(true);
    tp.mutable_grad() = torch::from_blob(g.data_ptr(), {n}, torch::kFloat32).clone();
    kiln::ag::set_requires_grad(p);
    kiln::ag::set_grad(p, g);
    ps->k.push_back(p);
    ps->t.push_back(tp);
  }
  return ps;
}

}  // namespace

int main(int argc, char** argv) {
  CommonOptions opts;
  if (!parse_common_options(argc, argv, "compare_optim", opts)) return 2;
  const std::string& out_path = opts.out_path;
  const int rounds = opts.rounds;
  const bool quick = opts.quick;
  const int threads = kiln::cpu::num_threads();
  at::set_num_threads(threads);
  std::fprintf(stderr, "measuring the copy bandwidth...\n");
  const double copy_bw = kiln::bench::copy_bandwidth();
  const double bw = kiln::bench::update_bandwidth();

  std::ostringstream md;
  md << "# kiln vs LibTorch " << TORCH_VERSION << ": optimizer steps (CPU)\n\n";
  md << "Machine: " << kiln::bench::machine_description() << "; both libraries use " << threads << " threads.\n\n";
  md << "Ceilings measured in this run: copy bandwidth " << copy_bw / 1e9 << " GB/s (memcpy, read + write), in-place "
        "update bandwidth " << bw / 1e9 << " GB/s (a += b, 12 B per element). ratio = LibTorch time / kiln time (> 1: "
        "kiln is faster), median of " << rounds << " interleaved rounds; `of ceiling` = bytes moved per step (AdamW "
        "28 B, SGD-momentum 20 B per f32 parameter) / time / in-place update bandwidth (an optimizer step is an "
        "in-place stream; a copy's stores also pay a read-for-ownership, so the copy bandwidth understates it). "
        "The 1M cases fit in the last-level cache and exceed the DRAM ceiling.\n\n";
  md << "| group | case | kiln | LibTorch | ratio | goal | kiln throughput | kiln of ceiling | LibTorch of ceiling |\n";
  md << "|---|---|---|---|---|---|---|---|---|\n";
  Table table(md.str());

  std::vector<int64_t> totals = quick ? std::vector<int64_t>{1'000'000} : std::vector<int64_t>{1'000'000, 25'000'000, 125'000'000};
  for (int64_t total : totals)
    for (const char* mix : {"resnet50", "transformer"}) {
      const auto sizes = param_mix_sizes(mix, total);
      const int64_t n = param_count(sizes);
      std::string shape = param_count_label(n) + " " + mix + " (" + std::to_string(sizes.size()) + " tensors)";
      for (const char* which : {"AdamW", "SGD-momentum"}) {
        auto ps = make_params(sizes);
        std::shared_ptr<kiln::optim::Optimizer> ko;
        std::shared_ptr<torch::optim::Optimizer> to;
        double bytes;
        if (std::string(which) == "AdamW") {
          ko = std::make_shared<kiln::optim::Optimizer>(
              kiln::optim::AdamW(ps->k, {.lr = 1e-3, .mom = 0.9, .sqr_mom = 0.999, .eps = 1e-8, .wd = 0.01}));
          to = std::make_shared<torch::optim::AdamW>(
              ps->t, torch::optim::AdamWOptions(1e-3).betas({0.9, 0.999}).eps(1e-8).weight_decay(0.01));
          bytes = 28.0 * double(n);
        } else {
          ko = std::make_shared<kiln::optim::Optimizer>(kiln::optim::SGD(ps->k, {.lr = 1e-3, .mom = 0.9}));
          to = std::make_shared<torch::optim::SGD>(ps->t, torch::optim::SGDOptions(1e-3).momentum(0.9));
          bytes = 20.0 * double(n);
        }
        Case c{"optim", std::string(which) + " " + shape, 0, bytes, 1.0, [ko] { ko->step(); }, [to] { to->step(); }};
        table.add(c, run_case(c, rounds, 0.05), bw, 0);
      }
    }
  return table.finish(out_path, "compare_optim");
}
