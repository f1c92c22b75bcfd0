// Side-by-side batch augmentation on the CPU: kiln's fused data::augment (one pass) against a
// fastai-style pipeline written here in LibTorch C++ (Debian's libtorch-dev), interleaved in one
// process (DESIGN.md section 7). Both take a u8 NHWC batch, as decoded, and return the augmented,
// normalised f32 NCHW batch at the input size; both draw fresh per-sample random parameters in
// every call.
//
//   kiln:     draw_params(aug_transforms defaults) + augment (flip, rotate, zoom, perspective
//             warp, brightness, contrast, normalisation: one pass over the output)
//   LibTorch: u8 NHWC -> f32 NCHW / 255 -> per-sample 2x3 matrices (flip @ rotate @ zoom, fastai's
//             draws and probabilities) -> affine_grid -> grid_sample (bilinear, reflection,
//             align_corners) -> logit -> + logit(brightness) -> * contrast -> sigmoid -> normalise
//
// kiln also applies fastai's perspective warp (max_warp = 0.2), which the LibTorch pipeline leaves
// out (fastai runs it as a second coordinate pass); kiln does strictly more work per pixel.
//
// Reported per batch shape: median time per call, images/s, ratio = LibTorch time / kiln time, and
// each side's bytes per second over the copy bandwidth measured in the same run, where the bytes
// are the floor of any implementation: B*H*W*C u8 read + B*C*H*W*4 f32 written.
//
//   compare_augment [--rounds N] [--threads N] [--quick] [--out FILE.md]
#include <torch/torch.h>

#include <cmath>
#include <cstdio>
#include <iostream>
#include <random>
#include <sstream>
#include <string>

#include "ceiling.h"
#include "kiln/data/augment.h"
#include "kiln/kernels/cpu/parallel.h"
#include "kiln/tensor/ops.h"
#include "side_by_side.h"

namespace {

using namespace kiln::bench::sbs;

const std::vector<float> kMean = {0.485f, 0.456f, 0.406f}, kStd = {0.229f, 0.224f, 0.225f};

// The fastai-style pipeline over LibTorch tensor ops, with fastai's default knobs.
struct TorchAug {
  float max_rotate = 10, min_zoom = 1, max_zoom = 1.1f, max_lighting = 0.2f, p_affine = 0.75f, p_lighting = 0.75f;
  at::Tensor mean, std;

  TorchAug() {
    mean = torch::tensor(std::vector<float>(kMean)).view({1, 3, 1, 1});
    std = torch::tensor(std::vector<float>(kStd)).view({1, 3, 1, 1});
  }

  // Uniform in [lo, hi) where a Bernoulli(p) draw says so, else `neutral`, one per sample.
  static at::Tensor masked_uniform(int64_t B, float lo, float hi, float p, float neutral) {
    at::Tensor v = torch::rand({B}) * (hi - lo) + lo;
    return torch::where(torch::rand({B}) < p, v, torch::full({B}, neutral));
  }

  at::Tensor operator()(const at::Tensor& x_u8) const {
    torch::NoGradGuard no_grad;
    const int64_t B = x_u8.size(0), H = x_u8.size(1), W = x_u8.size(2), C = x_u8.size(3);
    at::Tensor x = x_u8.permute({0, 3, 1, 2}).contiguous().to(torch::kFloat32).div_(255);
    // Per-sample geometry: flip (p = 0.5), rotate (p_affine), zoom with a random centre (p_affine).
    at::Tensor flip = torch::where(torch::rand({B}) < 0.5, torch::full({B}, -1.0f), torch::full({B}, 1.0f));
    at::Tensor angle = masked_uniform(B, -max_rotate, max_rotate, p_affine, 0) * float(M_PI / 180);
    at::Tensor s = 1 / masked_uniform(B, min_zoom, max_zoom, p_affine, 1);
    at::Tensor cx = (1 - s) * (2 * torch::rand({B}) - 1), cy = (1 - s) * (2 * torch::rand({B}) - 1);
    at::Tensor zero = torch::zeros({B}), one = torch::ones({B});
    auto mat = [&](std::initializer_list<at::Tensor> e) { return torch::stack(std::vector<at::Tensor>(e), 1).view({B, 3, 3}); };
    at::Tensor cos = torch::cos(angle), sin = torch::sin(angle);
    at::Tensor theta = mat({flip, zero, zero, zero, one, zero, zero, zero, one})
                           .bmm(mat({cos, -sin, zero, sin, cos, zero, zero, zero, one}))
                           .bmm(mat({s, zero, cx, zero, s, cy, zero, zero, one}))
                           .narrow(1, 0, 2);
    at::Tensor grid = at::affine_grid_generator(theta, {B, C, H, W}, /*align_corners=*/true);
    at::Tensor y = at::grid_sampler(x, grid, /*bilinear*/ 0, /*reflection*/ 2, /*align_corners=*/true);
    // Lighting in logit space (fastai's LightingTfm with Brightness then Contrast).
    at::Tensor bright = masked_uniform(B, 0.5f * (1 - max_lighting), 0.5f * (1 + max_lighting), p_lighting, 0.5f);
    const float lc = std::log(1 - max_lighting);
    at::Tensor contrast = torch::exp(masked_uniform(B, lc, -lc, p_lighting, 0));
    y.clamp_(1e-7, 1 - 1e-7);
    y = (y / (1 - y)).log_();
    y.add_(torch::log(bright / (1 - bright)).view({B, 1, 1, 1})).mul_(contrast.view({B, 1, 1, 1}));
    y.sigmoid_();
    return y.sub_(mean).div_(std);
  }
};

std::string fmt_rate(double per_s) {
  char b[32];
  std::snprintf(b, sizeof b, per_s >= 100 ? "%.0f" : "%.1f", per_s);
  return b;
}

}  // namespace

int main(int argc, char** argv) {
  CommonOptions opts;
  if (!parse_common_options(argc, argv, "compare_augment", opts)) return 2;
  const std::string& out_path = opts.out_path;
  const int rounds = opts.rounds;
  const bool quick = opts.quick;
  const int threads = kiln::cpu::num_threads();
  at::set_num_threads(threads);
  torch::manual_seed(1);
  std::fprintf(stderr, "measuring the copy bandwidth...\n");
  const double bw = kiln::bench::copy_bandwidth();

  std::ostringstream md;
  char line[512];
  md << "# kiln vs LibTorch " << TORCH_VERSION << ": batch augmentation (CPU)\n\n";
  md << "Machine: " << kiln::bench::machine_description() << "; both libraries use " << threads << " threads.\n\n";
  std::snprintf(line, sizeof line, "Copy bandwidth: %.1f GB/s (memcpy, read + write, measured in this run).\n\n",
                bw / 1e9);
  md << line;
  md << "Pipeline: u8 NHWC in, fastai's default aug_transforms (flip, rotate 10, zoom 1.1, lighting 0.2; kiln also "
        "warp 0.2) with ImageNet normalisation, f32 NCHW out at the input size, fresh per-sample draws in every call. "
        "kiln / LibTorch = LibTorch time / kiln time (> 1: kiln is faster), median of " << rounds << " interleaved rounds; "
        "`of floor` = (u8 bytes in + f32 bytes out) / time / copy bandwidth.\n\n";
  md << "| shape | kiln | LibTorch | kiln / LibTorch | goal | kiln images/s | LibTorch images/s | kiln of floor | LibTorch of floor |\n";
  md << "|---|---|---|---|---|---|---|---|---|\n";
  Table table(md.str());

  struct Shape4 {
    int64_t B, C, H, W;
  };
  std::vector<Shape4> shapes = {{256, 3, 224, 224}, {1024, 3, 32, 32}};
  if (quick) shapes = {{32, 3, 224, 224}, {256, 3, 32, 32}};
  const TorchAug torch_aug;
  const kiln::data::AugConfig cfg = kiln::data::aug_transforms({.mean = kMean, .std = kStd});
  for (const Shape4& s : shapes) {
    // The same random u8 batch on both sides.
    std::vector<uint8_t> pixels(size_t(s.B * s.H * s.W * s.C));
    std::mt19937_64 rng(7);
    for (auto& p : pixels) p = uint8_t(rng() >> 56);
    const kiln::Tensor xk = kiln::from_vector(pixels, {s.B, s.H, s.W, s.C});
    const at::Tensor xt = torch::from_blob(pixels.data(), {s.B, s.H, s.W, s.C}, torch::kUInt8).clone();
    uint64_t epoch = 0;
    auto kiln_call = [&, s] {
      const auto params = kiln::data::draw_params(cfg, s.H, s.W, /*seed=*/1, epoch++, 0, s.B);
      kiln::data::AugBatch out = kiln::data::augment(xk, cfg, params);
    };
    auto torch_call = [&] { at::Tensor y = torch_aug(xt); };
    const double bytes = double(s.B * s.C * s.H * s.W) * (1 + 4);
    char name[64];
    std::snprintf(name, sizeof name, "%lldx%lldx%lldx%lld", (long long)s.B, (long long)s.C, (long long)s.H,
                  (long long)s.W);
    std::fprintf(stderr, "%s...\n", name);
    Case c{"augment", name, 0, bytes, 1.0, kiln_call, torch_call};
    const Result r = run_case(c, rounds, 0.05);
    const double ratio = r.torch_s / r.kiln_s;
    std::snprintf(line, sizeof line, "| %s | %s | %s | %.2fx%s | %.2gx | %s | %s | %.1f%% | %.1f%% |\n", name,
                  fmt_time(r.kiln_s).c_str(), fmt_time(r.torch_s).c_str(), ratio, ratio >= c.goal ? "" : " (below)",
                  c.goal, fmt_rate(double(s.B) / r.kiln_s).c_str(), fmt_rate(double(s.B) / r.torch_s).c_str(),
                  100 * bytes / r.kiln_s / bw, 100 * bytes / r.torch_s / bw);
    table.add_row(line, ratio >= c.goal);
  }
  return table.finish(out_path, "compare_augment");
}
