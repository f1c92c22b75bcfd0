// CPU-vs-CUDA parity of softmax / log_softmax forward and backward (tensor/softmax.cpp): rows of
// length 1, 7, 1024, 4097, 100000, dims other than the last, f32/f64/f16/bf16, rows with -inf,
// NaN and +inf, non-contiguous inputs, run-twice bit equality, with guard mode on. Skips without a
// GPU.
#if KILN_HAVE_CUDA
#include <limits>
#include <vector>

#include "support/cuda_parity.h"
#include "support/op_table.h"

namespace kiln::test {
namespace {

struct SoftmaxCase {
  Shape shape;
  int64_t dim;
};

const std::vector<SoftmaxCase>& softmax_cases() {
  static const std::vector<SoftmaxCase> cases = {
      {{5, 1}, -1},     {{3, 7}, -1},       {{33, 1024}, 1},  {{4, 4097}, -1},   {{2, 100000}, -1},
      {{300, 7}, 1},    {{3, 7, 5}, 0},     {{4, 4097, 3}, 1}, {{2, 1000, 33}, 1}, {{6, 1, 9}, 1},
      {{0, 5}, 1},      {{5, 0}, 1},        {{7}, 0},         {{}, 0},
  };
  return cases;
}

TEST(SoftmaxCuda, ForwardBackwardParity) {
  KILN_REQUIRE_GPU();
  GuardScope guard;
  uint64_t seed = 1;
  for (const SoftmaxCase& c : softmax_cases()) {
    for (DType dt : {DType::f32, DType::f64, DType::f16, DType::bf16}) {
      const Tensor x = (random_tensor(c.shape, DType::f32, Domain::any, seed++) * 3.0).to(dt);
      const Tensor dy = random_tensor(c.shape, dt, Domain::any, seed++);
      const Tensor xd = x.to(kCUDA), dyd = dy.to(kCUDA);
      for (bool log : {false, true}) {
        SCOPED_TRACE(::testing::Message() << (log ? "log_softmax " : "softmax ") << dtype_name(dt) << " shape "
                                          << c.shape << " dim " << c.dim);
        const Tensor y = log ? log_softmax(x, c.dim) : softmax(x, c.dim);
        const Tensor yd = log ? log_softmax(xd, c.dim) : softmax(xd, c.dim);
        EXPECT_TRUE(yd.device().is_cuda());
        EXPECT_TRUE(parity(yd, y, false));
        // Backward from the same y on both devices, so that only the backward is compared.
        const Tensor dx = log ? log_softmax_backward(dy, y, c.dim) : softmax_backward(dy, y, c.dim);
        const Tensor dxd = log ? log_softmax_backward(dyd, y.to(kCUDA), c.dim) : softmax_backward(dyd, y.to(kCUDA), c.dim);
        // The backward's row sum is a reduction: compared by normalised squared error.
        EXPECT_TRUE(parity(dxd, dx, true));
      }
    }
  }
  EXPECT_TRUE(guards_intact());
}

TEST(SoftmaxCuda, SpecialValues) {
  KILN_REQUIRE_GPU();
  GuardScope guard;
  const float nan = std::numeric_limits<float>::quiet_NaN(), inf = std::numeric_limits<float>::infinity();
  // Rows: masked entries, all -inf, a NaN, a +inf, large values.
  std::vector<float> v = {1, -inf, 3, -inf, -inf, -inf, -inf, -inf, 1, nan, 2, 0, inf, 1, 2, 3, 80, 90, 100, -100};
  for (DType dt : {DType::f32, DType::f64, DType::f16, DType::bf16}) {
    const Tensor x = from_vector(v, {5, 4}).to(dt);
    const Tensor xd = x.to(kCUDA);
    for (int64_t dim : {1, 0}) {
      SCOPED_TRACE(::testing::Message() << dtype_name(dt) << " dim " << dim);
      EXPECT_TRUE(parity(softmax(xd, dim), softmax(x, dim), false));
      EXPECT_TRUE(parity(log_softmax(xd, dim), log_softmax(x, dim), false));
    }
  }
  EXPECT_TRUE(guards_intact());
}

TEST(SoftmaxCuda, NonContiguousAndErrors) {
  KILN_REQUIRE_GPU();
  GuardScope guard;
  const Tensor x = random_tensor({513, 257}, DType::f32, Domain::any, 3).transpose(0, 1);
  const Tensor xd = x.to(kCUDA);
  for (int64_t dim : {0, 1}) {
    EXPECT_TRUE(parity(softmax(xd, dim), softmax(x, dim), false));
    EXPECT_TRUE(parity(log_softmax(xd, dim), log_softmax(x, dim), false));
  }
  // dy on the CPU, y on CUDA: an error naming both devices.
  const Tensor y = softmax(xd, 1);
  EXPECT_THROW(softmax_backward(x, y, 1), Error);
  EXPECT_THROW(softmax(random_tensor({3}, DType::i64, Domain::any, 1).to(kCUDA), 0), Error);
  EXPECT_TRUE(guards_intact());
}

TEST(SoftmaxCuda, RunTwiceBitIdentical) {
  KILN_REQUIRE_GPU();
  GuardScope guard;
  for (const Shape& s : {Shape{4, 100000}, Shape{33, 1024}, Shape{4, 4097, 3}}) {
    const Tensor x = random_tensor(s, DType::f32, Domain::any, 5).to(kCUDA);
    const Tensor dy = random_tensor(s, DType::f32, Domain::any, 6).to(kCUDA);
    EXPECT_TRUE(bit_identical(softmax(x, 1), softmax(x, 1)));
    EXPECT_TRUE(bit_identical(log_softmax(x, 1), log_softmax(x, 1)));
    const Tensor y = softmax(x, 1);
    EXPECT_TRUE(bit_identical(softmax_backward(dy, y, 1), softmax_backward(dy, y, 1)));
    EXPECT_TRUE(bit_identical(log_softmax_backward(dy, y, 1), log_softmax_backward(dy, y, 1)));
  }
  EXPECT_TRUE(guards_intact());
}

}  // namespace
}  // namespace kiln::test
#endif  // KILN_HAVE_CUDA
