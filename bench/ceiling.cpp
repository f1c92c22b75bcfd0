#include "ceiling.h"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "kiln/kernels/cpu/isa.h"
#include "kiln/kernels/cpu/parallel.h"

namespace kiln::bench {
double fma_loop_avx512(long iters);  // ceiling_fma.cpp
double fma_loop_avx2(long iters);
double fma_loop_sse(long iters);

namespace {
double now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

double fma_peak(int threads) {
  cpu::Isa isa = cpu::detected_isa();
  auto loop = isa == cpu::Isa::avx512 ? fma_loop_avx512 : isa == cpu::Isa::avx2 ? fma_loop_avx2 : fma_loop_sse;
  const long iters = 20'000'000;
  double best = 0;
  for (int rep = 0; rep < 3; ++rep) {
    std::vector<double> flops(static_cast<size_t>(threads));
    std::vector<std::thread> ts;
    double t0 = now();
    for (int t = 0; t < threads; ++t) ts.emplace_back([&, t] { flops[size_t(t)] = loop(iters); });
    for (auto& th : ts) th.join();
    double dt = now() - t0;
    double total = 0;
    for (double f : flops) total += f;
    best = std::max(best, total / dt);
  }
  return best;
}
}  // namespace

double copy_bandwidth() {
  static double cached = [] {
    const size_t n = size_t(256) << 20;  // 256 MiB each way
    char* src = static_cast<char*>(std::aligned_alloc(64, n));
    char* dst = static_cast<char*>(std::aligned_alloc(64, n));
    std::memset(src, 1, n);
    std::memset(dst, 2, n);
    double best = 0;
    for (int rep = 0; rep < 5; ++rep) {
      double t0 = now();
      cpu::parallel_for(0, int64_t(n), 1 << 20, [&](int64_t b, int64_t e) {
        std::memcpy(dst + b, src + b, size_t(e - b));
      });
      double dt = now() - t0;
      best = std::max(best, 2.0 * double(n) / dt);
    }
    std::free(src);
    std::free(dst);
    return best;
  }();
  return cached;
}

double update_bandwidth() {
  static double cached = [] {
    const size_t n = size_t(64) << 20;  // 64 Mi floats (256 MiB) per buffer
    float* a = static_cast<float*>(std::aligned_alloc(64, n * sizeof(float)));
    float* b = static_cast<float*>(std::aligned_alloc(64, n * sizeof(float)));
    for (size_t i = 0; i < n; ++i) {
      a[i] = float(i % 7);
      b[i] = 1e-3f * float(i % 5);
    }
    double best = 0;
    for (int rep = 0; rep < 5; ++rep) {
      double t0 = now();
      cpu::parallel_for(0, int64_t(n), 1 << 18, [&](int64_t lo, int64_t hi) {
        for (int64_t i = lo; i < hi; ++i) a[i] += b[i];
      });
      double dt = now() - t0;
      best = std::max(best, 12.0 * double(n) / dt);
    }
    volatile float sink = a[n / 2];
    (void)sink;
    std::free(a);
    std::free(b);
    return best;
  }();
  return cached;
}

double fma_peak_f32() {
  static double cached = fma_peak(cpu::num_threads());
  return cached;
}
double fma_peak_f32_single_thread() {
  static double cached = fma_peak(1);
  return cached;
}

const char* machine_description() {
  static std::string desc = [] {
    std::string model = "unknown CPU";
    std::ifstream f("/proc/cpuinfo");
    std::string line;
    while (std::getline(f, line))
      if (line.rfind("model name", 0) == 0) {
        model = line.substr(line.find(':') + 2);
        break;
      }
    return model + ", " + std::to_string(cpu::num_threads()) + " threads, ISA " + cpu::isa_name(cpu::detected_isa());
  }();
  return desc.c_str();
}

}  // namespace kiln::bench
