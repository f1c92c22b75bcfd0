// Google Benchmark for the tensor layer's CPU ops (DESIGN.md section 7). Counters: FLOP/s or
// bytes/s, and the fraction of the ceiling measured at start-up in the same run ("peak_frac":
// FLOP/s over the f32 FMA peak; "bw_frac": minimal bytes/s over the copy bandwidth).
// Side-by-side figures against LibTorch come from bench/compare/compare_libtorch.
#include <benchmark/benchmark.h>

#include "ceiling.h"
#include "kiln/kernels/cpu/parallel.h"
#include "kiln/tensor/ops.h"

namespace {
using namespace kiln;

void set_flops(benchmark::State& st, double flops_per_iter) {
  double rate = flops_per_iter * double(st.iterations());
  st.counters["FLOP/s"] = benchmark::Counter(rate, benchmark::Counter::kIsRate);
  st.counters["peak_frac"] =
      benchmark::Counter(rate / bench::fma_peak_f32(), benchmark::Counter::kIsRate);
}
void set_bytes(benchmark::State& st, double bytes_per_iter) {
  double rate = bytes_per_iter * double(st.iterations());
  st.counters["bytes/s"] = benchmark::Counter(rate, benchmark::Counter::kIsRate);
  st.counters["bw_frac"] = benchmark::Counter(rate / bench::copy_bandwidth(), benchmark::Counter::kIsRate);
}

void BM_Gemm(benchmark::State& st) {
  int64_t n = st.range(0);
  Generator g(1);
  Tensor a = randn({n, n}, DType::f32, &g), b = randn({n, n}, DType::f32, &g);
  for (auto _ : st) benchmark::DoNotOptimize(mm(a, b));
  set_flops(st, 2.0 * double(n) * double(n) * double(n));
}
BENCHMARK(BM_Gemm)->Arg(256)->Arg(512)->Arg(1024)->Arg(2048)->Unit(benchmark::kMillisecond)->UseRealTime();

// conv2d forward + backward data + backward weight + bias on typical CNN layers (batch 8).
void BM_Conv2dFwdBwd(benchmark::State& st) {
  int64_t C = st.range(0), H = st.range(1), O = st.range(2), k = st.range(3), s = st.range(4), B = 8;
  int64_t p = k / 2;
  Generator g(2);
  Tensor x = randn({B, C, H, H}, DType::f32, &g), w = randn({O, C, k, k}, DType::f32, &g),
         bias = randn({O}, DType::f32, &g);
  int64_t oh = (H + 2 * p - k) / s + 1;
  Tensor dy = randn({B, O, oh, oh}, DType::f32, &g);
  for (auto _ : st) {
    benchmark::DoNotOptimize(conv2d(x, w, bias, s, p));
    benchmark::DoNotOptimize(conv2d_backward_data(dy, w, x.shape(), s, p));
    benchmark::DoNotOptimize(conv2d_backward_weight(dy, x, w.shape(), s, p));
    benchmark::DoNotOptimize(conv2d_backward_bias(dy));
  }
  set_flops(st, 3 * 2.0 * double(B * O * oh * oh * C * k * k));
}
BENCHMARK(BM_Conv2dFwdBwd)
    ->Args({3, 224, 64, 7, 2})
    ->Args({64, 56, 64, 3, 1})
    ->Args({128, 28, 128, 3, 1})
    ->Args({256, 14, 256, 3, 1})
    ->Args({256, 14, 1024, 1, 1})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

void BM_Add(benchmark::State& st) {
  int64_t n = st.range(0);
  Generator g(3);
  Tensor a = randn({n}, DType::f32, &g), b = randn({n}, DType::f32, &g);
  for (auto _ : st) benchmark::DoNotOptimize(add(a, b));
  set_bytes(st, 12.0 * double(n));
}
void BM_Exp(benchmark::State& st) {
  int64_t n = st.range(0);
  Generator g(4);
  Tensor a = randn({n}, DType::f32, &g);
  for (auto _ : st) benchmark::DoNotOptimize(exp(a));
  set_bytes(st, 8.0 * double(n));
}
void BM_Gelu(benchmark::State& st) {
  int64_t n = st.range(0);
  Generator g(5);
  Tensor a = randn({n}, DType::f32, &g);
  for (auto _ : st) benchmark::DoNotOptimize(gelu(a));
  set_bytes(st, 8.0 * double(n));
}
void BM_Sum(benchmark::State& st) {
  int64_t n = st.range(0);
  Generator g(6);
  Tensor a = randn({n}, DType::f32, &g);
  for (auto _ : st) benchmark::DoNotOptimize(sum(a));
  set_bytes(st, 4.0 * double(n));
}
void BM_MeanLastDim(benchmark::State& st) {
  int64_t n = st.range(0), cols = n >= 1024 ? 1024 : n;
  Generator g(7);
  Tensor a = randn({n / cols, cols}, DType::f32, &g);
  for (auto _ : st) benchmark::DoNotOptimize(mean(a, {1}));
  set_bytes(st, 4.0 * double(n));
}
void BM_Softmax(benchmark::State& st) {
  int64_t n = st.range(0), cols = n >= 1024 ? 1024 : n;
  Generator g(8);
  Tensor a = randn({n / cols, cols}, DType::f32, &g);
  for (auto _ : st) benchmark::DoNotOptimize(softmax(a, 1));
  set_bytes(st, 8.0 * double(n));
}
#define KILN_SIZES ->RangeMultiplier(64)->Range(1 << 10, 1 << 26)->UseRealTime()
BENCHMARK(BM_Add) KILN_SIZES;
BENCHMARK(BM_Exp) KILN_SIZES;
BENCHMARK(BM_Gelu) KILN_SIZES;
BENCHMARK(BM_Sum) KILN_SIZES;
BENCHMARK(BM_MeanLastDim) KILN_SIZES;
BENCHMARK(BM_Softmax)->RangeMultiplier(64)->Range(1 << 10, 1 << 22)->UseRealTime();

// Per-op overhead on tiny tensors (time per call is the figure).
void BM_TinyAdd(benchmark::State& st) {
  Tensor a = ones({st.range(0)}), b = ones({st.range(0)});
  for (auto _ : st) benchmark::DoNotOptimize(add(a, b));
}
void BM_TinySum(benchmark::State& st) {
  Tensor a = ones({st.range(0)});
  for (auto _ : st) benchmark::DoNotOptimize(sum(a));
}
BENCHMARK(BM_TinyAdd)->Arg(1)->Arg(4)->Arg(16);
BENCHMARK(BM_TinySum)->Arg(1)->Arg(4)->Arg(16);

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  benchmark::AddCustomContext("machine", kiln::bench::machine_description());
  benchmark::AddCustomContext("copy_bandwidth_GBps", std::to_string(kiln::bench::copy_bandwidth() / 1e9));
  benchmark::AddCustomContext("fma_peak_f32_GFLOPs", std::to_string(kiln::bench::fma_peak_f32() / 1e9));
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
