// The random draws of the batch augmentation (data/augment_draw.cpp, Note [Augmentation draws]):
// independent of the batch split, different across epochs, fastai's ranges and probabilities
// (checked statistically over many samples with a fixed seed, loose bounds).
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "kiln/data/augment.h"
#include "support/fixtures.h"

namespace kiln::test {
namespace {

using data::AugConfig;

bool same(const AugSampleParams& a, const AugSampleParams& b) { return std::memcmp(&a, &b, sizeof a) == 0; }

TEST(AugmentDraws, SameSampleSameParamsWhateverTheBatchSplit) {
  const AugConfig c = data::aug_transforms({.size = {20, 20}, .min_scale = 0.5f, .max_hue = 0.2f, .p_erase = 0.5f});
  const auto whole = data::draw_params(c, 30, 40, 123, 4, 1000, 10);
  const auto a = data::draw_params(c, 30, 40, 123, 4, 1000, 3);
  const auto b = data::draw_params(c, 30, 40, 123, 4, 1003, 7);
  for (int i = 0; i < 10; ++i) EXPECT_TRUE(same(whole[size_t(i)], i < 3 ? a[size_t(i)] : b[size_t(i - 3)])) << i;
}

TEST(AugmentDraws, EpochsAndSeedsDiffer) {
  const AugConfig c = data::aug_transforms({.p_affine = 1.0f, .p_lighting = 1.0f});
  const auto e0 = data::draw_params(c, 32, 32, 7, 0, 0, 50);
  const auto e1 = data::draw_params(c, 32, 32, 7, 1, 0, 50);
  const auto s1 = data::draw_params(c, 32, 32, 8, 0, 0, 50);
  for (int i = 0; i < 50; ++i) {
    EXPECT_FALSE(same(e0[size_t(i)], e1[size_t(i)])) << i;
    EXPECT_FALSE(same(e0[size_t(i)], s1[size_t(i)])) << i;
  }
  EXPECT_FALSE(same(e0[0], e0[1]));
}

// Fraction of samples where pred holds.
template <class F>
double fraction(const std::vector<AugSampleParams>& ps, F pred) {
  int64_t n = 0;
  for (const auto& p : ps) n += pred(p) ? 1 : 0;
  return double(n) / double(ps.size());
}

TEST(AugmentDraws, FastaiDefaultsProbabilitiesAndRanges) {
  const int64_t N = 4000;
  // Square input so fastai's aspect correction leaves the matrices as drawn.
  const auto ps = data::draw_params(data::aug_transforms(), 64, 64, 42, 0, 0, N);
  // Flip p = 0.5: the matrix's x column points left. Rotation and zoom each p = 0.75.
  EXPECT_NEAR(fraction(ps, [](auto& p) { return p.affine[0] < 0; }), 0.5, 0.04);
  EXPECT_NEAR(fraction(ps, [](auto& p) { return p.brightness != 0.5f; }), 0.75, 0.04);
  EXPECT_NEAR(fraction(ps, [](auto& p) { return p.contrast != 1.0f; }), 0.75, 0.04);
  EXPECT_NEAR(fraction(ps, [](auto& p) { return p.warp_x != 0; }), 0.75, 0.04);
  EXPECT_NEAR(fraction(ps, [](auto& p) { return p.warp_y != 0; }), 0.75, 0.04);
  EXPECT_NEAR(fraction(ps, [](auto& p) { return p.warp_x != 0 && p.warp_y != 0; }), 0.5625, 0.04);  // independent
  EXPECT_NEAR(fraction(ps, [](auto& p) { return p.affine[1] != 0; }), 0.75, 0.04);                  // rotated
  EXPECT_NEAR(fraction(ps, [](auto& p) { return p.affine[2] != 0; }), 0.75, 0.04);                  // zoomed
  for (const auto& p : ps) {
    EXPECT_TRUE(p.brightness >= 0.4f && p.brightness <= 0.6f) << p.brightness;
    EXPECT_TRUE(p.contrast >= 0.8f - 1e-6f && p.contrast <= 1.25f + 1e-6f) << p.contrast;
    EXPECT_TRUE(std::fabs(p.warp_x) <= 0.2f && std::fabs(p.warp_y) <= 0.2f);
    // |det| = 1 / zoom^2 with zoom in [1, 1.1]; rotation angle within 10 degrees.
    const double det = double(p.affine[0]) * p.affine[4] - double(p.affine[1]) * p.affine[3];
    EXPECT_TRUE(std::fabs(det) <= 1 + 1e-6 && std::fabs(det) >= 1 / 1.21 - 1e-6) << det;
    const double angle = std::atan2(std::fabs(p.affine[1]), std::fabs(p.affine[4])) * 180 / M_PI;
    EXPECT_LE(angle, 10 + 1e-3);
    EXPECT_EQ(p.n_erase, 0);
    EXPECT_EQ(p.crop[2], 0);
  }
}

TEST(AugmentDraws, ProbabilityExtremesAndExtras) {
  const int64_t N = 2000;
  auto never = data::draw_params(data::aug_transforms({.do_flip = false, .p_affine = 0, .p_lighting = 0}), 16, 24, 1, 0,
                                 0, N);
  for (const auto& p : never) {
    const AugSampleParams identity;
    EXPECT_EQ(std::memcmp(p.affine, identity.affine, sizeof p.affine), 0);
    EXPECT_TRUE(p.warp_x == 0 && p.warp_y == 0 && p.brightness == 0.5f && p.contrast == 1.0f);
  }
  const AugConfig c = data::aug_transforms({.flip_vert = true, .p_affine = 0, .size = {10, 12}, .min_scale = 0.35f,
                                            .max_saturation = 0.3f, .p_saturation = 0.25f, .max_hue = 0.1f,
                                            .p_hue = 1.0f, .p_erase = 0.5f, .erase_max_count = 3});
  auto ps = data::draw_params(c, 30, 40, 9, 3, 0, N);
  EXPECT_NEAR(fraction(ps, [](auto& p) { return p.saturation != 1.0f; }), 0.25, 0.04);
  EXPECT_NEAR(fraction(ps, [](auto& p) { return p.n_erase > 0; }), 0.5, 0.04);
  EXPECT_EQ(fraction(ps, [](auto& p) { return p.hue == 0.0f; }), 0.0);
  // Dihedral p = 0.5 and 7 of its 8 elements are not the identity (rotate, zoom and warp are off).
  EXPECT_NEAR(fraction(ps, [](auto& p) { return p.affine[0] != 1 || p.affine[4] != 1 || p.affine[1] != 0; }),
              0.5 * 7 / 8, 0.04);
  for (const auto& p : ps) {
    // Random resized crop: inside the image, area fraction in [0.35, 1], square (ratio 1) up to rounding.
    EXPECT_TRUE(p.crop[0] >= 0 && p.crop[1] >= 0 && p.crop[0] + p.crop[2] <= 40 && p.crop[1] + p.crop[3] <= 30);
    const double area = double(p.crop[2]) * p.crop[3] / (30 * 40);
    EXPECT_TRUE(area >= 0.3 && area <= 1.0) << area;
    EXPECT_LE(std::fabs(p.crop[2] - p.crop[3]), 1.0f);
    EXPECT_LE(p.n_erase, 3);
    for (int k = 0; k < p.n_erase; ++k)
      EXPECT_TRUE(p.erase[k][0] <= p.erase[k][1] && p.erase[k][1] <= 10 && p.erase[k][3] <= 12);
    EXPECT_TRUE(p.hue >= 0.9f - 1e-6f && p.hue <= 1.0f / 0.9f + 1e-6f) << p.hue;
  }
}

}  // namespace
}  // namespace kiln::test
