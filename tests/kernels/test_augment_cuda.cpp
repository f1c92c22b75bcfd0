// CPU-vs-CUDA parity of the fused augmentation kernel (kernels/cuda/augment.h against
// kernels/cpu/augment.h), on raw device buffers with guard regions: every transform alone and all
// together, u8 NHWC and f32 NCHW inputs, f32 / f16 / bf16 outputs in NCHW and NHWC, 1, 3 and 5
// channels (compile-time and run-time channel counts), and masks (bit-identical: the coordinate
// maths is never contracted into FMAs, Note [Augmentation coordinate map]). Skips without a GPU.
#if KILN_HAVE_CUDA
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "kiln/kernels/cpu/augment.h"
#include "kiln/kernels/cuda/augment.h"
#include "support/cuda_test.h"

namespace kiln::test {
namespace {

struct AugCase {
  std::string name;
  std::function<void(AugSampleParams&, int64_t b)> set;  // per-sample parameters
  std::function<void(AugImageArgs&)> args;               // call settings (modes, normalisation)
};

void rotate(AugSampleParams& p, double deg, double zoom = 1) {
  const double t = deg * M_PI / 180;
  p.affine[0] = float(std::cos(t) / zoom), p.affine[1] = float(std::sin(t) / zoom);
  p.affine[3] = float(-std::sin(t) / zoom), p.affine[4] = float(std::cos(t) / zoom);
}

std::vector<AugCase> cases() {
  auto none = [](AugImageArgs&) {};
  std::vector<AugCase> cs = {
      {"identity", [](AugSampleParams&, int64_t) {}, none},
      {"flip", [](AugSampleParams& p, int64_t b) { p.affine[0] = b % 2 ? -1.0f : 1.0f; }, none},
      {"dihedral_transpose", [](AugSampleParams& p, int64_t) { p.affine[0] = 0, p.affine[1] = -1, p.affine[3] = 1, p.affine[4] = 0; }, none},
      {"zoom", [](AugSampleParams& p, int64_t b) { p.affine[0] = p.affine[4] = 0.7f + 0.1f * float(b), p.affine[2] = 0.2f; }, none},
      {"zoom_out", [](AugSampleParams& p, int64_t b) { p.affine[0] = p.affine[4] = 1.4f + 0.1f * float(b); }, none},
      {"translate", [](AugSampleParams& p, int64_t b) { p.affine[2] = 0.3f - 0.2f * float(b), p.affine[5] = -0.25f; }, none},
      {"shear", [](AugSampleParams& p, int64_t b) { p.affine[1] = 0.2f + 0.1f * float(b); }, none},
      {"warp", [](AugSampleParams& p, int64_t b) { p.warp_x = 0.15f - 0.1f * float(b), p.warp_y = -0.12f; }, none},
      {"crop", [](AugSampleParams& p, int64_t b) { p.crop[0] = float(b), p.crop[1] = 2, p.crop[2] = 11, p.crop[3] = 9; }, none},
      {"brightness", [](AugSampleParams& p, int64_t b) { p.brightness = 0.4f + 0.08f * float(b); }, none},
      {"contrast", [](AugSampleParams& p, int64_t b) { p.contrast = 0.8f + 0.2f * float(b); }, none},
      {"saturation", [](AugSampleParams& p, int64_t b) { p.saturation = 0.7f + 0.25f * float(b); }, none},
      {"hue", [](AugSampleParams& p, int64_t b) { p.hue = 0.93f + 0.07f * float(b); }, none},
      {"erase", [](AugSampleParams& p, int64_t b) {
         p.n_erase = 2, p.noise_seed = 77 + uint64_t(b);
         const int32_t r0[4] = {1, 5, 2, 9}, r1[4] = {6, 11, 10, 14};
         for (int k = 0; k < 4; ++k) p.erase[0][k] = r0[k], p.erase[1][k] = r1[k];
       }, none},
      {"normalize", [](AugSampleParams&, int64_t) {}, [](AugImageArgs& a) {
         a.normalize = true;
         for (int c = 0; c < kAugMaxChannels; ++c) a.mean[c] = 0.4f + 0.01f * float(c), a.std[c] = 0.2f + 0.01f * float(c);
       }},
  };
  for (AugInterp interp : {AugInterp::bilinear, AugInterp::nearest, AugInterp::bicubic})
    for (GridSamplePadding pad : {GridSamplePadding::zeros, GridSamplePadding::border, GridSamplePadding::reflection})
      for (bool ac : {false, true})
        cs.push_back({"rotate_i" + std::to_string(int(interp)) + "_p" + std::to_string(int(pad)) + (ac ? "_ac" : ""),
                      [](AugSampleParams& p, int64_t b) { rotate(p, 25.0 - 17.0 * double(b), 0.9); },
                      [=](AugImageArgs& a) { a.interp = interp, a.padding = pad, a.align_corners = ac; }});
  cs.push_back({"all_together",
                [](AugSampleParams& p, int64_t b) {
                  rotate(p, 12.0 * double(b) - 9, 1.15);
                  p.affine[0] *= b % 2 ? -1.0f : 1.0f;
                  p.affine[2] = 0.1f, p.warp_x = 0.1f, p.warp_y = -0.05f * float(b);
                  p.crop[0] = 1, p.crop[1] = 1, p.crop[2] = 14, p.crop[3] = 11;
                  p.brightness = 0.55f, p.contrast = 1.2f, p.saturation = 0.8f, p.hue = 1.05f;
                  p.n_erase = 1, p.noise_seed = 5;
                  const int32_t r[4] = {2, 6, 3, 8};
                  for (int k = 0; k < 4; ++k) p.erase[0][k] = r[k];
                },
                [](AugImageArgs& a) {
                  a.normalize = true;
                  for (int c = 0; c < kAugMaxChannels; ++c) a.mean[c] = 0.5f, a.std[c] = 0.25f;
                }});
  return cs;
}

float to_float(const std::vector<uint8_t>& raw, DType d, size_t i) {
  if (d == DType::f32) {
    float f;
    std::memcpy(&f, raw.data() + 4 * i, 4);
    return f;
  }
  uint16_t h;
  std::memcpy(&h, raw.data() + 2 * i, 2);
  return d == DType::f16 ? half_bits_to_float(h) : bf16_bits_to_float(h);
}

// Runs one configuration on both devices and compares.
void check_parity(const std::string& what, AugImageArgs a, const AugCase& cs) {
  cs.args(a);
  const bool color_only = cs.name == "saturation" || cs.name == "hue" || cs.name == "all_together";
  if (color_only && a.C != 3) return;
  std::vector<AugSampleParams> params(size_t(a.B));
  for (int64_t b = 0; b < a.B; ++b) cs.set(params[size_t(b)], b);
  const size_t n_in = size_t(a.B * a.C * a.H * a.W), n_out = size_t(a.B * a.C * a.OH * a.OW);
  std::mt19937 rng(11);
  std::vector<uint8_t> in(n_in * size_t(dtype_size(a.in_dtype)));
  if (a.in_dtype == DType::u8) {
    for (auto& v : in) v = uint8_t(rng() % 256);
  } else {
    std::uniform_real_distribution<float> u(0.0f, 1.0f);
    for (size_t i = 0; i < n_in; ++i) {
      const float f = u(rng);
      std::memcpy(in.data() + 4 * i, &f, 4);
    }
  }
  const size_t out_bytes = n_out * size_t(dtype_size(a.out_dtype));
  std::vector<uint8_t> ref(out_bytes);
  cpu::augment_images(a, params.data(), in.data(), ref.data());

  DeviceBuffer<uint8_t> d_in(in), d_out(out_bytes), d_ws(cuda::augment_workspace_size(a.B));
  cuda::augment_images(a, params.data(), d_in.data(), d_out.data(), d_ws.data(), d_ws.size(), nullptr);
  KILN_CUDA_CHECK(cudaDeviceSynchronize());
  const std::vector<uint8_t> got = d_out.download();
  EXPECT_TRUE(d_out.guards_intact()) << what;
  EXPECT_TRUE(d_ws.guards_intact()) << what;
  const double atol = a.out_dtype == DType::f32 ? 1e-5 : (a.out_dtype == DType::f16 ? 4e-3 : 3e-2);
  const double rtol = a.out_dtype == DType::f32 ? 1e-5 : (a.out_dtype == DType::f16 ? 1e-3 : 8e-3);
  int64_t bad = 0;
  size_t first = 0;
  for (size_t i = 0; i < n_out; ++i) {
    const double x = to_float(got, a.out_dtype, i), y = to_float(ref, a.out_dtype, i);
    if (!(std::fabs(x - y) <= atol + rtol * std::fabs(y))) {
      if (bad++ == 0) first = i;
    }
  }
  EXPECT_EQ(bad, 0) << what << ": first mismatch at " << first << ": cuda " << to_float(got, a.out_dtype, first)
                    << " cpu " << to_float(ref, a.out_dtype, first);
}

AugImageArgs base_args(int64_t C, DType in, AugLayout in_layout, DType out, AugLayout out_layout) {
  AugImageArgs a;
  a.B = 3, a.C = C, a.H = 13, a.W = 17, a.OH = 11, a.OW = 14;
  a.in_dtype = in, a.in_layout = in_layout, a.out_dtype = out, a.out_layout = out_layout;
  return a;
}

TEST(AugmentCuda, EveryTransformAloneAndAllTogether) {
  KILN_REQUIRE_GPU();
  for (const AugCase& cs : cases()) {
    check_parity(cs.name + " u8 nhwc -> f32 nchw", base_args(3, DType::u8, AugLayout::nhwc, DType::f32, AugLayout::nchw), cs);
    check_parity(cs.name + " f32 nchw -> f32 nhwc", base_args(3, DType::f32, AugLayout::nchw, DType::f32, AugLayout::nhwc), cs);
  }
}

TEST(AugmentCuda, OutputDtypesLayoutsAndChannelCounts) {
  KILN_REQUIRE_GPU();
  const auto all = cases();
  for (const AugCase& cs : all) {
    if (cs.name != "identity" && cs.name != "warp" && cs.name != "erase" && cs.name != "all_together" &&
        cs.name != "rotate_i2_p2_ac")
      continue;
    for (DType out : {DType::f16, DType::bf16})
      for (AugLayout lay : {AugLayout::nchw, AugLayout::nhwc})
        check_parity(cs.name + " u8 -> " + dtype_name(out) + (lay == AugLayout::nhwc ? " nhwc" : " nchw"),
                     base_args(3, DType::u8, AugLayout::nhwc, out, lay), cs);
    for (int64_t C : {1, 5})
      check_parity(cs.name + " C=" + std::to_string(C), base_args(C, DType::f32, AugLayout::nchw, DType::f32, AugLayout::nchw), cs);
  }
}

TEST(AugmentCuda, MasksBitIdentical) {
  KILN_REQUIRE_GPU();
  for (const AugCase& cs : cases()) {
    AugImageArgs a = base_args(1, DType::u8, AugLayout::nhwc, DType::f32, AugLayout::nchw);
    cs.args(a);
    std::vector<AugSampleParams> params(size_t(a.B));
    for (int64_t b = 0; b < a.B; ++b) cs.set(params[size_t(b)], b);
    std::mt19937 rng(3);
    for (DType md : {DType::u8, DType::i32, DType::i64}) {
      const size_t es = size_t(dtype_size(md)), n_in = size_t(a.B * a.H * a.W), n_out = size_t(a.B * a.OH * a.OW);
      std::vector<uint8_t> in(n_in * es, 0);
      for (size_t i = 0; i < n_in; ++i) in[i * es] = uint8_t(rng() % 7);  // little-endian class 0..6
      std::vector<uint8_t> ref(n_out * es);
      cpu::augment_masks(a, params.data(), md, in.data(), ref.data());
      DeviceBuffer<uint8_t> d_in(in), d_out(n_out * es), d_ws(cuda::augment_workspace_size(a.B));
      cuda::augment_masks(a, params.data(), md, d_in.data(), d_out.data(), d_ws.data(), d_ws.size(), nullptr);
      KILN_CUDA_CHECK(cudaDeviceSynchronize());
      EXPECT_EQ(d_out.download(), ref) << cs.name << " " << dtype_name(md);
      EXPECT_TRUE(d_out.guards_intact()) << cs.name;
    }
  }
}

TEST(AugmentCuda, RejectsWhatTheCpuRejects) {
  KILN_REQUIRE_GPU();
  AugImageArgs a = base_args(3, DType::u8, AugLayout::nhwc, DType::f32, AugLayout::nchw);
  std::vector<AugSampleParams> params(3);
  DeviceBuffer<uint8_t> d_in(size_t(3 * 13 * 17 * 3)), d_out(size_t(3 * 3 * 11 * 14 * 4)), d_ws(cuda::augment_workspace_size(3));
  // Too small a workspace.
  EXPECT_THROW(cuda::augment_images(a, params.data(), d_in.data(), d_out.data(), d_ws.data(), d_ws.size() - 1, nullptr),
               Error);
  params[1].brightness = 2.0f;
  EXPECT_THROW(cuda::augment_images(a, params.data(), d_in.data(), d_out.data(), d_ws.data(), d_ws.size(), nullptr),
               Error);
  a.B = 0;
  EXPECT_THROW(cuda::augment_images(a, params.data(), d_in.data(), d_out.data(), d_ws.data(), d_ws.size(), nullptr),
               Error);
  EXPECT_TRUE(d_out.guards_intact());
}

}  // namespace
}  // namespace kiln::test
#endif  // KILN_HAVE_CUDA
