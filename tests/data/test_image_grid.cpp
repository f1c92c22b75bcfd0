// Batch -> PNG grid (data/image_grid.h): the file is read back with stb_image (decoded here, from
// memory) and every pixel is compared with a grid built independently in the test, for u8 NHWC,
// f32 NCHW / NHWC (clamping and rounding), grey / RGB / RGBA, and for an augmented, normalised
// batch after data::decode; bad shapes, channel counts and paths give clear errors.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "kiln/data/augment.h"
#include "kiln/data/image_grid.h"
#include "kiln/tensor/ops.h"

// Only this file decodes PNGs in the tests; static functions keep it apart from any other stb unit.
#if defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#pragma GCC diagnostic ignored "-Wsign-compare"
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wunused-but-set-variable"
#endif
#define STB_IMAGE_STATIC
#define STB_IMAGE_IMPLEMENTATION
#define STBI_ONLY_PNG
#include <stb/stb_image.h>
#if defined(__GNUC__)
#pragma GCC diagnostic pop
#endif

namespace kiln::test {
namespace {

struct Png {
  int w = 0, h = 0, c = 0;
  std::vector<uint8_t> pixels;  // [h, w, c]
};

Png read_png(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::vector<unsigned char> bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  Png p;
  if (bytes.empty()) return p;
  unsigned char* d = stbi_load_from_memory(bytes.data(), int(bytes.size()), &p.w, &p.h, &p.c, 0);
  if (!d) return p;
  p.pixels.assign(d, d + size_t(p.w) * size_t(p.h) * size_t(p.c));
  stbi_image_free(d);
  return p;
}

std::string temp_png(const std::string& name) { return ::testing::TempDir() + "kiln_grid_" + name + ".png"; }

// The expected grid, built pixel by pixel from the tile arithmetic: pixel (y, x) lies in tile
// (y / (H + gap), x / (W + gap)) when its offsets inside that cell are < H and < W.
// `at(b, i, j, c)` gives sample b's u8 value.
template <class At>
std::vector<uint8_t> expected_grid(int64_t B, int64_t H, int64_t W, int64_t C, int64_t cols, int64_t gap,
                                   uint8_t bg, At at, int64_t& GH, int64_t& GW) {
  const int64_t rows = (B + cols - 1) / cols;
  GH = rows * H + (rows - 1) * gap;
  GW = cols * W + (cols - 1) * gap;
  std::vector<uint8_t> g(size_t(GH * GW * C));
  for (int64_t y = 0; y < GH; ++y)
    for (int64_t x = 0; x < GW; ++x) {
      const int64_t tr = y / (H + gap), i = y % (H + gap), tc = x / (W + gap), j = x % (W + gap);
      const int64_t b = tr * cols + tc;
      const bool inside = i < H && j < W && b < B;
      for (int64_t c = 0; c < C; ++c) g[size_t((y * GW + x) * C + c)] = inside ? at(b, i, j, c) : bg;
    }
  return g;
}

// Writes the batch, reads the PNG back and compares it (and image_grid's tensor) with `want`.
void expect_png(const Tensor& images, const data::GridOptions& o, const std::vector<uint8_t>& want, int64_t GH,
                int64_t GW, int64_t C, const std::string& name) {
  const Tensor grid = data::image_grid(images, o);
  ASSERT_EQ(grid.shape(), Shape({GH, GW, C})) << name;
  ASSERT_EQ(grid.dtype(), DType::u8);
  EXPECT_EQ(grid.to_vector<uint8_t>(), want) << name << ": image_grid";
  const std::string path = temp_png(name);
  data::write_png_grid(path, images, o);
  const Png p = read_png(path);
  std::remove(path.c_str());
  ASSERT_EQ(p.w, GW) << name;
  ASSERT_EQ(p.h, GH) << name;
  ASSERT_EQ(p.c, C) << name;
  int64_t bad = 0;
  for (size_t k = 0; k < want.size(); ++k) bad += p.pixels[k] != want[k];
  EXPECT_EQ(bad, 0) << name << ": " << bad << " of " << want.size() << " PNG values differ";
}

Tensor random_u8(const Shape& s, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<uint8_t> v(size_t(s.numel()));
  for (auto& x : v) x = uint8_t(rng() % 256);
  return from_vector(v, s);
}

TEST(ImageGrid, U8NhwcEveryPixel) {
  for (int64_t C : {1, 3, 4}) {
    const int64_t B = 5, H = 3, W = 4;
    const Tensor x = random_u8({B, H, W, C}, uint64_t(C));
    const std::vector<uint8_t> v = x.to_vector<uint8_t>();
    auto at = [&](int64_t b, int64_t i, int64_t j, int64_t c) { return v[size_t(((b * H + i) * W + j) * C + c)]; };
    int64_t GH, GW;
    // Default: cols = ceil(sqrt(5)) = 3, 2 rows, the last with one empty tile; gap 2, white.
    auto want = expected_grid(B, H, W, C, 3, 2, 255, at, GH, GW);
    EXPECT_EQ(GH, 2 * 3 + 2);
    EXPECT_EQ(GW, 3 * 4 + 2 * 2);
    expect_png(x, {}, want, GH, GW, C, "u8_c" + std::to_string(C));
    // Explicit columns, another gap and background.
    data::GridOptions o;
    o.cols = 2, o.gap = 1, o.background = 7;
    want = expected_grid(B, H, W, C, 2, 1, 7, at, GH, GW);
    expect_png(x, o, want, GH, GW, C, "u8_cols2_c" + std::to_string(C));
    // One row, no gap; more columns than samples is one row of B tiles.
    o.cols = 9, o.gap = 0;
    want = expected_grid(B, H, W, C, B, 0, 7, at, GH, GW);
    expect_png(x, o, want, GH, GW, C, "u8_row_c" + std::to_string(C));
  }
}

TEST(ImageGrid, U8NchwOnRequest) {
  const int64_t B = 3, C = 3, H = 2, W = 5;
  const Tensor x = random_u8({B, C, H, W}, 11);
  const std::vector<uint8_t> v = x.to_vector<uint8_t>();
  auto at = [&](int64_t b, int64_t i, int64_t j, int64_t c) { return v[size_t(((b * C + c) * H + i) * W + j)]; };
  int64_t GH, GW;
  data::GridOptions o;
  o.layout = data::GridLayout::nchw;
  const auto want = expected_grid(B, H, W, C, 2, 2, 255, at, GH, GW);
  expect_png(x, o, want, GH, GW, C, "u8_nchw");
}

// Floating point: clamp to [0, 1], NaN -> 0, floor(v * 255 + 0.5).
uint8_t round_u8(float v) {
  if (std::isnan(v) || v <= 0) return 0;
  if (v >= 1) return 255;
  return uint8_t(std::floor(double(v) * 255.0 + 0.5));
}

TEST(ImageGrid, F32ClampsAndRounds) {
  // Hand-picked values first: out of range, NaN, halves, exact k / 255.
  const std::vector<float> special = {-0.5f, 1.5f, std::numeric_limits<float>::quiet_NaN(), 0.5f, 1.0f / 255.0f,
                                      254.0f / 255.0f, 0.0f, 1.0f, 2.5f / 255.0f, -0.0f, 1e-9f, 0.9999f};
  const std::vector<uint8_t> special_u8 = {0, 255, 0, 128, 1, 254, 0, 255, 3, 0, 0, 255};
  const Tensor s = from_vector(special, {1, 1, 3, 4});  // f32 NCHW, grey
  const Tensor gs = data::image_grid(s);
  EXPECT_EQ(gs.to_vector<uint8_t>(), special_u8);

  const int64_t B = 4, C = 3, H = 5, W = 3;
  Generator gen(3);
  const Tensor x = rand({B, C, H, W}, DType::f32, &gen) * 1.4 - 0.2;  // some values outside [0, 1]
  const std::vector<float> v = x.to_vector<float>();
  auto at = [&](int64_t b, int64_t i, int64_t j, int64_t c) {
    return round_u8(v[size_t(((b * C + c) * H + i) * W + j)]);
  };
  int64_t GH, GW;
  auto want = expected_grid(B, H, W, C, 2, 2, 255, at, GH, GW);
  expect_png(x, {}, want, GH, GW, C, "f32_nchw");
  // The same pixels given as NHWC.
  data::GridOptions o;
  o.layout = data::GridLayout::nhwc;
  expect_png(x.permute({0, 2, 3, 1}).contiguous(), o, want, GH, GW, C, "f32_nhwc");
  // f16 is converted the same way (its values, not the f32 ones).
  const Tensor h = x.to(DType::f16);
  const std::vector<float> hv = h.to(DType::f32).to_vector<float>();
  auto at_h = [&](int64_t b, int64_t i, int64_t j, int64_t c) {
    return round_u8(hv[size_t(((b * C + c) * H + i) * W + j)]);
  };
  want = expected_grid(B, H, W, C, 2, 2, 255, at_h, GH, GW);
  expect_png(h, {}, want, GH, GW, C, "f16_nchw");
}

// An augmented batch with normalisation, decoded: values are back in [0, 1] before rounding, and
// with identity parameters the PNG holds the input's u8 pixels exactly.
TEST(ImageGrid, AfterDecodeOfNormalisedAugmentation) {
  const int64_t B = 6, H = 9, W = 7, C = 3;
  const Tensor x = random_u8({B, H, W, C}, 5);  // u8 NHWC, as decoded from files
  const std::vector<uint8_t> xv = x.to_vector<uint8_t>();
  data::AugConfig cfg = data::aug_transforms({.mean = {0.485f, 0.456f, 0.406f}, .std = {0.229f, 0.224f, 0.225f}});

  // Identity parameters: normalised, decoded, rounded -> the input.
  data::AugBatch id = data::augment(x, cfg, std::vector<AugSampleParams>(size_t(B)));
  const Tensor shown_id = data::decode(id.images, id.record);
  auto at_x = [&](int64_t b, int64_t i, int64_t j, int64_t c) { return xv[size_t(((b * H + i) * W + j) * C + c)]; };
  int64_t GH, GW;
  auto want = expected_grid(B, H, W, C, 3, 2, 255, at_x, GH, GW);
  expect_png(shown_id, {}, want, GH, GW, C, "decode_identity");

  // fastai's default random augmentation (flip, rotate, zoom, warp, lighting), normalised.
  const auto params = data::draw_params(cfg, H, W, /*seed=*/42, /*epoch=*/0, 0, B);
  data::AugBatch out = data::augment(x, cfg, params);
  const Tensor shown = data::decode(out.images, out.record);
  ASSERT_EQ(shown.shape(), Shape({B, C, H, W}));
  const std::vector<float> sv = shown.to_vector<float>();
  float lo = 1, hi = 0;
  for (float s : sv) lo = std::min(lo, s), hi = std::max(hi, s);
  EXPECT_GE(lo, -1e-5f);
  EXPECT_LE(hi, 1.0f + 1e-5f);
  // The normalised output itself is not in [0, 1] (so decode did matter).
  const std::vector<float> nv = out.images.to_vector<float>();
  EXPECT_LT(*std::min_element(nv.begin(), nv.end()), -0.5f);
  auto at_s = [&](int64_t b, int64_t i, int64_t j, int64_t c) {
    return round_u8(sv[size_t(((b * C + c) * H + i) * W + j)]);
  };
  want = expected_grid(B, H, W, C, 3, 2, 255, at_s, GH, GW);
  expect_png(shown, {}, want, GH, GW, C, "decode_augmented");
}

TEST(ImageGrid, Errors) {
  auto throws_with = [](auto f, const std::string& part) {
    try {
      f();
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(part), std::string::npos) << e.what();
      return;
    }
    ADD_FAILURE() << "no error (expected one mentioning '" << part << "')";
  };
  const Tensor ok = zeros({2, 4, 4, 3}, DType::u8);
  throws_with([] { data::image_grid(zeros({4, 4, 3}, DType::u8)); }, "[B, H, W, C]");
  throws_with([] { data::image_grid(zeros({0, 4, 4, 3}, DType::u8)); }, "empty batch");
  throws_with([] { data::image_grid(zeros({2, 0, 4, 3}, DType::u8)); }, "0x4 pixels");
  throws_with([] { data::image_grid(zeros({2, 4, 4, 2}, DType::u8)); }, "2 channels");
  throws_with([] { data::image_grid(zeros({2, 5, 4, 4})); }, "5 channels");  // f32 is NCHW: C = 5
  throws_with([] { data::image_grid(zeros({2, 4, 4, 3}, DType::i32)); }, "i32");
  throws_with([&] { data::image_grid(ok, {.cols = -1}); }, "cols");
  throws_with([&] { data::image_grid(ok, {.gap = -2}); }, "gap");
  throws_with([] { data::image_grid(Tensor()); }, "undefined");
  throws_with([&] { data::write_png_grid("/nonexistent-kiln-dir/sub/grid.png", ok); }, "cannot write");
  throws_with([] { data::write_png("x.png", zeros({2, 2, 3})); }, "u8");
}

}  // namespace
}  // namespace kiln::test
