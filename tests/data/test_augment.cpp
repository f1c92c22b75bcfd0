// Fused batch augmentation (data/augment.h over kernels/cpu/augment.h): identity reproduces the
// input exactly, each geometric transform alone and all together match PyTorch's affine_grid +
// grid_sample (tests/fixtures/augment.safetensors, tools/golden/gen_augment.py, both align_corners
// conventions), masks keep valid classes and follow the image geometry, points land where the map
// sends them and come back, and composing beats chaining (fastai's Figure 11, measured).
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <set>

#include "kiln/data/augment.h"
#include "kiln/tensor/ops.h"
#include "support/fixtures.h"

namespace kiln::test {
namespace {

using data::AugConfig;

// A configuration that draws nothing: only the call settings matter.
AugConfig plain(AugInterp mode = AugInterp::bilinear, GridSamplePadding pad = GridSamplePadding::reflection,
                bool ac = true) {
  AugConfig c;
  c.mode = mode;
  c.pad_mode = pad;
  c.align_corners = ac;
  return c;
}

Tensor random_u8(const Shape& s, uint64_t seed, int hi = 255) {
  std::mt19937_64 rng(seed);
  std::vector<uint8_t> v(size_t(s.numel()));
  for (auto& x : v) x = uint8_t(rng() % uint64_t(hi + 1));
  return from_vector(v, s);
}

TEST(Augment, IdentityReproducesU8InputExactly) {
  const Tensor x = random_u8({2, 7, 5, 3}, 1);  // [B, H, W, C]
  const uint8_t* in = x.data<uint8_t>();
  for (AugInterp mode : {AugInterp::bilinear, AugInterp::nearest, AugInterp::bicubic})
    for (GridSamplePadding pad : {GridSamplePadding::zeros, GridSamplePadding::border, GridSamplePadding::reflection})
      for (bool ac : {false, true}) {
        data::AugBatch out = data::augment(x, plain(mode, pad, ac), std::vector<AugSampleParams>(2));
        ASSERT_EQ(out.images.shape(), Shape({2, 3, 7, 5}));
        const float* y = out.images.data<float>();
        int64_t bad = 0;
        for (int64_t b = 0; b < 2; ++b)
          for (int64_t c = 0; c < 3; ++c)
            for (int64_t i = 0; i < 7; ++i)
              for (int64_t j = 0; j < 5; ++j)
                bad += y[((b * 3 + c) * 7 + i) * 5 + j] != float(in[((b * 7 + i) * 5 + j) * 3 + c]) / 255.0f;
        EXPECT_EQ(bad, 0) << "mode " << int(mode) << " pad " << int(pad) << " align_corners " << ac;
      }
}

TEST(Augment, IdentityF32AndOutputFormats) {
  const Tensor x = rand({2, 3, 6, 4});
  AugConfig c = plain();
  EXPECT_TRUE(tensors_equal(data::augment(x, c, std::vector<AugSampleParams>(2)).images, x));
  c.out_layout = AugLayout::nhwc;
  EXPECT_TRUE(tensors_equal(data::augment(x, c, std::vector<AugSampleParams>(2)).images, x.permute({0, 2, 3, 1})));
  c.out_layout = AugLayout::nchw;
  for (DType d : {DType::f16, DType::bf16}) {
    c.out_dtype = d;
    Tensor y = data::augment(x, c, std::vector<AugSampleParams>(2)).images;
    ASSERT_EQ(y.dtype(), d);
    EXPECT_TRUE(tensors_equal(y, x.to(d)));
  }
}

TEST(Augment, NormalisationAndDecode) {
  const Tensor x = random_u8({2, 5, 6, 3}, 2);
  AugConfig c = plain();
  c.mean = {0.485f, 0.456f, 0.406f};
  c.std = {0.229f, 0.224f, 0.225f};
  data::AugBatch out = data::augment(x, c, std::vector<AugSampleParams>(2));
  const float* y = out.images.data<float>();
  const uint8_t* in = x.data<uint8_t>();
  EXPECT_EQ(y[(1 * 3 + 2) * 30 + 7], (float(in[(30 + 7) * 3 + 2]) / 255.0f - 0.406f) / 0.225f);
  const Tensor shown = data::decode(out.images, out.record);
  EXPECT_TRUE(tensors_close(shown, x.to(DType::f32).permute({0, 3, 1, 2}) / 255.0, 1e-6, 1e-6));
}

// Every case of the fixture: the kernel with the case's theta / crop / warp against grid_sample.
TEST(Augment, GeometryMatchesGridSampleFixtures) {
  auto f = load_fixture("augment");
  const Tensor input = f.at("input");
  int cases = 0;
  for (auto& [key, expected] : f) {
    if (key.size() < 4 || key.substr(key.size() - 4) != ".out") continue;
    const std::string name = key.substr(0, key.size() - 4);
    ++cases;
    AugSampleParams p;
    const std::vector<float> theta = f.at(name + ".theta").to_vector<float>();
    for (int k = 0; k < 6; ++k) p.affine[k] = theta[size_t(k)];
    const std::vector<float> crop = f.at(name + ".crop").to_vector<float>(), warp = f.at(name + ".warp").to_vector<float>();
    for (int k = 0; k < 4; ++k) p.crop[k] = crop[size_t(k)];
    p.warp_x = warp[0], p.warp_y = warp[1];
    AugConfig c = plain(AugInterp(int(fixture_scalar(f, name + ".mode"))),
                        GridSamplePadding(int(fixture_scalar(f, name + ".pad"))), fixture_scalar(f, name + ".ac") != 0);
    c.size = {expected.size(2), expected.size(3)};
    const Tensor y = data::augment(input, c, {p}).images;
    EXPECT_TRUE(tensors_close(y, expected, 0, 2e-5)) << name;
  }
  EXPECT_EQ(cases, 2 * (2 + 9 + 7));  // (fa.* keys are fastai cases: test_augment_fastai.cpp)
}

TEST(Augment, U8NhwcMatchesF32Nchw) {
  const Tensor x = random_u8({3, 8, 9, 3}, 3);
  const Tensor xf = x.to(DType::f32).permute({0, 3, 1, 2}).contiguous() / 255.0;
  AugConfig c = data::aug_transforms({.max_rotate = 30, .min_zoom = 0.8f, .max_zoom = 1.3f, .p_affine = 1.0f,
                                      .size = {7, 10}, .min_scale = 0.5f, .max_hue = 0.1f, .p_erase = 1.0f});
  auto params = data::draw_params(c, 8, 9, 7, 0, 0, 3);
  EXPECT_TRUE(tensors_close(data::augment(x, c, params).images, data::augment(xf, c, params).images, 1e-5, 2e-6));
}

TEST(Augment, MasksKeepValidClassesAndFollowTheImage) {
  const int64_t B = 6, H = 13, W = 17;
  const Tensor mask = random_u8({B, H, W}, 4, 4);  // classes 0..4
  for (GridSamplePadding pad : {GridSamplePadding::zeros, GridSamplePadding::reflection}) {
    AugConfig c = data::aug_transforms({.max_rotate = 40, .min_zoom = 0.7f, .max_zoom = 1.5f, .max_warp = 0.3f,
                                        .p_affine = 1.0f, .size = {11, 12}, .pad_mode = pad, .min_scale = 0.6f});
    auto params = data::draw_params(c, H, W, 11, 2, 100, B);
    // The same classes as a u8 image sampled nearest: masks follow exactly the image geometry.
    c.mode = AugInterp::nearest;
    c.max_lighting = 0;
    for (auto& p : params) p.brightness = 0.5f, p.contrast = 1.0f;
    data::AugBatch out = data::augment(mask.unsqueeze(3), c, params, mask);
    ASSERT_EQ(out.masks.shape(), Shape({B, 11, 12}));
    ASSERT_EQ(out.masks.dtype(), DType::u8);
    std::set<int> seen;
    for (uint8_t v : out.masks.to_vector<uint8_t>()) seen.insert(v);
    for (int v : seen) EXPECT_TRUE(v >= 0 && v <= 4) << v;
    EXPECT_GE(seen.size(), 4u);
    const std::vector<float> img = out.images.to_vector<float>();
    const std::vector<uint8_t> cls = out.masks.to_vector<uint8_t>();
    int64_t differ = 0;
    for (size_t i = 0; i < cls.size(); ++i) differ += std::lround(img[i] * 255.0f) != cls[i];
    EXPECT_EQ(differ, 0);
    // Other integer dtypes give the same classes.
    EXPECT_TRUE(tensors_equal(data::augment(mask.unsqueeze(3), c, params, mask.to(DType::i64)).masks,
                              out.masks.to(DType::i64)));
  }
}

TEST(Augment, PointsLandWhereTheMapSendsThem) {
  const int64_t H = 40, W = 50;
  // Horizontal flip, align_corners either way: x -> W - 1 - x in pixel-centre coordinates.
  for (bool ac : {false, true}) {
    AugSampleParams flip;
    flip.affine[0] = -1;
    AugConfig c = plain(AugInterp::bilinear, GridSamplePadding::zeros, ac);
    const Tensor pts = from_vector<float>({3.0f, 7.0f, 12.5f, 30.0f}, {1, 2, 2});
    data::AugBatch out = data::augment(zeros({1, 1, H, W}), c, {flip}, {}, pts);
    EXPECT_TRUE(tensors_close(out.points, from_vector<float>({46.0f, 7.0f, 36.5f, 30.0f}, {1, 2, 2}), 0, 1e-4));
  }
  // A single bright pixel under rotation + zoom + shear + crop + warp: the output's brightest pixel is
  // the point's image, and invert_points brings the point back.
  AugConfig c = data::aug_transforms({.max_rotate = 30, .min_zoom = 1.0f, .max_zoom = 1.2f, .max_warp = 0.15f,
                                      .p_affine = 1.0f, .size = {48, 44}, .pad_mode = GridSamplePadding::zeros,
                                      .min_scale = 0.7f, .max_shear = 10});
  const int64_t B = 8;
  auto params = data::draw_params(c, H, W, 5, 0, 0, B);
  std::vector<float> img(size_t(B * H * W), 0.0f), pts;
  for (int64_t b = 0; b < B; ++b) {
    const int64_t px = 18 + b, py = 16 + (b % 3);  // near the centre, inside every crop
    img[size_t((b * H + py) * W + px)] = 1.0f;
    pts.push_back(float(px));
    pts.push_back(float(py));
  }
  data::AugBatch out = data::augment(from_vector(img, {B, 1, H, W}), c, params, {}, from_vector(pts, {B, 1, 2}));
  const float* y = out.images.data<float>();
  const float* q = out.points.data<float>();
  for (int64_t b = 0; b < B; ++b) {
    int64_t best = 0;
    for (int64_t i = 1; i < 48 * 44; ++i)
      if (y[b * 48 * 44 + i] > y[b * 48 * 44 + best]) best = i;
    EXPECT_GT(y[b * 48 * 44 + best], 0.05f) << b;
    EXPECT_LE(std::fabs(float(best % 44) - q[2 * b]), 1.0f) << "sample " << b;
    EXPECT_LE(std::fabs(float(best / 44) - q[2 * b + 1]), 1.0f) << "sample " << b;
  }
  EXPECT_TRUE(tensors_close(data::invert_points(out.points, out.record), from_vector(pts, {B, 1, 2}), 0, 1e-4));
  // Boxes: the mapped box contains the mapped corners of the input box.
  const Tensor boxes = from_vector<float>(std::vector<float>(size_t(B * 4), 0.0f), {B, 1, 4}) +
                       from_vector<float>({10, 8, 30, 25}, {1, 1, 4});
  const Tensor ob = data::augment_boxes(boxes, out.record);
  const float* bb = ob.data<float>();
  for (int64_t b = 0; b < B; ++b) EXPECT_TRUE(bb[4 * b] < bb[4 * b + 2] && bb[4 * b + 1] < bb[4 * b + 3]) << b;
}

TEST(Augment, ReplayGivesTheSameBatch) {
  const Tensor x = random_u8({4, 12, 10, 3}, 6);
  AugConfig c = data::aug_transforms({.size = {9, 9}, .max_saturation = 0.3f, .p_erase = 0.5f});
  c.mean = {0.5f, 0.5f, 0.5f};
  c.std = {0.25f, 0.25f, 0.25f};
  data::AugBatch a = data::augment(x, c, data::draw_params(c, 12, 10, 3, 1, 0, 4));
  data::AugBatch b = data::replay(x, a.record);
  EXPECT_TRUE(tensors_equal(a.images, b.images));
  EXPECT_FALSE(tensors_close(a.images, data::augment(x, c, data::draw_params(c, 12, 10, 3, 2, 0, 4)).images, 0, 1e-3));
}

// fastai's Figure 11: rotate then zoom, sampled once from the composed map, against two successive
// resamplings; both against the exact transform of the continuous source the image was sampled from.
double analytic(double x, double y) { return 0.5 + 0.2 * std::sin(0.9 * x + 0.4 * y) + 0.2 * std::cos(0.3 * x - 1.1 * y); }

TEST(Augment, CompositionBeatsChaining) {
  const int64_t S = 64;
  std::vector<float> src(size_t(S * S));
  for (int64_t i = 0; i < S; ++i)
    for (int64_t j = 0; j < S; ++j) src[size_t(i * S + j)] = float(analytic(double(j), double(i)));
  const Tensor x = from_vector(src, {1, 1, S, S});
  const double t = 20 * M_PI / 180, z = 1 / 1.25;
  AugSampleParams rot, zoom, both;
  const float r[9] = {float(std::cos(t)), float(std::sin(t)), 0, float(-std::sin(t)), float(std::cos(t)), 0, 0, 0, 1};
  const float zm[9] = {float(z), 0, 0, 0, float(z), 0, 0, 0, 1};
  std::memcpy(rot.affine, r, sizeof r);
  std::memcpy(zoom.affine, zm, sizeof zm);
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 3; ++j) {
      double s = 0;
      for (int k = 0; k < 3; ++k) s += double(r[i * 3 + k]) * double(zm[k * 3 + j]);
      both.affine[i * 3 + j] = float(s);
    }
  const AugConfig c = plain();
  const Tensor once = data::augment(x, c, {both}).images;
  const Tensor twice = data::augment(data::augment(x, c, {rot}).images, c, {zoom}).images;
  double P[9];
  aug_pixel_map(both, S, S, S, S, true, P);
  auto psnr = [&](const Tensor& y) {
    const float* v = y.data<float>();
    double se = 0;
    int64_t n = 0;
    for (int64_t i = S / 4; i < 3 * S / 4; ++i)
      for (int64_t j = S / 4; j < 3 * S / 4; ++j) {
        const double sx = P[0] * j + P[1] * i + P[2], sy = P[3] * j + P[4] * i + P[5];
        const double d = v[i * S + j] - analytic(sx, sy);
        se += d * d, ++n;
      }
    return 10 * std::log10(1.0 / (se / double(n)));
  };
  const double p_once = psnr(once), p_twice = psnr(twice);
  std::printf("composition vs chaining (rotate 20 deg then zoom 1.25, 64x64, bilinear): PSNR %.2f dB vs %.2f dB\n",
              p_once, p_twice);
  EXPECT_GT(p_once, p_twice + 1.0);
}

}  // namespace
}  // namespace kiln::test
