// affine_grid and grid_sample: op-table rows against f64 loop references (every mode x padding x
// align_corners), golden fixtures from torch, misuse.
#include <cmath>

#include "support/op_table.h"

namespace kiln::test {
namespace {

double ref_base(int64_t i, int64_t n, bool ac) {
  if (n == 1) return ac ? -1.0 : 0.0;
  const double v = -1.0 + 2.0 * double(i) / double(n - 1);
  return ac ? v : v * double(n - 1) / double(n);
}

Ref ref_affine_grid(const Ref& theta, int64_t H, int64_t W, bool ac) {
  const int64_t N = theta.shape[0];
  Ref g(Shape{N, H, W, 2});
  for (int64_t n = 0; n < N; ++n)
    for (int64_t h = 0; h < H; ++h)
      for (int64_t w = 0; w < W; ++w) {
        const double* t = theta.v.data() + n * 6;
        const double x = ref_base(w, W, ac), y = ref_base(h, H, ac);
        g.v[size_t(((n * H + h) * W + w) * 2)] = t[0] * x + t[1] * y + t[2];
        g.v[size_t(((n * H + h) * W + w) * 2 + 1)] = t[3] * x + t[4] * y + t[5];
      }
  return g;
}

// Pixel coordinate read along an axis of n pixels (reflection as a periodic fold, an independent
// formulation of the kernel's maths).
double ref_coord(double c, int64_t n, GridSamplePadding pad, bool ac) {
  double x = ac ? (c + 1) / 2 * double(n - 1) : ((c + 1) * double(n) - 1) / 2;
  if (pad == GridSamplePadding::reflection) {
    if (ac) {
      const double period = 2.0 * double(n - 1);
      if (period == 0) return 0;
      x = std::fmod(std::fabs(x), period);
      if (x > double(n - 1)) x = period - x;
    } else {
      const double period = 2.0 * double(n);
      double y = std::fmod(std::fabs(x + 0.5), period);
      if (y > double(n)) y = period - y;
      x = y - 0.5;
    }
  }
  if (pad != GridSamplePadding::zeros) x = std::min(std::max(x, 0.0), double(n - 1));
  return x;
}

Ref ref_grid_sample(const Ref& x, const Ref& grid, GridSampleMode mode, GridSamplePadding pad, bool ac) {
  const int64_t N = x.shape[0], C = x.shape[1], H = x.shape[2], W = x.shape[3];
  const int64_t OH = grid.shape[1], OW = grid.shape[2];
  Ref y(Shape{N, C, OH, OW});
  for (int64_t n = 0; n < N; ++n)
    for (int64_t oh = 0; oh < OH; ++oh)
      for (int64_t ow = 0; ow < OW; ++ow) {
        const size_t gi = size_t(((n * OH + oh) * OW + ow) * 2);
        const double ix = ref_coord(grid.v[gi], W, pad, ac), iy = ref_coord(grid.v[gi + 1], H, pad, ac);
        auto read = [&](int64_t c, int64_t yy, int64_t xx) {
          return (xx >= 0 && xx < W && yy >= 0 && yy < H) ? x.v[size_t(((n * C + c) * H + yy) * W + xx)] : 0.0;
        };
        for (int64_t c = 0; c < C; ++c) {
          double v;
          if (mode == GridSampleMode::nearest) {
            v = read(c, int64_t(std::nearbyint(iy)), int64_t(std::nearbyint(ix)));
          } else {
            const int64_t x0 = int64_t(std::floor(ix)), y0 = int64_t(std::floor(iy));
            const double tx = ix - double(x0), ty = iy - double(y0);
            v = read(c, y0, x0) * (1 - tx) * (1 - ty) + read(c, y0, x0 + 1) * tx * (1 - ty) +
                read(c, y0 + 1, x0) * (1 - tx) * ty + read(c, y0 + 1, x0 + 1) * tx * ty;
          }
          y.v[size_t(((n * C + c) * OH + oh) * OW + ow)] = v;
        }
      }
  return y;
}

std::vector<OpRow> make_rows() {
  std::vector<OpRow> rows;
  for (bool ac : {false, true})
    for (std::array<int64_t, 2> hw : {std::array<int64_t, 2>{1, 1}, {5, 7}, {32, 33}}) {
      OpRow r;
      r.name = std::string("affine_grid_ac") + (ac ? "1_" : "0_") + std::to_string(hw[0]) + "x" + std::to_string(hw[1]);
      r.cases = {{{0, 2, 3}}, {{1, 2, 3}}, {{3, 2, 3}}};
      r.run = [ac, hw](const std::vector<Tensor>& in) {
        return affine_grid(in[0], {in[0].size(0), 3, hw[0], hw[1]}, ac);
      };
      r.ref = [ac, hw](const std::vector<Ref>& in) { return ref_affine_grid(in[0], hw[0], hw[1], ac); };
      r.dtypes = {DType::f32, DType::f64, DType::f16, DType::bf16};
      r.tol = Tol{2e-2, 1e-3};  // f16/bf16 results of |values| up to ~10
      r.differentiable = true;
      rows.push_back(r);
    }
  const std::vector<std::vector<Shape>> cases = {
      {{0, 2, 3, 3}, {0, 4, 4, 2}}, {{1, 1, 1, 1}, {1, 1, 1, 2}}, {{2, 3, 5, 7}, {2, 6, 8, 2}},
      {{1, 2, 13, 11}, {1, 17, 19, 2}}, {{2, 3, 20, 20}, {2, 30, 37, 2}}};
  const char* pad_names[] = {"zeros", "border", "reflection"};
  for (GridSampleMode mode : {GridSampleMode::bilinear, GridSampleMode::nearest})
    for (int p = 0; p < 3; ++p)
      for (bool ac : {false, true}) {
        const GridSamplePadding pad = GridSamplePadding(p);
        OpRow r;
        r.name = std::string("grid_sample_") + (mode == GridSampleMode::nearest ? "nearest_" : "bilinear_") +
                 pad_names[p] + (ac ? "_ac1" : "_ac0");
        r.cases = cases;
        r.domains = {Domain::any, Domain::unit};
        r.run = [mode, pad, ac](const std::vector<Tensor>& in) { return grid_sample(in[0], in[1], mode, pad, ac); };
        r.ref = [mode, pad, ac](const std::vector<Ref>& in) { return ref_grid_sample(in[0], in[1], mode, pad, ac); };
        r.tol = Tol{1e-5, 1e-5};
        r.differentiable = mode == GridSampleMode::bilinear;
        // Spread the grid beyond [-1, 1] (unit domain is (-0.95, 0.95)) to exercise the padding modes.
        r.make = [](const std::vector<Shape>& s, DType dt, uint64_t seed) {
          Ref g = to_ref(random_tensor(s[1], DType::f64, Domain::unit, seed * 31 + 1));
          for (auto& v : g.v) v *= 1.6;
          return std::vector<Tensor>{random_tensor(s[0], dt, Domain::any, seed * 31), from_ref(g, dt)};
        };
        rows.push_back(r);
      }
  return rows;
}

static OpRegistrar reg(with_parity(make_rows(), Parity::accumulated));

TEST(GridSample, GoldenTorch) {
  auto f = load_fixture("nn_grid_sample");
  const Tensor x = f.at("x"), theta = f.at("theta");
  const char* pads[] = {"zeros", "border", "reflection"};
  for (int ac = 0; ac < 2; ++ac) {
    const Tensor grid = affine_grid(theta, {2, 3, 6, 8}, ac == 1);
    EXPECT_TRUE(tensors_close(grid, f.at("grid_ac" + std::to_string(ac)), 1e-7, 1e-12));
    for (GridSampleMode mode : {GridSampleMode::bilinear, GridSampleMode::nearest})
      for (int p = 0; p < 3; ++p) {
        const std::string key = std::string("y_") + (mode == GridSampleMode::bilinear ? "bilinear_" : "nearest_") +
                                pads[p] + "_ac" + std::to_string(ac);
        SCOPED_TRACE(key);
        // Sample torch's own grid so the comparison isolates grid_sample.
        EXPECT_TRUE(tensors_close(grid_sample(x, f.at("grid_ac" + std::to_string(ac)), mode, GridSamplePadding(p), ac == 1),
                                  f.at(key)));
        EXPECT_TRUE(tensors_close(grid_sample(x.to(DType::f32), grid.to(DType::f32), mode, GridSamplePadding(p), ac == 1),
                                  f.at(key), 1e-5, 1e-5));
      }
  }
}

TEST(GridSample, IdentityThetaReproducesInput) {
  Tensor x = random_tensor({2, 3, 6, 5}, DType::f32, Domain::any, 3);
  Tensor theta = from_vector(std::vector<float>{1, 0, 0, 0, 1, 0, 1, 0, 0, 0, 1, 0}, {2, 2, 3});
  for (bool ac : {false, true})
    for (GridSampleMode mode : {GridSampleMode::bilinear, GridSampleMode::nearest})
      EXPECT_TRUE(tensors_close(grid_sample(x, affine_grid(theta, x.shape(), ac), mode, GridSamplePadding::zeros, ac), x,
                                1e-5, 1e-5));
}

TEST(GridSample, Misuse) {
  Tensor x = zeros({2, 3, 4, 4});
  EXPECT_KILN_ERROR(affine_grid(zeros({2, 3, 3}), {2, 3, 4, 4}), "theta must have shape [N, 2, 3] = [2, 2, 3]");
  EXPECT_KILN_ERROR(affine_grid(zeros({1, 2, 3}), {2, 3, 4, 4}), "theta must have shape");
  EXPECT_KILN_ERROR(affine_grid(zeros({2, 2, 3}), {2, 3, 4}), "size must be 4-d");
  EXPECT_KILN_ERROR(affine_grid(zeros({2, 2, 3}), {2, 3, 0, 4}), "H and W must be positive");
  EXPECT_KILN_ERROR(affine_grid(zeros({2, 2, 3}, DType::i64), {2, 3, 4, 4}), "floating");
  EXPECT_KILN_ERROR(grid_sample(x, zeros({2, 4, 4, 3})), "grid's last dim must be 2");
  EXPECT_KILN_ERROR(grid_sample(x, zeros({1, 4, 4, 2})), "grid has batch size 1 but input has 2");
  EXPECT_KILN_ERROR(grid_sample(zeros({3, 4, 4}), zeros({1, 4, 4, 2})), "expected a 4-d [N, C, H, W] input");
  EXPECT_KILN_ERROR(grid_sample(x, zeros({2, 4, 4, 2}, DType::f64)), "grid has dtype f64 but input has f32");
  EXPECT_KILN_ERROR(grid_sample(x, zeros({2, 16, 2})), "expected a 4-d [N, OH, OW, 2] grid");
}

}  // namespace
}  // namespace kiln::test
