// GPU benchmark of kiln's multi-tensor fused optimizer step (kernels/cuda/optim.h) against the
// device's own ceiling: AdamW and SGD-momentum over 1M, 25M and 125M parameters split into the
// ResNet-50-like and transformer-like size mixes (bench/param_mixes.h), plus bf16 parameters with
// f32 master weights (AdamW) at 125M. For each case: median time per step (Note [GPU timing]),
// GB/s of minimal traffic, and that as a fraction of the device-to-device copy bandwidth measured
// in the same run (the bandwidth floor: a step cannot beat moving its bytes once).
//
//   bench_optim_cuda [--quick] [--batches N] [--out FILE.md] [--sizes-out FILE.json]
//
// --sizes-out writes the size lists and hyper-parameters used, so bench/gpu/torch_optim.py times
// PyTorch on the same parameter lists; bench/gpu/combine.py joins the two. Without a usable GPU it
// prints one line "no usable GPU: <why>" and exits 0 (a skip, not a failure).
//
// Minimal bytes per parameter and step (each buffer read once and/or written once):
//   AdamW f32:           p r+w 8, g r 4, m r+w 8, v r+w 8                         = 28 B
//   SGD-momentum f32:    p r+w 8, g r 4, buf r+w 8                                = 20 B
//   AdamW bf16 + master: p w 2, g r 2, master r+w 8, m r+w 8, v r+w 8            = 28 B
// With a master copy the weight is read from the master (Note [Fused optimizer semantics]), so the
// bf16 parameter is only written.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include <cuda_runtime.h>

#include "gpu_bench.h"
#include "kiln/kernels/cuda/check.h"
#include "kiln/kernels/cuda/optim.h"
#include "kiln/kernels/optim_fused.h"
#include "param_mixes.h"

namespace {

using kiln::DType;
using kiln::optim_kernels::FusedGroupArgs;
using kiln::optim_kernels::FusedOptim;
using kiln::optim_kernels::FusedTensorArgs;
namespace gpu = kiln::bench::gpu;

// Hyper-parameters, also written to the sizes file so PyTorch uses the same ones.
constexpr float kLr = 1e-3f, kBeta1 = 0.9f, kBeta2 = 0.999f, kEps = 1e-8f, kAdamWd = 0.01f, kSgdMom = 0.9f;
constexpr int kStep = 10;  // the step whose debias terms the AdamW cases use

struct Optim {
  const char* name;
  bool adam;
  DType param, grad;  // f32/f32, or bf16/bf16 with an f32 master
  double bytes_per_param;
};
const Optim kAdamW{"AdamW", true, DType::f32, DType::f32, 28};
const Optim kSgd{"SGD-momentum", false, DType::f32, DType::f32, 20};
const Optim kAdamWBf16{"AdamW bf16+master", true, DType::bf16, DType::bf16, 28};

struct Role {
  DType dt;
  float lo, hi;
};

// All buffers of `sets` copies of one parameter list in one arena, each tensor 256-byte aligned,
// filled with random data (never zeros); args[s] is set s's tensor list for the kernel.
struct ParamSets {
  std::unique_ptr<gpu::DeviceArena> arena;
  std::vector<std::vector<FusedTensorArgs>> args;
};

size_t region_bytes(const std::vector<int64_t>& sizes, DType dt) {
  size_t b = 0;
  for (int64_t n : sizes) b += gpu::DeviceArena::aligned(size_t(n) * kiln::dtype_size(dt));
  return b;
}

size_t set_bytes(const std::vector<int64_t>& sizes, const Optim& o) {
  size_t b = region_bytes(sizes, o.param) + region_bytes(sizes, o.grad) + region_bytes(sizes, DType::f32);  // m
  if (o.adam) b += region_bytes(sizes, DType::f32);                                                         // v
  if (o.param != DType::f32) b += region_bytes(sizes, DType::f32);                                          // master
  return b;
}

ParamSets make_sets(const std::vector<int64_t>& sizes, const Optim& o, int sets, uint64_t seed) {
  ParamSets ps;
  ps.arena = std::make_unique<gpu::DeviceArena>(set_bytes(sizes, o) * size_t(sets));
  ps.args.resize(size_t(sets));
  // One region per buffer role and set, filled in one go, then cut into tensors.
  auto region = [&](const Role& r) {
    const size_t bytes = region_bytes(sizes, r.dt);
    char* base = static_cast<char*>(ps.arena->take(bytes));
    gpu::fill_random(base, int64_t(bytes / kiln::dtype_size(r.dt)), r.dt, r.lo, r.hi, seed++);
    std::vector<char*> out;
    for (int64_t n : sizes) {
      out.push_back(base);
      base += gpu::DeviceArena::aligned(size_t(n) * kiln::dtype_size(r.dt));
    }
    return out;
  };
  const double debias1 = 1.0 - std::pow(double(kBeta1), kStep), debias2 = 1.0 - std::pow(double(kBeta2), kStep);
  for (int s = 0; s < sets; ++s) {
    auto p = region({o.param, -1.0f, 1.0f});
    auto g = region({o.grad, -1.0f, 1.0f});
    auto m = region({DType::f32, -1.0f, 1.0f});
    std::vector<char*> v, master;
    if (o.adam) v = region({DType::f32, 0.01f, 1.0f});
    if (o.param != DType::f32) master = region({DType::f32, -1.0f, 1.0f});
    for (size_t t = 0; t < sizes.size(); ++t) {
      FusedTensorArgs a;
      a.param = p[t];
      a.grad = g[t];
      a.exp_avg = reinterpret_cast<float*>(m[t]);
      if (o.adam) a.exp_avg_sq = reinterpret_cast<float*>(v[t]);
      if (!master.empty()) a.master = reinterpret_cast<float*>(master[t]);
      a.n = sizes[t];
      a.wd = o.adam ? kAdamWd : 0.0f;
      a.debias1 = o.adam ? float(debias1) : 1.0f;
      a.debias2 = o.adam ? float(debias2) : 1.0f;
      ps.args[size_t(s)].push_back(a);
    }
  }
  KILN_CUDA_CHECK(cudaDeviceSynchronize());
  return ps;
}

FusedGroupArgs group_args(const Optim& o) {
  FusedGroupArgs g;
  g.lr = kLr;
  g.decouple_wd = true;
  if (o.adam) {
    g.kind = FusedOptim::adam;
    g.mom = kBeta1;
    g.sqr_mom = kBeta2;
    g.eps = kEps;
  } else {
    g.kind = FusedOptim::sgd;
    g.mom = kSgdMom;  // buf = mom * buf + g (no dampening), as torch.optim.SGD
  }
  return g;
}

struct Case {
  std::string mix, size;
  int64_t target;
  std::vector<int64_t> sizes;
};

std::string json_sizes(const gpu::GpuInfo& info, const std::vector<Case>& cases) {
  std::ostringstream js;
  js << "{\n  \"gpu\": \"" << info.name << "\",\n  \"l2_bytes\": " << info.l2_bytes << ",\n"
     << "  \"adamw\": {\"lr\": " << kLr << ", \"betas\": [" << kBeta1 << ", " << kBeta2 << "], \"eps\": " << kEps
     << ", \"weight_decay\": " << kAdamWd << "},\n"
     << "  \"sgd\": {\"lr\": " << kLr << ", \"momentum\": " << kSgdMom << "},\n  \"cases\": [";
  for (size_t c = 0; c < cases.size(); ++c) {
    js << (c ? ",\n" : "\n") << "    {\"mix\": \"" << cases[c].mix << "\", \"size\": \"" << cases[c].size
       << "\", \"params\": " << kiln::bench::param_count(cases[c].sizes) << ", \"sizes\": [";
    for (size_t i = 0; i < cases[c].sizes.size(); ++i) js << (i ? ", " : "") << cases[c].sizes[i];
    js << "]}";
  }
  js << "\n  ]\n}\n";
  return js.str();
}

bool write_file(const std::string& path, const std::string& text) {
  std::ofstream f(path);
  f << text;
  f.close();
  if (!f.good()) std::fprintf(stderr, "bench_optim_cuda: cannot write %s\n", path.c_str());
  return f.good();
}

int run(bool quick, int batches, const std::string& out_path, const std::string& sizes_path) {
  const gpu::GpuInfo info = gpu::gpu_info();
  std::fprintf(stderr, "bench_optim_cuda: %s; measuring the copy bandwidth...\n", info.describe().c_str());
  const double bw = gpu::d2d_copy_bandwidth(size_t(1) << 30, quick ? 5 : 25);

  std::vector<Case> cases;
  const std::vector<int64_t> totals = quick ? std::vector<int64_t>{1'000'000, 25'000'000}
                                            : std::vector<int64_t>{1'000'000, 25'000'000, 125'000'000};
  for (int64_t total : totals)
    for (const std::string& mix : kiln::bench::param_mix_names())
      cases.push_back({mix, kiln::bench::param_count_label(total), total, kiln::bench::param_mix_sizes(mix, total)});
  if (!sizes_path.empty() && !write_file(sizes_path, json_sizes(info, cases))) return 1;

  std::ostringstream md;
  md << "# kiln fused optimizer step on " << info.name << "\n\n";
  md << "GPU: " << info.describe() << ".\n\n";
  char line[512];
  std::snprintf(line, sizeof line, "Copy bandwidth: %.1f GB/s (device to device, 1 GiB, read + write, median).\n\n",
                bw / 1e9);
  md << line;
  md << "Median time per step over " << batches << " batches of >= 2 ms, rotating among `sets` parameter sets "
        "(>= 4x the L2 size between visits). GB/s counts the minimal traffic (B/param: AdamW 28, SGD-momentum 20, "
        "bf16 params with f32 master AdamW 28); `of copy bw` = that / the copy bandwidth (goal >= 85% at 125M).\n\n";
  md << "| mix | size | params | tensors | optimizer | B/param | sets | median (us) | GB/s | of copy bw |\n";
  md << "|---|---|---|---|---|---|---|---|---|---|\n";
  std::cout << md.str() << std::flush;
  std::string table = md.str();

  size_t free_b = 0, total_b = 0;
  KILN_CUDA_CHECK(cudaMemGetInfo(&free_b, &total_b));
  std::string headline;
  uint64_t seed = 100;
  auto time_case = [&](const Case& c, const Optim& o) {
    const size_t per_set = set_bytes(c.sizes, o);
    int sets = gpu::rotation_sets(int64_t(per_set), info.l2_bytes);
    // Leave room: the random blocks and the allocator's own use.
    while (sets > 1 && per_set * size_t(sets) > free_b * 8 / 10) --sets;
    ParamSets ps = make_sets(c.sizes, o, sets, seed += 1000);
    const FusedGroupArgs g = group_args(o);
    const int64_t count = int64_t(c.sizes.size());
    auto step = [&](int s) {
      kiln::cuda::fused_optim_step(g, o.param, o.grad, ps.args[size_t(s)].data(), count, nullptr, nullptr);
    };
    const gpu::Timing t = gpu::time_rotated(step, sets, batches);
    const int64_t n = kiln::bench::param_count(c.sizes);
    const double gbs = o.bytes_per_param * double(n) / t.median_s;
    std::snprintf(line, sizeof line, "| %s | %s | %lld | %zu | %s | %.0f | %d | %.1f | %.1f | %.1f%% |\n", c.mix.c_str(),
                  c.size.c_str(), (long long)n, c.sizes.size(), o.name, o.bytes_per_param, sets, t.median_s * 1e6,
                  gbs / 1e9, 100.0 * gbs / bw);
    std::cout << line << std::flush;
    table += line;
    if (c.target == 125'000'000 && &o == &kAdamW) {
      char h[128];
      std::snprintf(h, sizeof h, "%s%s %.0f%%", headline.empty() ? "" : ", ", c.mix.c_str(), 100.0 * gbs / bw);
      headline += h;
    }
  };
  for (const Case& c : cases) {
    time_case(c, kAdamW);
    time_case(c, kSgd);
  }
  for (const Case& c : cases)
    if (c.target == 125'000'000) time_case(c, kAdamWBf16);
  gpu::release_random_blocks();

  if (!headline.empty()) {
    const std::string h = "\nheadline: AdamW 125M at " + headline + " of the copy bandwidth (goal >= 85%)\n";
    std::cout << h;
    table += h;
  }
  if (!out_path.empty() && !write_file(out_path, table)) return 1;
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  return kiln::bench::gpu::bench_main(argc, argv, "bench_optim_cuda", true,
                                      [](const kiln::bench::gpu::BenchArgs& a) {
                                        return run(a.quick, a.batches, a.out_path, a.sizes_out);
                                      });
}
