// GPU benchmark support (gpu_bench.h, Note [GPU timing]). Everything here runs on the legacy
// default stream and checks every CUDA call; errors surface as kiln::Error for main to report.
#include "gpu_bench.h"

#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <tuple>

#include "compare/side_by_side.h"
#include "kiln/kernels/cuda/check.h"
#include "kiln/kernels/cuda/device.h"
#include "kiln/kernels/error.h"

namespace kiln::bench::gpu {

using sbs::median;

namespace {

// Start/stop event pair, destroyed with the scope.
struct EventPair {
  cudaEvent_t start = nullptr, stop = nullptr;
  EventPair() {
    KILN_CUDA_CHECK(cudaEventCreate(&start));
    KILN_CUDA_CHECK(cudaEventCreate(&stop));
  }
  ~EventPair() {
    cudaEventDestroy(start);
    cudaEventDestroy(stop);
  }
  EventPair(const EventPair&) = delete;
  EventPair& operator=(const EventPair&) = delete;
  double seconds() const {
    KILN_CUDA_CHECK(cudaEventSynchronize(stop));
    float ms = 0;
    KILN_CUDA_CHECK(cudaEventElapsedTime(&ms, start, stop));
    return double(ms) * 1e-3;
  }
};

// splitmix64: a small, good-enough generator for benchmark data (not for statistics).
uint64_t next_random(uint64_t& state) {
  uint64_t z = (state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// 16M elements: large enough that tiling it over a buffer does not repeat within a tensor of the
// small mixes, small enough to make on the host in a few tens of milliseconds.
constexpr int64_t kBlockElems = int64_t(1) << 24;

struct RandomBlock {
  void* dev = nullptr;
  size_t elem_size = 0;
};
std::map<std::tuple<int, float, float>, RandomBlock>& blocks() {
  static std::map<std::tuple<int, float, float>, RandomBlock> b;
  return b;
}

const RandomBlock& random_block(DType dt, float lo, float hi) {
  auto key = std::make_tuple(int(dt), lo, hi);
  auto it = blocks().find(key);
  if (it != blocks().end()) return it->second;
  KILN_CHECK(dt == DType::f32 || dt == DType::f16 || dt == DType::bf16, "fill_random: dtype ", dtype_name(dt),
             " is not f32, f16 or bf16");
  uint64_t state = 0x5EEDull ^ (uint64_t(dt) << 32) ^ uint64_t(std::llround(double(lo) * 1e6)) ^
                   (uint64_t(std::llround(double(hi) * 1e6)) << 16);
  std::vector<float> values(kBlockElems);
  for (auto& x : values) {
    const double u = double(next_random(state) >> 11) * 0x1.0p-53;  // [0, 1)
    float v = float(lo + (hi - lo) * u);
    if (dt == DType::bf16) v = bf16_bits_to_float(float_to_bf16_bits(v));
    if (dt == DType::f16) v = half_bits_to_float(float_to_half_bits(v));
    if (v == 0.0f) v = 0.5f * (lo + hi) != 0.0f ? 0.5f * (lo + hi) : hi;  // never exactly zero
    x = v;
  }
  RandomBlock blk;
  blk.elem_size = dtype_size(dt);
  KILN_CUDA_CHECK(cudaMalloc(&blk.dev, size_t(kBlockElems) * blk.elem_size));
  if (dt == DType::f32) {
    KILN_CUDA_CHECK(cudaMemcpy(blk.dev, values.data(), values.size() * sizeof(float), cudaMemcpyHostToDevice));
  } else {
    std::vector<uint16_t> bits(values.size());
    for (size_t i = 0; i < values.size(); ++i)
      bits[i] = dt == DType::f16 ? float_to_half_bits(values[i]) : float_to_bf16_bits(values[i]);
    KILN_CUDA_CHECK(cudaMemcpy(blk.dev, bits.data(), bits.size() * sizeof(uint16_t), cudaMemcpyHostToDevice));
  }
  return blocks().emplace(key, blk).first->second;
}

}  // namespace

std::string GpuInfo::describe() const {
  char buf[256];
  std::snprintf(buf, sizeof buf, "%s (sm_%d%d, %d SMs, %.0f MB L2, %.0f GB)", name.c_str(), cc_major, cc_minor, sms,
                double(l2_bytes) / (1 << 20), double(mem_bytes) / 1e9);
  return buf;
}

GpuInfo gpu_info() {
  int dev = 0;
  KILN_CUDA_CHECK(cudaGetDevice(&dev));
  cudaDeviceProp prop{};
  KILN_CUDA_CHECK(cudaGetDeviceProperties(&prop, dev));
  GpuInfo g;
  g.name = prop.name;
  g.cc_major = prop.major;
  g.cc_minor = prop.minor;
  g.sms = prop.multiProcessorCount;
  g.l2_bytes = prop.l2CacheSize;
  g.mem_bytes = int64_t(prop.totalGlobalMem);
  return g;
}

double d2d_copy_bandwidth(size_t bytes, int repeats) {
  KILN_CHECK(bytes >= 4 && repeats >= 1, "d2d_copy_bandwidth: bytes ", bytes, ", repeats ", repeats);
  DeviceArena arena(2 * DeviceArena::aligned(bytes));
  void* src = arena.take(bytes);
  void* dst = arena.take(bytes);
  fill_random(src, int64_t(bytes / 4), DType::f32, -1.0f, 1.0f, 1);
  fill_random(dst, int64_t(bytes / 4), DType::f32, -1.0f, 1.0f, 2);
  EventPair ev;
  for (int i = 0; i < 3; ++i) KILN_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, nullptr));
  KILN_CUDA_CHECK(cudaDeviceSynchronize());
  std::vector<double> t;
  for (int r = 0; r < repeats; ++r) {
    KILN_CUDA_CHECK(cudaEventRecord(ev.start, nullptr));
    KILN_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, nullptr));
    KILN_CUDA_CHECK(cudaEventRecord(ev.stop, nullptr));
    t.push_back(ev.seconds());
  }
  return 2.0 * double(bytes) / median(t);
}

int rotation_sets(int64_t bytes_per_set, int64_t l2_bytes) {
  KILN_CHECK(bytes_per_set > 0, "rotation_sets: bytes_per_set ", bytes_per_set);
  const int64_t need = 4 * std::max<int64_t>(l2_bytes, 0);
  const int64_t sets = (need + bytes_per_set - 1) / bytes_per_set;
  return int(std::clamp<int64_t>(sets, 1, 64));
}

DeviceArena::DeviceArena(size_t bytes) : size_(bytes) {
  if (bytes) KILN_CUDA_CHECK(cudaMalloc(reinterpret_cast<void**>(&base_), bytes));
}

DeviceArena::~DeviceArena() {
  if (base_) cudaFree(base_);
}

void* DeviceArena::take(size_t bytes) {
  const size_t need = aligned(bytes);
  KILN_CHECK(used_ + need <= size_, "DeviceArena: ", need, " bytes asked, ", size_ - used_, " of ", size_, " left");
  void* p = base_ + used_;
  used_ += need;
  return p;
}

void fill_random(void* dst, int64_t n, DType dt, float lo, float hi, uint64_t seed) {
  KILN_CHECK(n >= 0 && lo < hi, "fill_random: n ", n, ", range [", lo, ", ", hi, ")");
  if (n == 0) return;
  const RandomBlock& blk = random_block(dt, lo, hi);
  uint64_t state = seed * 0x2545F4914F6CDD1Dull + 1;
  int64_t off = int64_t(next_random(state) % uint64_t(kBlockElems));
  char* out = static_cast<char*>(dst);
  for (int64_t done = 0; done < n;) {
    const int64_t len = std::min(n - done, kBlockElems - off);
    KILN_CUDA_CHECK(cudaMemcpyAsync(out + done * blk.elem_size, static_cast<const char*>(blk.dev) + off * blk.elem_size,
                                    size_t(len) * blk.elem_size, cudaMemcpyDeviceToDevice, nullptr));
    done += len;
    off = 0;
  }
}

void release_random_blocks() {
  cudaDeviceSynchronize();
  for (auto& [key, blk] : blocks()) cudaFree(blk.dev);
  blocks().clear();
}

Timing time_rotated(const std::function<void(int set)>& call, int sets, int batches) {
  KILN_CHECK(sets >= 1 && batches >= 1, "time_rotated: sets ", sets, ", batches ", batches);
  int64_t i = 0;
  // Warm-up: lazy module loading, first-touch effects, one full rotation at least.
  for (const int64_t warm = std::max(20, sets); i < warm; ++i) call(int(i % sets));
  KILN_CUDA_CHECK(cudaDeviceSynchronize());

  EventPair ev;
  // Calibrate: how many calls make a batch of >= 2 ms (Note [GPU timing]).
  const int probe = std::max(sets, 5);
  KILN_CUDA_CHECK(cudaEventRecord(ev.start, nullptr));
  for (int c = 0; c < probe; ++c, ++i) call(int(i % sets));
  KILN_CUDA_CHECK(cudaEventRecord(ev.stop, nullptr));
  const double per_call = std::max(ev.seconds() / probe, 1e-9);
  const int calls = int(std::clamp(std::ceil(2e-3 / per_call), 1.0, 1e5));

  std::vector<double> t;
  for (int b = 0; b < batches; ++b) {
    KILN_CUDA_CHECK(cudaEventRecord(ev.start, nullptr));
    for (int c = 0; c < calls; ++c, ++i) call(int(i % sets));
    KILN_CUDA_CHECK(cudaEventRecord(ev.stop, nullptr));
    t.push_back(ev.seconds() / calls);
  }
  Timing r;
  r.median_s = median(t);
  r.min_s = *std::min_element(t.begin(), t.end());
  r.max_s = *std::max_element(t.begin(), t.end());
  r.sets = sets;
  r.batches = batches;
  r.calls_per_batch = calls;
  return r;
}

int bench_main(int argc, char** argv, const char* program, bool with_sizes_out,
               const std::function<int(const BenchArgs&)>& run) {
  BenchArgs args;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--quick") args.quick = true;
    else if (a == "--batches" && i + 1 < argc) args.batches = std::max(1, std::atoi(argv[++i]));
    else if (a == "--out" && i + 1 < argc) args.out_path = argv[++i];
    else if (with_sizes_out && a == "--sizes-out" && i + 1 < argc) args.sizes_out = argv[++i];
    else {
      std::fprintf(stderr, "usage: %s [--quick] [--batches N] [--out FILE.md]%s\n", program,
                   with_sizes_out ? " [--sizes-out FILE.json]" : "");
      return a == "--help" || a == "-h" ? 0 : 2;
    }
  }
  if (args.batches == 0) args.batches = args.quick ? 10 : 50;
  std::string why;
  if (!kiln::cuda::device_usable(&why)) {
    std::printf("no usable GPU: %s\n", why.c_str());
    return 0;
  }
  try {
    return run(args);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: %s\n", program, e.what());
    return 1;
  }
}

}  // namespace kiln::bench::gpu
