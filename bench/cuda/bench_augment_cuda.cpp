// GPU benchmark of kiln's fused batch augmentation kernel (kernels/cuda/augment.h) against the
// device's own ceiling, at the batch shapes 256x3x224x224 and 1024x3x32x32: u8 NHWC in,
// fastai's default aug_transforms with ImageNet normalisation, f32 NCHW out at the input size (the
// same work as bench/compare/compare_augment.cpp on the CPU and bench/augment/torch_augment.py).
//
// Two figures per shape, both the median time per call (Note [GPU timing] in gpu_bench.h):
//   per batch:   draw_params on the host (fresh draws every call) + the kernel call (which resolves
//                every sample's record on the host and uploads it) - what a training loop pays;
//   kernel only: the same call with parameters drawn once per rotation set.
// images/s = B / time; `of floor` = (B*H*W*C u8 bytes read + B*C*H*W*4 f32 bytes written) / time
// / the device-to-device copy bandwidth measured in the same run. Goals (stated by the combined
// table, bench/augment/combine_augment.py): >= 70% of the floor at 224x224 and >= 5x PyTorch.
//
//   bench_augment_cuda [--quick] [--batches N] [--out FILE.md]
//
// Without a usable GPU it prints one line "no usable GPU: <why>" and exits 0 (a skip, not a failure).
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <fstream>
#include <iostream>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include <cuda_runtime.h>

#include "gpu_bench.h"
#include "kiln/data/augment.h"
#include "kiln/kernels/cuda/augment.h"
#include "kiln/kernels/cuda/check.h"

namespace {

namespace gpu = kiln::bench::gpu;

struct Shape4 {
  int64_t B, C, H, W;
  std::string name() const {
    return std::to_string(B) + "x" + std::to_string(C) + "x" + std::to_string(H) + "x" + std::to_string(W);
  }
  int64_t pixels() const { return B * C * H * W; }           // elements per batch, in and out
  double floor_bytes() const { return double(pixels()) * 5; }  // u8 in + f32 out
};

// One rotation set: input, output and workspace of one call, and its once-drawn parameters.
struct Set {
  void *in = nullptr, *out = nullptr, *ws = nullptr;
  std::vector<kiln::AugSampleParams> params;
};

bool write_file(const std::string& path, const std::string& text) {
  std::ofstream f(path);
  f << text;
  f.close();
  if (!f.good()) std::fprintf(stderr, "bench_augment_cuda: cannot write %s\n", path.c_str());
  return f.good();
}

int run(bool quick, int batches, const std::string& out_path) {
  const gpu::GpuInfo info = gpu::gpu_info();
  std::fprintf(stderr, "bench_augment_cuda: %s; measuring the copy bandwidth...\n", info.describe().c_str());
  const double bw = gpu::d2d_copy_bandwidth(size_t(1) << 30, quick ? 5 : 25);

  const std::vector<float> mean = {0.485f, 0.456f, 0.406f}, stdv = {0.229f, 0.224f, 0.225f};
  const kiln::data::AugConfig cfg = kiln::data::aug_transforms({.mean = mean, .std = stdv});

  std::ostringstream md;
  char line[512];
  md << "# kiln fused augmentation on " << info.name << "\n\n";
  md << "GPU: " << info.describe() << ".\n\n";
  std::snprintf(line, sizeof line, "Copy bandwidth: %.1f GB/s (device to device, 1 GiB, read + write, median).\n\n",
                bw / 1e9);
  md << line;
  md << "u8 NHWC in, fastai's default aug_transforms (flip, rotate 10, zoom 1.1, warp 0.2, lighting 0.2) with ImageNet "
        "normalisation, f32 NCHW out at the input size. Median time per call over " << batches << " batches of >= 2 ms, "
        "rotating among `sets` input/output sets (>= 4x the L2 size between visits). `kiln` = draw_params on the host "
        "every call + the kernel call; `kernel only` = parameters drawn once per set. `of floor` = (u8 bytes in + f32 "
        "bytes out) / time / copy bandwidth.\n\n";
  md << "| shape | sets | kiln (us) | kiln images/s | kiln of floor | kernel only (us) | kernel only of floor |\n";
  md << "|---|---|---|---|---|---|---|\n";
  std::cout << md.str() << std::flush;
  std::string table = md.str(), headline;

  size_t free_b = 0, total_b = 0;
  KILN_CUDA_CHECK(cudaMemGetInfo(&free_b, &total_b));
  for (const Shape4 s : {Shape4{256, 3, 224, 224}, Shape4{1024, 3, 32, 32}}) {
    kiln::AugImageArgs a;
    a.B = s.B, a.C = s.C, a.H = s.H, a.W = s.W, a.OH = s.H, a.OW = s.W;
    a.in_dtype = kiln::DType::u8, a.in_layout = kiln::AugLayout::nhwc;
    a.out_dtype = kiln::DType::f32, a.out_layout = kiln::AugLayout::nchw;
    a.interp = cfg.mode, a.padding = cfg.pad_mode, a.align_corners = cfg.align_corners;
    a.normalize = true;
    for (int c = 0; c < 3; ++c) a.mean[c] = mean[size_t(c)], a.std[c] = stdv[size_t(c)];

    const size_t in_bytes = size_t(s.pixels()), out_bytes = size_t(s.pixels()) * 4;
    const size_t ws_bytes = kiln::cuda::augment_workspace_size(s.B);
    const size_t per_set = gpu::DeviceArena::aligned(in_bytes) + gpu::DeviceArena::aligned(out_bytes) +
                           gpu::DeviceArena::aligned(ws_bytes);
    int sets = gpu::rotation_sets(int64_t(in_bytes + out_bytes), info.l2_bytes);
    while (sets > 1 && per_set * size_t(sets) > free_b * 8 / 10) --sets;
    gpu::DeviceArena arena(per_set * size_t(sets));

    // Random pixels (one host batch, uploaded to every set from a different starting sample).
    std::vector<uint8_t> host(in_bytes);
    std::mt19937_64 rng(7);
    for (auto& p : host) p = uint8_t(rng() >> 56);
    std::vector<Set> slots(static_cast<size_t>(sets));
    const size_t sample_bytes = in_bytes / size_t(s.B);
    for (int k = 0; k < sets; ++k) {
      Set& st = slots[size_t(k)];
      st.in = arena.take(in_bytes);
      st.out = arena.take(out_bytes);
      st.ws = arena.take(ws_bytes);
      const size_t shift = (size_t(k) % size_t(s.B)) * sample_bytes;
      KILN_CUDA_CHECK(cudaMemcpy(st.in, host.data() + shift, in_bytes - shift, cudaMemcpyHostToDevice));
      if (shift > 0)
        KILN_CUDA_CHECK(cudaMemcpy(static_cast<char*>(st.in) + (in_bytes - shift), host.data(), shift,
                                   cudaMemcpyHostToDevice));
      st.params = kiln::data::draw_params(cfg, s.H, s.W, /*seed=*/1, /*epoch=*/uint64_t(k), 0, s.B);
    }
    KILN_CUDA_CHECK(cudaDeviceSynchronize());

    uint64_t epoch = 1000;
    auto per_batch = [&](int k) {
      Set& st = slots[size_t(k)];
      const auto params = kiln::data::draw_params(cfg, s.H, s.W, /*seed=*/1, epoch++, 0, s.B);
      kiln::cuda::augment_images(a, params.data(), st.in, st.out, st.ws, ws_bytes, nullptr);
    };
    auto kernel_only = [&](int k) {
      Set& st = slots[size_t(k)];
      kiln::cuda::augment_images(a, st.params.data(), st.in, st.out, st.ws, ws_bytes, nullptr);
    };
    const gpu::Timing tb = gpu::time_rotated(per_batch, sets, batches);
    const gpu::Timing tk = gpu::time_rotated(kernel_only, sets, batches);
    KILN_CUDA_CHECK(cudaDeviceSynchronize());

    const double fb = 100 * s.floor_bytes() / tb.median_s / bw, fk = 100 * s.floor_bytes() / tk.median_s / bw;
    const double ips = double(s.B) / tb.median_s;
    std::snprintf(line, sizeof line, "| %s | %d | %.1f | %.0f | %.1f%% | %.1f | %.1f%% |\n", s.name().c_str(), sets,
                  tb.median_s * 1e6, ips, fb, tk.median_s * 1e6, fk);
    std::cout << line << std::flush;
    table += line;
    char h[160];
    std::snprintf(h, sizeof h, "%s%s %.0f img/s %.0f%% of floor", headline.empty() ? "" : ", ", s.name().c_str(), ips,
                  fb);
    headline += h;
  }
  gpu::release_random_blocks();
  const std::string h = "\nheadline: " + headline + " (goal >= 70% at 224x224)\n";
  std::cout << h;
  table += h;
  if (!out_path.empty() && !write_file(out_path, table)) return 1;
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  return kiln::bench::gpu::bench_main(argc, argv, "bench_augment_cuda", false,
                                      [](const kiln::bench::gpu::BenchArgs& a) { return run(a.quick, a.batches, a.out_path); });
}
