#pragma once
// Support for GPU benchmarks (DESIGN.md section 7): the device's description, the device-to-device
// copy bandwidth measured in the same run as the ceiling, device memory filled with random data,
// and event timing with rotation among parameter sets. Plain C++ over the CUDA runtime; only
// built when kiln has CUDA. Every CUDA call goes through KILN_CUDA_CHECK (kiln::Error on failure).
//
// Note [GPU timing]
// One timed "call" runs the measured operation once on parameter set i % sets (i counts calls
// across the whole case, so consecutive calls touch different sets). The number of sets is
//   sets = clamp(ceil(4 * L2 bytes / bytes one set occupies), 1, 64)
// so that between two visits to the same set at least four times the L2 size has streamed
// through the cache, and the figures are main-memory figures, not L2 ones. After warm-up calls
// (at least one full rotation and at least 20 calls), calls are batched so one batch runs at least
// 2 ms of GPU time (CUDA events around the batch, time / calls); the median over the batches is
// the figure. bench/gpu/torch_optim.py applies the same rule to PyTorch.
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>

#include "kiln/kernels/dtype.h"

namespace kiln::bench::gpu {

struct GpuInfo {
  std::string name;      // "NVIDIA H100 80GB HBM3"
  int cc_major = 0, cc_minor = 0;
  int sms = 0;
  int64_t l2_bytes = 0;
  int64_t mem_bytes = 0;
  std::string describe() const;  // "NVIDIA H100 80GB HBM3 (sm_90, 132 SMs, 50 MB L2, 80 GB)"
};

// Device 0 (the current device), read with cudaGetDeviceProperties.
GpuInfo gpu_info();

// Device-to-device copy bandwidth in bytes/s counting bytes read + bytes written: cudaMemcpyAsync
// of `bytes` between two fresh buffers, timed with events, median of `repeats` after warm-up.
double d2d_copy_bandwidth(size_t bytes = size_t(1) << 30, int repeats = 25);

// Number of parameter sets to rotate among (Note [GPU timing]).
int rotation_sets(int64_t bytes_per_set, int64_t l2_bytes);

// One cudaMalloc cut into pieces, each aligned to 256 bytes (as separate allocations would be).
class DeviceArena {
 public:
  explicit DeviceArena(size_t bytes);
  ~DeviceArena();
  DeviceArena(const DeviceArena&) = delete;
  DeviceArena& operator=(const DeviceArena&) = delete;
  void* take(size_t bytes);  // throws kiln::Error when the arena is exhausted
  static size_t aligned(size_t bytes) { return (bytes + 255) / 256 * 256; }

 private:
  char* base_ = nullptr;
  size_t size_ = 0, used_ = 0;
};

// Fills n elements of dtype dt (f32, f16 or bf16) at dst with uniform random values in [lo, hi),
// never exactly zero. The values come from a host-made random block, uploaded once per
// (dtype, lo, hi) and copied device to device from a position chosen by `seed`, so filling GBs
// stays fast while neighbouring tensors get different data.
void fill_random(void* dst, int64_t n, DType dt, float lo, float hi, uint64_t seed);
// Frees the uploaded random blocks.
void release_random_blocks();

struct Timing {
  double median_s = 0;  // per call
  double min_s = 0, max_s = 0;
  int sets = 0, batches = 0, calls_per_batch = 0;
};

// Times call(set) per Note [GPU timing]. `call` enqueues work on the legacy default stream.
Timing time_rotated(const std::function<void(int set)>& call, int sets, int batches);

// The command line every GPU benchmark takes: --quick, --batches N (default 10 quick / 50),
// --out FILE.md and, when the program names it, --sizes-out FILE.json.
struct BenchArgs {
  bool quick = false;
  int batches = 0;
  std::string out_path, sizes_out;
};
// Parses argv (usage on stderr: exit 0 for --help, 2 otherwise), prints "no usable GPU: <why>" and
// returns 0 without a GPU, else returns run(args); an exception becomes a message and exit code 1.
int bench_main(int argc, char** argv, const char* program, bool with_sizes_out,
               const std::function<int(const BenchArgs&)>& run);

}  // namespace kiln::bench::gpu
