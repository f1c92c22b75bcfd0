// Google Benchmark for the CPU fused optimizer steps (kernels/cpu/optim.h). Counters: bytes/s
// (the minimal traffic of one step: every buffer the kind reads once and writes once; lamb's two
// phases counted as they run) and bw_frac, that over the copy bandwidth measured in the same run.
#include <benchmark/benchmark.h>

#include <random>
#include <vector>

#include "ceiling.h"
#include "kiln/kernels/cpu/optim.h"

namespace {
using namespace kiln;
using optim_kernels::FusedGroupArgs;
using optim_kernels::FusedOptim;
using optim_kernels::FusedTensorArgs;

struct Buffers {
  std::vector<float> w, g, m, v;
  explicit Buffers(int64_t n) : w(size_t(n)), g(size_t(n)), m(size_t(n)), v(size_t(n)) {
    std::mt19937 rng(1);
    std::normal_distribution<float> nd(0.0f, 1.0f);
    for (size_t i = 0; i < w.size(); ++i) {
      w[i] = nd(rng);
      g[i] = 0.1f * nd(rng);
      m[i] = 0.01f * nd(rng);
      v[i] = 1e-3f * std::abs(nd(rng));
    }
  }
};

FusedGroupArgs make_group(FusedOptim kind) {
  FusedGroupArgs g;
  g.kind = kind;
  g.lr = 1e-3f;
  g.mom = 0.9f;
  g.sqr_mom = 0.99f;
  g.eps = 1e-5f;
  return g;
}

// Bytes per element: sgd with momentum reads w, g, m and writes w, m; adam also v; lamb's phase 1
// reads w, g, m, v and writes m, v, its phase 2 reads w, m, v and writes w.
double bytes_per_element(FusedOptim kind) {
  switch (kind) {
    case FusedOptim::sgd: return 20;
    case FusedOptim::lamb: return 40;
    default: return 28;
  }
}

// One tensor of n elements, or `parts` tensors of n / parts elements.
void run(benchmark::State& st, FusedOptim kind, int64_t parts) {
  const int64_t n = st.range(0);
  std::vector<Buffers> bufs;
  std::vector<FusedTensorArgs> args;
  for (int64_t p = 0; p < parts; ++p) bufs.emplace_back(n / parts);
  for (Buffers& b : bufs) {
    FusedTensorArgs a;
    a.param = b.w.data();
    a.grad = b.g.data();
    a.exp_avg = b.m.data();
    a.exp_avg_sq = b.v.data();
    a.n = int64_t(b.w.size());
    a.wd = 0.01f;
    a.debias1 = 0.5f;
    a.debias2 = 0.1f;
    args.push_back(a);
  }
  const FusedGroupArgs group = make_group(kind);
  for (auto _ : st) cpu::fused_optim_step(group, DType::f32, DType::f32, args.data(), int64_t(args.size()));
  const double rate = bytes_per_element(kind) * double(n / parts * parts) * double(st.iterations());
  st.counters["bytes/s"] = benchmark::Counter(rate, benchmark::Counter::kIsRate);
  st.counters["bw_frac"] = benchmark::Counter(rate / bench::copy_bandwidth(), benchmark::Counter::kIsRate);
}

void BM_SgdMom(benchmark::State& st) { run(st, FusedOptim::sgd, 1); }
void BM_Adam(benchmark::State& st) { run(st, FusedOptim::adam, 1); }
void BM_Lamb(benchmark::State& st) { run(st, FusedOptim::lamb, 1); }
void BM_Adam160Tensors(benchmark::State& st) { run(st, FusedOptim::adam, 160); }

BENCHMARK(BM_SgdMom)->Arg(1 << 20)->Arg(1 << 24)->Arg(125000000)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_Adam)->Arg(1 << 20)->Arg(1 << 24)->Arg(125000000)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_Lamb)->Arg(1 << 20)->Arg(1 << 24)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_Adam160Tensors)->Arg(11 << 20)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
