// DynamicUnet on a small xresnet encoder: skip detection, output shape, gradients reach the encoder.
#include <gtest/gtest.h>

#include "kiln/autograd/ops.h"
#include "kiln/nn/conv.h"
#include "kiln/nn/unet.h"
#include "kiln/nn/xresnet.h"
#include "kiln/tensor/ops.h"

using namespace kiln;
using namespace kiln::nn;

TEST(ArchUnet, PixelShuffleMovesChannelsToSpace) {
  Tensor x = arange(0, 16, 1, DType::f32).reshape({1, 4, 2, 2});
  Tensor y = pixel_shuffle(x, 2);
  ASSERT_EQ(y.shape(), Shape({1, 1, 4, 4}));
  // out[0, 0, 2h + i, 2w + j] = in[0, 2i + j, h, w]
  EXPECT_EQ(y.select(1, 0).select(1, 1).select(1, 2).item<float>(), 9.0f);  // h=0 i=1, w=1 j=0: channel 2, (0, 1)
}

TEST(ArchUnet, XResNetEncoderShapesAndBackward) {
  manual_seed(0);
  auto body = xresnet18(10, 3)->slice(0, 6);  // stem, maxpool, stages 0 and 1
  DynamicUnet unet(body, 5, {32, 32});
  // sizes: 16, 16, 16, 8 (maxpool), 8, 4 -> changes after children 2 and 4, deepest first
  EXPECT_EQ(unet.skip_indices, std::vector<int64_t>({4, 2}));
  Tensor x = randn({2, 3, 32, 32});
  Tensor y = unet(x);
  EXPECT_EQ(y.shape(), Shape({2, 5, 32, 32}));
  ag::backward(ag::sum(y));
  auto first = std::dynamic_pointer_cast<Conv2d>((*std::dynamic_pointer_cast<Sequential>((*body)[0]))[0]);
  ASSERT_TRUE(first);
  EXPECT_TRUE(ag::grad(first->weight).defined());
  // a different input size still comes back at the input size
  unet.eval();
  ag::NoGradGuard ng;
  EXPECT_EQ(unet(randn({1, 3, 40, 24})).shape(), Shape({1, 5, 40, 24}));
}
