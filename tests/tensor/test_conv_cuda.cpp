// CPU-vs-CUDA parity of tensor/conv.cpp on CUDA (cuDNN for the convolutions, kiln kernels for the
// bias, kernels/cuda/conv.h): conv2d forward, backward data / weight / bias and conv_transpose2d
// with stride, padding, dilation, groups (depthwise too), N = 1 and odd sizes; the algorithm cache
// (a second call does not search again); deterministic mode (bit-identical repeats). Guard regions
// around every CUDA allocation. Every test skips without a usable GPU.
#if KILN_HAVE_CUDA
#include <gtest/gtest.h>

#include <sstream>
#include <string>

#include "kiln/kernels/cuda/conv.h"
#include "kiln/kernels/determinism.h"
#include "support/cuda_parity.h"
#include "support/op_table.h"

namespace kiln::test {
namespace {

const DType kTypes[] = {DType::f32, DType::f64, DType::f16, DType::bf16};

#if KILN_HAVE_CUDNN
constexpr bool kHaveCudnn = true;
#else
constexpr bool kHaveCudnn = false;
#endif
// The convolution tests need cuDNN; a CUDA build without it checks the error instead.
#define KILN_REQUIRE_CUDNN()                                                                \
  do {                                                                                      \
    KILN_REQUIRE_GPU();                                                                     \
    if (!kHaveCudnn) GTEST_SKIP() << "CUDA convolution test skipped: built without cuDNN"; \
  } while (0)

struct Case {
  int64_t B, C, H, W, O, KH, KW;
  Size2 stride, padding, dilation;
  int64_t groups;
};

// Plain, strided, grouped, depthwise, dilated, 1x1, non-square everything, N = 1, odd sizes.
const Case kCases[] = {
    {2, 3, 11, 13, 4, 3, 3, 1, 1, 1, 1},
    {1, 4, 7, 7, 6, 3, 3, 2, 1, 1, 2},
    {2, 8, 9, 9, 8, 3, 3, 1, 1, 1, 8},                        // depthwise
    {1, 3, 15, 17, 5, 3, 3, 1, 2, 2, 1},                      // dilated
    {3, 16, 5, 5, 7, 1, 1, 1, 0, 1, 1},                       // pointwise
    {2, 6, 12, 10, 9, 5, 3, Size2(2, 3), Size2(2, 1), Size2(1, 2), 3},
    {1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1},                        // everything 1
    {5, 2, 8, 3, 3, 2, 2, 3, 0, 1, 1},                        // stride larger than the kernel
};

std::string describe(const char* op, const Case& c, DType d) {
  std::ostringstream os;
  os << op << " " << dtype_name(d) << " x[" << c.B << "," << c.C << "," << c.H << "," << c.W << "] w[" << c.O << ","
     << c.C / c.groups << "," << c.KH << "," << c.KW << "] stride " << c.stride.h << "x" << c.stride.w << " pad "
     << c.padding.h << "x" << c.padding.w << " dil " << c.dilation.h << "x" << c.dilation.w << " groups " << c.groups;
  return os.str();
}

Tensor input(const Shape& s, DType d, uint64_t seed) { return random_tensor(s, d, Domain::any, seed); }

// Convolutions compared by normalised squared error (Note [Parity tolerances]), every dtype, with
// one explicit exception: bf16 keeps this test's bound of 3e-4 instead of nse_bound's 1e-4 (sums
// of many products accumulated in another order by cuDNN than by the CPU, then rounded to bf16).
::testing::AssertionResult product_parity(const Tensor& gpu, const Tensor& cpu) {
  return parity_nse(gpu, cpu, cpu.dtype() == DType::bf16 ? 3e-4 : nse_bound(cpu.dtype()));
}

TEST(ConvCuda, ForwardAndBackwardParity) {
  KILN_REQUIRE_CUDNN();
  GuardScope guard;
  for (DType d : kTypes)
    for (const Case& c : kCases) {
      const Tensor x = input({c.B, c.C, c.H, c.W}, d, 1), w = input({c.O, c.C / c.groups, c.KH, c.KW}, d, 2);
      const Tensor bias = input({c.O}, d, 3);
      const Tensor gx = x.to(kCUDA), gw = w.to(kCUDA), gb = bias.to(kCUDA);
      const Tensor y = conv2d(x, w, bias, c.stride, c.padding, c.dilation, c.groups);
      EXPECT_TRUE(product_parity(conv2d(gx, gw, gb, c.stride, c.padding, c.dilation, c.groups), y))
          << describe("conv2d", c, d);
      EXPECT_TRUE(product_parity(conv2d(gx, gw, {}, c.stride, c.padding, c.dilation, c.groups),
                                 conv2d(x, w, {}, c.stride, c.padding, c.dilation, c.groups)))
          << describe("conv2d no bias", c, d);
      const Tensor dy = input(y.shape(), d, 4), gdy = dy.to(kCUDA);
      EXPECT_TRUE(product_parity(conv2d_backward_data(gdy, gw, x.shape(), c.stride, c.padding, c.dilation, c.groups),
                                 conv2d_backward_data(dy, w, x.shape(), c.stride, c.padding, c.dilation, c.groups)))
          << describe("conv2d_backward_data", c, d);
      EXPECT_TRUE(product_parity(conv2d_backward_weight(gdy, gx, w.shape(), c.stride, c.padding, c.dilation, c.groups),
                                 conv2d_backward_weight(dy, x, w.shape(), c.stride, c.padding, c.dilation, c.groups)))
          << describe("conv2d_backward_weight", c, d);
      EXPECT_TRUE(product_parity(conv2d_backward_bias(gdy), conv2d_backward_bias(dy)))
          << describe("conv2d_backward_bias", c, d);
      EXPECT_TRUE(guards_intact()) << describe("conv2d", c, d);
    }
}

TEST(ConvCuda, TransposedParity) {
  KILN_REQUIRE_CUDNN();
  GuardScope guard;
  struct T {
    int64_t B, Cin, H, W, Cout, KH, KW;
    Size2 stride, padding, output_padding;
    int64_t groups;
    Size2 dilation;
  };
  const T cases[] = {
      {2, 4, 5, 6, 3, 3, 3, 2, 1, 1, 1, 1},
      {1, 6, 7, 5, 4, 4, 4, 2, 1, 0, 2, 1},
      {3, 5, 3, 4, 5, 3, 2, Size2(3, 2), Size2(1, 0), Size2(2, 1), 5, 1},  // depthwise-like groups
      {1, 2, 9, 9, 3, 3, 3, 1, 2, 0, 1, 2},                               // dilated
  };
  for (DType d : kTypes)
    for (const T& c : cases) {
      const Tensor x = input({c.B, c.Cin, c.H, c.W}, d, 1), w = input({c.Cin, c.Cout / c.groups, c.KH, c.KW}, d, 2);
      const Tensor bias = input({c.Cout}, d, 3);
      const Tensor want = conv_transpose2d(x, w, bias, c.stride, c.padding, c.output_padding, c.groups, c.dilation);
      const Tensor got = conv_transpose2d(x.to(kCUDA), w.to(kCUDA), bias.to(kCUDA), c.stride, c.padding,
                                          c.output_padding, c.groups, c.dilation);
      std::ostringstream what;
      what << "conv_transpose2d " << dtype_name(d) << " x" << x.shape() << " w" << w.shape() << " -> " << want.shape();
      EXPECT_TRUE(product_parity(got, want)) << what.str();
      const Tensor dy = input(want.shape(), d, 4);
      EXPECT_TRUE(product_parity(
          conv_transpose2d_backward_data(dy.to(kCUDA), w.to(kCUDA), c.stride, c.padding, c.groups, c.dilation),
          conv_transpose2d_backward_data(dy, w, c.stride, c.padding, c.groups, c.dilation)))
          << what.str() + " backward_data";
      EXPECT_TRUE(
          product_parity(conv_transpose2d_backward_weight(dy.to(kCUDA), x.to(kCUDA), w.shape(), c.stride, c.padding,
                                                          c.groups, c.dilation),
                         conv_transpose2d_backward_weight(dy, x, w.shape(), c.stride, c.padding, c.groups, c.dilation)))
          << what.str() + " backward_weight";
      EXPECT_TRUE(guards_intact()) << what.str();
    }
}

TEST(ConvCuda, NonContiguousInputsAndEmptyBatch) {
  KILN_REQUIRE_CUDNN();
  GuardScope guard;
  for (DType d : kTypes) {
    // x as a channels-last view, w as a slice of a larger weight.
    const Tensor xs = input({2, 7, 9, 3}, d, 1).permute({0, 3, 1, 2});
    const Tensor ws = input({5, 3, 3, 4}, d, 2).narrow(3, 0, 3);
    EXPECT_TRUE(product_parity(conv2d(xs.to(kCUDA), ws.to(kCUDA), {}, 1, 1), conv2d(xs, ws, {}, 1, 1)))
        << std::string("conv2d non-contiguous ") + dtype_name(d);
    const Tensor x = input({0, 3, 6, 6}, d, 3), w = input({4, 3, 3, 3}, d, 4), dy = input({0, 4, 4, 4}, d, 5);
    EXPECT_TRUE(product_parity(conv2d(x.to(kCUDA), w.to(kCUDA)), conv2d(x, w))) << "conv2d B=0";
    EXPECT_TRUE(product_parity(conv2d_backward_weight(dy.to(kCUDA), x.to(kCUDA), w.shape()),
                               conv2d_backward_weight(dy, x, w.shape())))
        << "conv2d_backward_weight B=0 (zeros)";
    EXPECT_TRUE(product_parity(conv2d_backward_bias(dy.to(kCUDA)), conv2d_backward_bias(dy)))
        << "conv2d_backward_bias B=0";
    EXPECT_TRUE(guards_intact()) << dtype_name(d);
  }
}

TEST(ConvCuda, AlgorithmIsSearchedOncePerShape) {
  KILN_REQUIRE_CUDNN();
  const Tensor x = input({3, 5, 17, 19}, DType::f32, 1).to(kCUDA), w = input({7, 5, 3, 3}, DType::f32, 2).to(kCUDA);
  cuda::Conv2dGeom g;
  g.B = 3, g.C = 5, g.H = 17, g.W = 19, g.O = 7, g.KH = 3, g.KW = 3, g.PH = 1, g.PW = 1, g.OH = 17, g.OW = 19;
  const Tensor y1 = conv2d(x, w, {}, 1, 1);
  const int64_t after_first = cuda::conv2d_algorithm_searches();
  const cuda::ConvAlgorithm a = cuda::conv2d_cached_algorithm(cuda::ConvDirection::forward, DType::f32, g);
  EXPECT_TRUE(a.found);
  const Tensor y2 = conv2d(x, w, {}, 1, 1);
  EXPECT_EQ(cuda::conv2d_algorithm_searches(), after_first) << "the second call searched again";
  EXPECT_TRUE(bit_identical(y1, y2));
  // A new shape searches once more.
  conv2d(x.narrow(2, 0, 16), w, {}, 1, 1);
  EXPECT_EQ(cuda::conv2d_algorithm_searches(), after_first + 1);
  EXPECT_FALSE(cuda::conv2d_cached_algorithm(cuda::ConvDirection::backward_weight, DType::f64, g).found);
}

TEST(ConvCuda, DeterministicModeGivesBitIdenticalRuns) {
  KILN_REQUIRE_CUDNN();
  set_deterministic_algorithms(true);
  for (DType d : {DType::f32, DType::f16}) {
    const Tensor x = input({8, 32, 28, 28}, d, 1).to(kCUDA), w = input({64, 32, 3, 3}, d, 2).to(kCUDA);
    const Tensor dy = input({8, 64, 28, 28}, d, 3).to(kCUDA);
    try {
      EXPECT_TRUE(bit_identical(conv2d(x, w, {}, 1, 1), conv2d(x, w, {}, 1, 1))) << dtype_name(d);
      EXPECT_TRUE(bit_identical(conv2d_backward_data(dy, w, x.shape(), 1, 1),
                                conv2d_backward_data(dy, w, x.shape(), 1, 1)))
          << dtype_name(d);
      EXPECT_TRUE(bit_identical(conv2d_backward_weight(dy, x, w.shape(), 1, 1),
                                conv2d_backward_weight(dy, x, w.shape(), 1, 1)))
          << dtype_name(d);
      EXPECT_TRUE(bit_identical(conv2d_backward_bias(dy), conv2d_backward_bias(dy))) << dtype_name(d);
      const cuda::ConvAlgorithm a = cuda::conv2d_cached_algorithm(
          cuda::ConvDirection::backward_weight, d,
          cuda::Conv2dGeom{8, 32, 28, 28, 64, 28, 28, 3, 3, 1, 1, 1, 1, 1, 1, 1});
      EXPECT_TRUE(a.found && a.deterministic);
    } catch (const Error& e) {
      // Refusing is the other allowed outcome, and must say why.
      EXPECT_NE(std::string(e.what()).find("deterministic"), std::string::npos) << e.what();
    }
  }
  set_deterministic_algorithms(false);
}

TEST(ConvCuda, WithoutCudnnConvolutionsAreAClearError) {
  KILN_REQUIRE_GPU();
  if (kHaveCudnn) GTEST_SKIP() << "built with cuDNN";
  const Tensor x = input({1, 2, 5, 5}, DType::f32, 1).to(kCUDA), w = input({3, 2, 3, 3}, DType::f32, 2).to(kCUDA);
  try {
    conv2d(x, w);
    FAIL() << "conv2d on CUDA without cuDNN did not throw";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("without cuDNN"), std::string::npos) << e.what();
  }
  // The bias gradient is kiln's own kernel and works without cuDNN.
  const Tensor dy = input({2, 3, 4, 4}, DType::f32, 3);
  EXPECT_TRUE(product_parity(conv2d_backward_bias(dy.to(kCUDA)), conv2d_backward_bias(dy))) << "conv2d_backward_bias";
}

}  // namespace
}  // namespace kiln::test
#endif
