// upsample_nearest2d / upsample_bilinear2d (+ backward) and interpolate: op-table rows against
// f64 loop references, golden fixtures from torch (sizes, scale factors, align_corners both),
// misuse.
#include <cmath>

#include "support/op_table.h"

namespace kiln::test {
namespace {

using I2 = std::array<int64_t, 2>;

// Source index of 'nearest' (f32 ratio, as torch).
int64_t near_src(int64_t dst, int64_t in, int64_t out) {
  const float s = float(in) / float(out);
  return std::min<int64_t>(int64_t(std::floor(float(dst) * s)), in - 1);
}

// Bilinear taps (i0, i1, weight of i1) of output index dst, computed in f64.
void lin_taps(int64_t dst, int64_t in, int64_t out, bool ac, int64_t& i0, int64_t& i1, double& l1) {
  double src;
  if (ac) {
    src = out > 1 ? double(dst) * double(in - 1) / double(out - 1) : 0.0;
  } else {
    src = std::max(0.0, (double(dst) + 0.5) * double(in) / double(out) - 0.5);
  }
  i0 = std::min<int64_t>(int64_t(std::floor(src)), in - 1);
  i1 = std::min<int64_t>(i0 + 1, in - 1);
  l1 = src - double(i0);
}

// Forward (dx == nullptr) or backward (scatters dy into *dx) of both modes over [P, H, W] planes.
Ref ref_resample(const Ref& x, const Shape& in, I2 o, bool bilinear, bool ac, const Ref* dy) {
  const int64_t H = in[2], W = in[3], P = in[0] * in[1];
  Ref y(Shape{in[0], in[1], o[0], o[1]}), dx(in);
  for (int64_t p = 0; p < P; ++p)
    for (int64_t oh = 0; oh < o[0]; ++oh)
      for (int64_t ow = 0; ow < o[1]; ++ow) {
        std::vector<std::pair<int64_t, double>> taps;  // (flat input index, weight)
        if (!bilinear) {
          taps.push_back({near_src(oh, H, o[0]) * W + near_src(ow, W, o[1]), 1.0});
        } else {
          int64_t h0, h1, w0, w1;
          double lh, lw;
          lin_taps(oh, H, o[0], ac, h0, h1, lh);
          lin_taps(ow, W, o[1], ac, w0, w1, lw);
          taps = {{h0 * W + w0, (1 - lh) * (1 - lw)}, {h0 * W + w1, (1 - lh) * lw}, {h1 * W + w0, lh * (1 - lw)},
                  {h1 * W + w1, lh * lw}};
        }
        const size_t k = size_t((p * o[0] + oh) * o[1] + ow);
        for (auto [i, w] : taps) {
          if (dy)
            dx.v[size_t(p * H * W + i)] += w * dy->v[k];
          else
            y.v[k] += w * x.v[size_t(p * H * W + i)];
        }
      }
  return dy ? dx : y;
}

const std::vector<Shape> kIn = {{0, 2, 3, 3}, {1, 1, 1, 1}, {2, 3, 5, 7}, {1, 2, 13, 11}, {2, 2, 31, 37}};
const std::vector<I2> kOut = {{1, 1}, {2, 3}, {10, 14}, {7, 5}, {64, 41}};

std::vector<OpRow> make_rows() {
  std::vector<OpRow> rows;
  struct Mode {
    std::string name;
    bool bilinear, ac;
  };
  for (const Mode& m : {Mode{"upsample_nearest2d", false, false}, Mode{"upsample_bilinear2d_ac0", true, false},
                        Mode{"upsample_bilinear2d_ac1", true, true}}) {
    for (size_t i = 0; i < kOut.size(); ++i) {
      const I2 o = kOut[i];
      OpRow f, b;
      for (const Shape& s : kIn) {
        f.cases.push_back({s});
        b.cases.push_back({Shape{s[0], s[1], o[0], o[1]}, s});  // dy, input (for its shape)
      }
      f.name = m.name + "_" + std::to_string(i);
      f.run = [m, o](const std::vector<Tensor>& in) {
        return m.bilinear ? upsample_bilinear2d(in[0], o, m.ac) : upsample_nearest2d(in[0], o);
      };
      f.ref = [m, o](const std::vector<Ref>& in) { return ref_resample(in[0], in[0].shape, o, m.bilinear, m.ac, nullptr); };
      f.dtypes = {DType::f32, DType::f64, DType::f16, DType::bf16};
      f.tol = Tol{2e-2, 1e-4};  // bf16 rounding of a 4-tap sum; f32/f64 agree to ~1e-7
      f.differentiable = true;
      b.name = m.name + "_backward_" + std::to_string(i);
      b.run = [m, o](const std::vector<Tensor>& in) {
        return m.bilinear ? upsample_bilinear2d_backward(in[0], in[1].shape(), m.ac)
                          : upsample_nearest2d_backward(in[0], in[1].shape());
      };
      b.ref = [m, o](const std::vector<Ref>& in) { return ref_resample(in[1], in[1].shape, o, m.bilinear, m.ac, &in[0]); };
      b.tol = Tol{1e-5, 1e-4};  // f32 scatter-adds of up to ~16 signed terms per input pixel
      b.differentiable = true;
      rows.insert(rows.end(), {f, b});
    }
  }
  return rows;
}

static OpRegistrar reg(with_parity(make_rows(), Parity::accumulated));

TEST(Interpolate, GoldenTorch) {
  auto f = load_fixture("nn_interpolate");
  const Tensor x = f.at("x");
  struct Case {
    std::string name;
    std::optional<I2> size;
    std::optional<std::array<double, 2>> scale;
    InterpolateMode mode;
    bool ac;
  };
  const std::vector<Case> cases = {
      {"near_up", I2{11, 16}, std::nullopt, InterpolateMode::nearest, false},
      {"near_down", I2{3, 4}, std::nullopt, InterpolateMode::nearest, false},
      {"near_scale", std::nullopt, std::array<double, 2>{1.7, 2.3}, InterpolateMode::nearest, false},
      {"bil_ac0", I2{9, 13}, std::nullopt, InterpolateMode::bilinear, false},
      {"bil_ac1", I2{9, 13}, std::nullopt, InterpolateMode::bilinear, true},
      {"bil_down_ac0", I2{3, 4}, std::nullopt, InterpolateMode::bilinear, false},
      {"bil_down_ac1", I2{3, 1}, std::nullopt, InterpolateMode::bilinear, true},
      {"bil_scale", std::nullopt, std::array<double, 2>{1.7, 2.3}, InterpolateMode::bilinear, false},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    const Tensor y = interpolate(x, c.size, c.scale, c.mode, c.ac);
    EXPECT_TRUE(tensors_close(y, f.at(c.name + "_y")));
    const Tensor dy = f.at(c.name + "_dy");
    Scales2d scales = c.scale;
    const Tensor dx = c.mode == InterpolateMode::nearest ? upsample_nearest2d_backward(dy, x.shape(), scales)
                                                         : upsample_bilinear2d_backward(dy, x.shape(), c.ac, scales);
    EXPECT_TRUE(tensors_close(dx, f.at(c.name + "_dx")));
  }
}

TEST(Interpolate, Misuse) {
  Tensor x = zeros({1, 2, 4, 4});
  EXPECT_KILN_ERROR(upsample_nearest2d(zeros({2, 4, 4}), {8, 8}), "expected a 4-d [N, C, H, W] input");
  EXPECT_KILN_ERROR(upsample_bilinear2d(x, {0, 8}, false), "output size must be positive");
  EXPECT_KILN_ERROR(upsample_nearest2d(zeros({1, 2, 4, 4}, DType::u8), {8, 8}), "floating");
  EXPECT_KILN_ERROR(interpolate(x, I2{8, 8}, std::array<double, 2>{2, 2}, InterpolateMode::nearest),
                    "exactly one of size and scale_factor");
  EXPECT_KILN_ERROR(interpolate(x, std::nullopt, std::array<double, 2>{-1, 2}, InterpolateMode::bilinear),
                    "scale factors must be positive");
  EXPECT_KILN_ERROR(interpolate(x, std::nullopt, std::array<double, 2>{0.1, 2}, InterpolateMode::bilinear),
                    "output size must be positive");
  EXPECT_KILN_ERROR(upsample_nearest2d_backward(zeros({1, 3, 8, 8}), x.shape()), "dy has shape [1, 3, 8, 8]");
  EXPECT_KILN_ERROR(upsample_bilinear2d_backward(zeros({1, 2, 8, 8}), Shape{2, 4, 4}, true), "input_shape must be 4-d");
}

}  // namespace
}  // namespace kiln::test
