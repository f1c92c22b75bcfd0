// Bad input to the batch augmentation gives a clear kiln::Error, before any kernel runs.
#include <gtest/gtest.h>

#include "kiln/data/augment.h"
#include "kiln/tensor/ops.h"
#include "support/fixtures.h"

namespace kiln::test {
namespace {

using data::AugConfig;

std::vector<AugSampleParams> identity(int64_t n) { return std::vector<AugSampleParams>(size_t(n)); }

TEST(AugmentErrors, BadImages) {
  const AugConfig c;
  EXPECT_KILN_ERROR(data::augment(zeros({3, 8, 8}), c, identity(3)), "rank 3");
  EXPECT_KILN_ERROR(data::augment(zeros({2, 3, 8, 8}, DType::i64), c, identity(2)), "got i64");
  // A u8 image given as [B, C, H, W]: 32 "channels" in the last dimension.
  EXPECT_KILN_ERROR(data::augment(zeros({2, 3, 32, 32}, DType::u8), c, identity(2)), "channels");
  EXPECT_KILN_ERROR(data::augment(zeros({0, 3, 8, 8}), c, identity(0)), "empty batch");
  EXPECT_KILN_ERROR(data::augment(zeros({2, 3, 8, 8}), c, identity(3)), "3 parameter records for a batch of 2");
}

TEST(AugmentErrors, BadMasksAndPoints) {
  const AugConfig c;
  const Tensor x = zeros({2, 3, 8, 8});
  EXPECT_KILN_ERROR(data::augment(x, c, identity(2), zeros({2, 8, 7}, DType::u8)), "masks must be [B, H, W]");
  EXPECT_KILN_ERROR(data::augment(x, c, identity(2), zeros({2, 8, 8}, DType::f32)), "integer classes");
  EXPECT_KILN_ERROR(data::augment(x, c, identity(2), {}, zeros({2, 5, 3})), "points must be f32 [B, N, 2]");
}

TEST(AugmentErrors, AbsurdConfiguration) {
  EXPECT_KILN_ERROR(data::aug_transforms({.min_zoom = 1.2f, .max_zoom = 1.1f}), "max_zoom");
  EXPECT_KILN_ERROR(data::aug_transforms({.min_zoom = 0}), "min_zoom must be positive");
  EXPECT_KILN_ERROR(data::aug_transforms({.p_affine = 1.5f}), "p_affine must be a probability");
  EXPECT_KILN_ERROR(data::aug_transforms({.p_lighting = -0.1f}), "p_lighting");
  EXPECT_KILN_ERROR(data::aug_transforms({.size = {-1, 10}}), "size must be non-negative");
  EXPECT_KILN_ERROR(data::aug_transforms({.size = {0, 10}}), "both sides");
  EXPECT_KILN_ERROR(data::aug_transforms({.max_rotate = -5}), "max_rotate");
  EXPECT_KILN_ERROR(data::aug_transforms({.max_lighting = 1.0f}), "max_lighting");
  EXPECT_KILN_ERROR(data::aug_transforms({.max_warp = 2.0f}), "max_warp");
  EXPECT_KILN_ERROR(data::aug_transforms({.min_scale = 0.5f, .max_scale = 0.4f}), "min_scale");
  EXPECT_KILN_ERROR(data::aug_transforms({.erase_max_count = 9}), "erase_max_count");
  AugConfig c;
  c.mean = {0.5f};
  EXPECT_KILN_ERROR(data::aug_transforms(c), "1 means and 0 stds");
  c.std = {0.0f};
  EXPECT_KILN_ERROR(data::aug_transforms(c), "std must be positive");
  c.std = {0.2f};
  EXPECT_KILN_ERROR(data::augment(zeros({1, 3, 4, 4}), c, identity(1)), "1 normalisation means for 3 channels");
  EXPECT_KILN_ERROR(data::draw_params(AugConfig{}, 0, 5, 1, 0, 0, 1), "image size must be positive");
}

TEST(AugmentErrors, AbsurdParameters) {
  const Tensor x = zeros({1, 3, 8, 8});
  const AugConfig c;
  auto with = [](auto set) {
    std::vector<AugSampleParams> p(1);
    set(p[0]);
    return p;
  };
  EXPECT_KILN_ERROR(data::augment(x, c, with([](auto& p) { p.brightness = 1.5f; })), "brightness must be in (0, 1)");
  EXPECT_KILN_ERROR(data::augment(x, c, with([](auto& p) { p.contrast = 0; })), "contrast must be positive");
  EXPECT_KILN_ERROR(data::augment(x, c, with([](auto& p) { p.warp_x = 1.2f; })), "warp magnitudes");
  EXPECT_KILN_ERROR(data::augment(x, c, with([](auto& p) { p.affine[2] = NAN; })), "non-finite");
  EXPECT_KILN_ERROR(data::augment(x, c, with([](auto& p) { p.affine[6] = 0.1f; })), "bottom row");
  EXPECT_KILN_ERROR(data::augment(x, c, with([](auto& p) { p.crop[0] = 4, p.crop[2] = 6, p.crop[3] = 2; })),
                    "outside the 8x8 input");
  EXPECT_KILN_ERROR(data::augment(x, c, with([](auto& p) { p.n_erase = 1, p.erase[0][1] = 9; })),
                    "erase rectangle 0");
  EXPECT_KILN_ERROR(data::augment(zeros({1, 1, 8, 8}), c, with([](auto& p) { p.saturation = 1.2f; })),
                    "need 3 channels");
}

}  // namespace
}  // namespace kiln::test
