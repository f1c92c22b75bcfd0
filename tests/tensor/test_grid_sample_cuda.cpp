// affine_grid, grid_sample and grid_sample_backward on CUDA against the CPU: every mode x padding x
// align_corners, f32 / f64 / f16 / bf16, random and affine grids reaching outside [-1, 1], NaN / inf
// points, 1x1 and odd sizes, batch > 1, many points per input pixel, non-contiguous inputs, each
// gradient alone; run-twice bit equality of the backward pass (Note [Deterministic grid_sample
// backward]); guard mode on. Skips without a GPU.
#if KILN_HAVE_CUDA
#include <limits>
#include <sstream>

#include "kiln/tensor/grid_sample_backward.h"
#include "support/cuda_parity.h"

namespace kiln::test {
namespace {

const GridSampleMode kModes[] = {GridSampleMode::bilinear, GridSampleMode::nearest};
const GridSamplePadding kPaddings[] = {GridSamplePadding::zeros, GridSamplePadding::border,
                                       GridSamplePadding::reflection};
const DType kDtypes[] = {DType::f32, DType::f64, DType::f16, DType::bf16};

struct Case {
  Shape x;   // [N, C, H, W]
  int64_t OH, OW;
};
// 1x1 input and output, odd and prime sizes, batch > 1, up (many points per pixel) and down.
const Case kCases[] = {{{1, 1, 1, 1}, 1, 1}, {{2, 3, 7, 9}, 5, 6}, {{1, 2, 3, 3}, 40, 37},
                       {{3, 4, 31, 17}, 8, 11}, {{2, 1, 1, 5}, 3, 7}};

std::string name(GridSampleMode m, GridSamplePadding p, bool ac, DType d, const Case& c, bool nc) {
  std::ostringstream os;
  os << (m == GridSampleMode::bilinear ? "bilinear" : "nearest") << " padding " << int(p) << " ac " << ac << " "
     << dtype_name(d) << " x " << c.x << " out " << c.OH << "x" << c.OW << (nc ? " noncontig" : "");
  return os.str();
}

TEST(GridSampleCuda, AffineGridMatchesCpu) {
  KILN_REQUIRE_GPU();
  GuardScope guard;
  uint64_t seed = 1;
  for (DType d : kDtypes)
    for (bool ac : {false, true})
      for (const Shape& size : {Shape{1, 3, 1, 1}, Shape{2, 1, 5, 7}, Shape{3, 2, 32, 33}, Shape{0, 1, 4, 4}}) {
        SCOPED_TRACE(std::string(dtype_name(d)) + (ac ? " ac1 " : " ac0 "));
        const Tensor theta = random_cpu({size[0], 2, 3}, d, seed++);
        EXPECT_TRUE(parity(affine_grid(on_gpu(theta, true), size, ac), affine_grid(theta, size, ac), false));
        ASSERT_TRUE(guards_intact());
      }
}

TEST(GridSampleCuda, ForwardAndBackwardMatchCpu) {
  KILN_REQUIRE_GPU();
  GuardScope guard;
  uint64_t seed = 10;
  for (GridSampleMode m : kModes)
    for (GridSamplePadding p : kPaddings)
      for (bool ac : {false, true})
        for (DType d : kDtypes)
          for (const Case& c : kCases)
            for (bool nc : {false, true}) {
              SCOPED_TRACE(name(m, p, ac, d, c, nc));
              const Tensor x = random_cpu(c.x, d, seed++);
              // Reaches past the borders so that every padding mode matters.
              const Tensor grid = uniform_cpu({c.x[0], c.OH, c.OW, 2}, d, -1.4, 1.4, seed++);
              const Tensor dy = random_cpu({c.x[0], c.x[1], c.OH, c.OW}, d, seed++);
              const Tensor xg = on_gpu(x, nc), gg = on_gpu(grid, nc), dyg = on_gpu(dy, nc);
              EXPECT_TRUE(parity(grid_sample(xg, gg, m, p, ac), grid_sample(x, grid, m, p, ac), false));
              const GridSampleGrads gpu = grid_sample_backward(dyg, xg, gg, m, p, ac);
              const GridSampleGrads cpu = grid_sample_backward(dy, x, grid, m, p, ac);
              EXPECT_TRUE(parity(gpu.dx, cpu.dx, true));
              EXPECT_TRUE(parity(gpu.dgrid, cpu.dgrid, true));
              ASSERT_TRUE(guards_intact());
            }
}

// Affine grids (rotation + scale + shift) as the augmentation uses them.
TEST(GridSampleCuda, AffineGridSamplingMatchesCpu) {
  KILN_REQUIRE_GPU();
  GuardScope guard;
  const Tensor theta = tensor({0.8, -0.5, 0.1, 0.55, 0.9, -0.2, 1.3, 0.0, 0.0, 0.0, 1.3, 0.0}).view({2, 2, 3});
  const Tensor x = random_cpu({2, 3, 19, 23}, DType::f32, 5);
  const Tensor dy = random_cpu({2, 3, 24, 20}, DType::f32, 6);
  for (GridSampleMode m : kModes)
    for (GridSamplePadding p : kPaddings)
      for (bool ac : {false, true}) {
        SCOPED_TRACE(name(m, p, ac, DType::f32, Case{x.shape(), 24, 20}, false));
        const Tensor grid = affine_grid(theta, {2, 3, 24, 20}, ac);
        EXPECT_TRUE(
            parity(grid_sample(x.to(kCUDA), grid.to(kCUDA), m, p, ac), grid_sample(x, grid, m, p, ac), false));
        const GridSampleGrads gpu = grid_sample_backward(dy.to(kCUDA), x.to(kCUDA), grid.to(kCUDA), m, p, ac);
        const GridSampleGrads cpu = grid_sample_backward(dy, x, grid, m, p, ac);
        EXPECT_TRUE(parity(gpu.dx, cpu.dx, true));
        EXPECT_TRUE(parity(gpu.dgrid, cpu.dgrid, true));
      }
  EXPECT_TRUE(guards_intact());
}

// Points at NaN, +-inf and huge coordinates read nothing (the CPU's cut-off) on both devices.
TEST(GridSampleCuda, NonFinitePointsMatchCpu) {
  KILN_REQUIRE_GPU();
  GuardScope guard;
  const double inf = std::numeric_limits<double>::infinity(), nan = std::numeric_limits<double>::quiet_NaN();
  const Tensor grid = tensor({nan, 0.2, 0.3, inf, -inf, -0.5, 1e30, 0.1, 0.25, -0.75, 0.0, 0.0, 2.5, -3.5, 0.9, nan})
                          .view({1, 2, 4, 2});
  const Tensor x = random_cpu({1, 2, 5, 6}, DType::f32, 9);
  const Tensor dy = random_cpu({1, 2, 2, 4}, DType::f32, 10);
  for (GridSampleMode m : kModes)
    for (GridSamplePadding p : kPaddings)
      for (bool ac : {false, true}) {
        SCOPED_TRACE(name(m, p, ac, DType::f32, Case{x.shape(), 2, 4}, false));
        EXPECT_TRUE(
            parity(grid_sample(x.to(kCUDA), grid.to(kCUDA), m, p, ac), grid_sample(x, grid, m, p, ac), false));
        const GridSampleGrads gpu = grid_sample_backward(dy.to(kCUDA), x.to(kCUDA), grid.to(kCUDA), m, p, ac);
        const GridSampleGrads cpu = grid_sample_backward(dy, x, grid, m, p, ac);
        EXPECT_TRUE(parity(gpu.dx, cpu.dx, true));
        EXPECT_TRUE(parity(gpu.dgrid, cpu.dgrid, true));
      }
  EXPECT_TRUE(guards_intact());
}

TEST(GridSampleCuda, EachGradientAlone) {
  KILN_REQUIRE_GPU();
  GuardScope guard;
  const Tensor x = random_cpu({2, 3, 8, 9}, DType::f32, 20);
  const Tensor grid = uniform_cpu({2, 6, 5, 2}, DType::f32, -1.2, 1.2, 21);
  const Tensor dy = random_cpu({2, 3, 6, 5}, DType::f32, 22);
  for (GridSampleMode m : kModes) {
    const GridSampleGrads cpu = grid_sample_backward(dy, x, grid, m, GridSamplePadding::zeros, false);
    const GridSampleGrads only_dx = grid_sample_backward(dy.to(kCUDA), x.to(kCUDA), grid.to(kCUDA), m,
                                                         GridSamplePadding::zeros, false, true, false);
    const GridSampleGrads only_dg = grid_sample_backward(dy.to(kCUDA), x.to(kCUDA), grid.to(kCUDA), m,
                                                         GridSamplePadding::zeros, false, false, true);
    EXPECT_FALSE(only_dx.dgrid.defined());
    EXPECT_FALSE(only_dg.dx.defined());
    EXPECT_TRUE(parity(only_dx.dx, cpu.dx, true));
    EXPECT_TRUE(parity(only_dg.dgrid, cpu.dgrid, true));
  }
  EXPECT_TRUE(guards_intact());
}

// dy in another dtype than x and grid: computed in x's compute dtype, as on the CPU.
TEST(GridSampleCuda, MixedDtypeBackwardMatchesCpu) {
  KILN_REQUIRE_GPU();
  GuardScope guard;
  const Tensor x = random_cpu({2, 3, 8, 9}, DType::f16, 50);
  const Tensor grid = uniform_cpu({2, 6, 5, 2}, DType::f16, -1.2, 1.2, 51);
  const Tensor dy = random_cpu({2, 3, 6, 5}, DType::f32, 52);
  for (GridSampleMode m : kModes) {
    const GridSampleGrads cpu = grid_sample_backward(dy, x, grid, m, GridSamplePadding::border, true);
    const GridSampleGrads gpu =
        grid_sample_backward(dy.to(kCUDA), x.to(kCUDA), grid.to(kCUDA), m, GridSamplePadding::border, true);
    EXPECT_TRUE(parity(gpu.dx, cpu.dx, true));
    EXPECT_TRUE(parity(gpu.dgrid, cpu.dgrid, true));
  }
  EXPECT_TRUE(guards_intact());
}

TEST(GridSampleCuda, EmptyShapes) {
  KILN_REQUIRE_GPU();
  GuardScope guard;
  const Tensor x = random_cpu({2, 3, 4, 5}, DType::f32, 30).to(kCUDA);
  const Tensor grid = zeros({2, 0, 3, 2}, DType::f32, kCUDA);
  EXPECT_EQ(grid_sample(x, grid).shape(), Shape({2, 3, 0, 3}));
  const GridSampleGrads g = grid_sample_backward(zeros({2, 3, 0, 3}, DType::f32, kCUDA), x, grid);
  EXPECT_TRUE(tensors_equal(g.dx.cpu(), zeros({2, 3, 4, 5})));
  EXPECT_EQ(g.dgrid.shape(), grid.shape());
  EXPECT_TRUE(guards_intact());
}

TEST(GridSampleCuda, BackwardIsBitwiseRepeatable) {
  KILN_REQUIRE_GPU();
  GuardScope guard;
  // Upsampling grid: dozens of points land on every input pixel, in an order that atomics would
  // not keep from run to run.
  const Tensor x = random_cpu({4, 8, 16, 16}, DType::f32, 40).to(kCUDA);
  const Tensor grid = uniform_cpu({4, 128, 96, 2}, DType::f32, -1.1, 1.1, 41).to(kCUDA);
  const Tensor dy = random_cpu({4, 8, 128, 96}, DType::f32, 42).to(kCUDA);
  for (GridSampleMode m : kModes)
    for (GridSamplePadding p : kPaddings) {
      const GridSampleGrads a = grid_sample_backward(dy, x, grid, m, p, false);
      const GridSampleGrads b = grid_sample_backward(dy, x, grid, m, p, false);
      EXPECT_TRUE(bit_identical(a.dx, b.dx));
      EXPECT_TRUE(bit_identical(a.dgrid, b.dgrid));
    }
  EXPECT_TRUE(guards_intact());
}

TEST(GridSampleCuda, MixedDevicesAreAnError) {
  KILN_REQUIRE_GPU();
  const Tensor x = zeros({1, 1, 3, 3}, DType::f32, kCUDA);
  const Tensor grid = zeros({1, 2, 2, 2});
  EXPECT_KILN_ERROR(grid_sample(x, grid), "grid_sample");
  EXPECT_KILN_ERROR(grid_sample_backward(zeros({1, 1, 2, 2}, DType::f32, kCUDA), x, grid), "grid_sample_backward");
}

}  // namespace
}  // namespace kiln::test
#endif  // KILN_HAVE_CUDA
