// upsample_nearest2d / upsample_bilinear2d (+ backward) and interpolate on CUDA against the CPU:
// every mode x align_corners, f32 / f64 / f16 / bf16, up and down scaling, integer and
// non-integer scale factors, 1x1 and odd sizes, batch > 1, non-contiguous inputs; run-twice bit
// equality of the backward passes (Note [Interpolate backward by gathering]); guard mode on.
// Skips without a GPU.
#if KILN_HAVE_CUDA
#include <optional>
#include <sstream>

#include "support/cuda_parity.h"

namespace kiln::test {
namespace {

using I2 = std::array<int64_t, 2>;

struct Mode {
  const char* name;
  bool bilinear, align_corners;
};
const Mode kModes[] = {{"nearest", false, false}, {"bilinear_ac0", true, false}, {"bilinear_ac1", true, true}};
const DType kDtypes[] = {DType::f32, DType::f64, DType::f16, DType::bf16};

// Input shapes and output sizes: 1x1, primes, odd sizes, batch > 1, exact 2x / 3x up, downscaling.
const Shape kInputs[] = {{1, 1, 1, 1}, {2, 3, 5, 7}, {1, 2, 13, 11}, {3, 1, 4, 4}, {2, 2, 31, 37}};
const I2 kOutputs[] = {{1, 1}, {2, 3}, {8, 8}, {12, 12}, {10, 14}, {64, 41}};

Tensor forward(const Mode& m, const Tensor& x, I2 out, Scales2d scales = std::nullopt) {
  return m.bilinear ? upsample_bilinear2d(x, out, m.align_corners, scales) : upsample_nearest2d(x, out, scales);
}
Tensor backward(const Mode& m, const Tensor& dy, const Shape& in, Scales2d scales = std::nullopt) {
  return m.bilinear ? upsample_bilinear2d_backward(dy, in, m.align_corners, scales)
                    : upsample_nearest2d_backward(dy, in, scales);
}

std::string trace(const Mode& m, DType d, const Shape& in, I2 out, bool nc) {
  std::ostringstream os;
  os << m.name << " " << dtype_name(d) << " " << in << " -> " << out[0] << "x" << out[1] << (nc ? " noncontig" : "");
  return os.str();
}

TEST(InterpolateCuda, ForwardAndBackwardMatchCpu) {
  KILN_REQUIRE_GPU();
  GuardScope guard;
  uint64_t seed = 1;
  for (const Mode& m : kModes)
    for (DType d : kDtypes)
      for (const Shape& in : kInputs)
        for (I2 out : kOutputs)
          for (bool nc : {false, true}) {
            SCOPED_TRACE(trace(m, d, in, out, nc));
            const Tensor x = random_cpu(in, d, seed++);
            const Tensor dy = random_cpu({in[0], in[1], out[0], out[1]}, d, seed++);
            EXPECT_TRUE(parity(forward(m, on_gpu(x, nc), out), forward(m, x, out), false));
            EXPECT_TRUE(parity(backward(m, on_gpu(dy, nc), in), backward(m, dy, in), true));
            ASSERT_TRUE(guards_intact());
          }
}

TEST(InterpolateCuda, ScaleFactorsMatchCpu) {
  KILN_REQUIRE_GPU();
  GuardScope guard;
  const std::array<double, 2> scales[] = {{2, 2}, {3, 1}, {1.7, 2.3}, {0.5, 0.5}, {0.37, 0.81}, {1.0, 4.2}};
  uint64_t seed = 100;
  for (const Mode& m : kModes)
    for (DType d : {DType::f32, DType::f64, DType::f16})
      for (const auto& sc : scales) {
        const Shape in{2, 3, 9, 11};
        const Tensor x = random_cpu(in, d, seed++);
        const InterpolateMode im = m.bilinear ? InterpolateMode::bilinear : InterpolateMode::nearest;
        const Tensor y_cpu = interpolate(x, std::nullopt, sc, im, m.align_corners);
        const I2 out{y_cpu.size(2), y_cpu.size(3)};
        SCOPED_TRACE(trace(m, d, in, out, false) + " scale " + std::to_string(sc[0]) + "," + std::to_string(sc[1]));
        EXPECT_TRUE(parity(interpolate(on_gpu(x, false), std::nullopt, sc, im, m.align_corners), y_cpu, false));
        const Tensor dy = random_cpu(y_cpu.shape(), d, seed++);
        EXPECT_TRUE(parity(backward(m, on_gpu(dy, true), in, sc), backward(m, dy, in, sc), true));
        ASSERT_TRUE(guards_intact());
      }
}

TEST(InterpolateCuda, EmptyBatch) {
  KILN_REQUIRE_GPU();
  GuardScope guard;
  for (const Mode& m : kModes) {
    const Tensor x = zeros({0, 2, 3, 3}, DType::f32, kCUDA);
    const Tensor y = forward(m, x, {5, 4});
    EXPECT_EQ(y.shape(), Shape({0, 2, 5, 4}));
    EXPECT_TRUE(y.device().is_cuda());
    const Tensor dx = backward(m, zeros({0, 2, 5, 4}, DType::f32, kCUDA), x.shape());
    EXPECT_EQ(dx.shape(), x.shape());
  }
  EXPECT_TRUE(guards_intact());
}

TEST(InterpolateCuda, BackwardIsBitwiseRepeatable) {
  KILN_REQUIRE_GPU();
  GuardScope guard;
  const Shape in{4, 8, 33, 29};
  for (const Mode& m : kModes)
    for (I2 out : {I2{97, 71}, I2{16, 15}, I2{66, 58}}) {
      SCOPED_TRACE(trace(m, DType::f32, in, out, false));
      const Tensor dy = random_cpu({in[0], in[1], out[0], out[1]}, DType::f32, 7).to(kCUDA);
      const Tensor a = backward(m, dy, in), b = backward(m, dy, in);
      EXPECT_TRUE(bit_identical(a, b));
    }
  EXPECT_TRUE(guards_intact());
}

// The CUDA backward gathers; the CPU scatters. Gradients of a constant dy count how often each
// input is read (nearest) or sum its weights (bilinear): exact small sums, compared exactly in f64.
TEST(InterpolateCuda, BackwardOfOnesIsExact) {
  KILN_REQUIRE_GPU();
  GuardScope guard;
  const Shape in{1, 1, 7, 5};
  for (const Mode& m : kModes)
    for (I2 out : {I2{14, 10}, I2{21, 15}, I2{3, 2}, I2{13, 9}}) {
      SCOPED_TRACE(trace(m, DType::f64, in, out, false));
      const Tensor dy = ones({1, 1, out[0], out[1]}, DType::f64);
      EXPECT_TRUE(tensors_close(backward(m, dy.to(kCUDA), in).cpu(), backward(m, dy, in), 1e-12, 1e-12));
    }
  EXPECT_TRUE(guards_intact());
}

}  // namespace
}  // namespace kiln::test
#endif  // KILN_HAVE_CUDA
