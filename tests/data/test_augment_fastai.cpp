// The batch augmentation against fastai's own transforms run with explicit draws
// (tools/golden/gen_augment.py, fixture keys fa.*): the composed geometry of Flip, Warp, Rotate
// and Zoom (fastai's order, aspect correction, align_corners = true, reflection padding), and
// Brightness, Contrast, Saturation (logit space) and Hue (HSV), alone and composed.
#include <gtest/gtest.h>

#include "kiln/data/augment.h"
#include "kiln/tensor/ops.h"
#include "support/fixtures.h"

namespace kiln::test {
namespace {

class AugmentFastai : public ::testing::Test {
 protected:
  void SetUp() override { f_ = load_fixture("augment"); }
  float draw(const std::string& k, int b) const { return f_.at("fa." + k).to_vector<float>()[size_t(b)]; }
  const Tensor& input() const { return f_.at("fa.input"); }
  // fastai's defaults for the call (bilinear, reflection, align_corners = true), nothing drawn.
  static data::AugConfig call() { return data::AugConfig{}; }
  std::map<std::string, Tensor> f_;
};

TEST_F(AugmentFastai, ComposedGeometry) {
  const int64_t H = input().size(2), W = input().size(3);
  std::vector<AugSampleParams> ps(2);
  for (int b = 0; b < 2; ++b) {
    data::AugGeometry g;
    g.flip = draw("flip", b) != 0;
    g.rotate = draw("rotate", b);
    g.zoom = draw("zoom", b), g.zoom_col = draw("zoom_col", b), g.zoom_row = draw("zoom_row", b);
    data::set_geometry(ps[size_t(b)], g, H, W);
    ps[size_t(b)].warp_x = draw("warp_x", b), ps[size_t(b)].warp_y = draw("warp_y", b);
  }
  EXPECT_TRUE(tensors_close(data::augment(input(), call(), ps).images, f_.at("fa.geometry"), 0, 2e-5));
}

TEST_F(AugmentFastai, LightingSaturationHue) {
  struct Case {
    const char* key;
    void (*set)(AugSampleParams&, float b, float c, float s, float h);
  } cases[] = {
      {"fa.brightness", [](AugSampleParams& p, float b, float, float, float) { p.brightness = b; }},
      {"fa.contrast", [](AugSampleParams& p, float, float c, float, float) { p.contrast = c; }},
      {"fa.saturation", [](AugSampleParams& p, float, float, float s, float) { p.saturation = s; }},
      {"fa.hue", [](AugSampleParams& p, float, float, float, float h) { p.hue = h; }},
      {"fa.lighting", [](AugSampleParams& p, float b, float c, float, float) { p.brightness = b, p.contrast = c; }},
  };
  for (const Case& cs : cases) {
    std::vector<AugSampleParams> ps(2);
    for (int b = 0; b < 2; ++b) cs.set(ps[size_t(b)], draw("b", b), draw("c", b), draw("s", b), draw("h", b));
    EXPECT_TRUE(tensors_close(data::augment(input(), call(), ps).images, f_.at(cs.key), 1e-5, 2e-6)) << cs.key;
  }
}

}  // namespace
}  // namespace kiln::test
