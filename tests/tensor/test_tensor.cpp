// Tensor metadata, views, copies and printing.
#include <cmath>

#include "support/fixtures.h"

namespace kiln {
namespace {
using test::tensors_equal;

TEST(Tensor, CreationAndItem) {
  Tensor t = full({2, 3}, 2.5);
  EXPECT_EQ(t.shape(), Shape({2, 3}));
  EXPECT_EQ(t.numel(), 6);
  EXPECT_TRUE(t.is_contiguous());
  EXPECT_EQ(t.select(0, 1).select(0, 2).item<float>(), 2.5f);
  EXPECT_EQ(zeros({0, 4}).numel(), 0);
  EXPECT_EQ(scalar_tensor(3).dtype(), DType::i64);
}

TEST(Tensor, ViewsShareStorageAndBumpVersion) {
  Tensor t = arange(12).reshape({3, 4});
  Tensor v = t.transpose(0, 1);
  EXPECT_TRUE(v.shares_storage(t));
  EXPECT_FALSE(v.is_contiguous());
  EXPECT_EQ(v.shape(), Shape({4, 3}));
  EXPECT_EQ(v.select(0, 1).to_vector<float>(), (std::vector<float>{1, 5, 9}));
  uint64_t ver = t.version();
  v.select(0, 0).copy_(full({3}, -1.0));
  EXPECT_GT(t.version(), ver);
  EXPECT_EQ(t.select(1, 0).to_vector<float>(), (std::vector<float>{-1, -1, -1}));
}

TEST(Tensor, ViewVsReshape) {
  Tensor t = arange(24).reshape({2, 3, 4});
  EXPECT_EQ(t.view({6, 4}).shape(), Shape({6, 4}));
  EXPECT_EQ(t.view({-1}).shape(), Shape({24}));
  Tensor p = t.permute({2, 0, 1});
  EXPECT_KILN_ERROR(p.view({24}), "without a copy");
  Tensor r = p.reshape({24});
  EXPECT_TRUE(r.is_contiguous());
  EXPECT_EQ(r.to_vector<float>()[1], 4.0f);
  // Viewing a non-contiguous tensor is possible when dims only split/merge contiguous chunks.
  Tensor s = t.slice(2, 0, 4, 2);  // [2,3,2], strides [12,4,2]
  EXPECT_EQ(s.view({6, 2}).strides(), Shape({4, 2}));
  EXPECT_KILN_ERROR(t.view({5, -1}), "invalid for a tensor of 24");
}

TEST(Tensor, ExpandSqueezeNarrowSelect) {
  Tensor t = arange(3).reshape({3, 1});
  Tensor e = t.expand({2, 3, 4});
  EXPECT_EQ(e.strides(), Shape({0, 1, 0}));
  EXPECT_EQ(e.contiguous().to_vector<float>()[5], 1.0f);
  EXPECT_EQ(t.squeeze().shape(), Shape({3}));
  EXPECT_EQ(t.unsqueeze(0).shape(), Shape({1, 3, 1}));
  EXPECT_EQ(t.unsqueeze(-1).shape(), Shape({3, 1, 1}));
  EXPECT_EQ(arange(10).narrow(0, 2, 3).to_vector<float>(), (std::vector<float>{2, 3, 4}));
  EXPECT_EQ(arange(10).slice(0, -4, 100, 2).to_vector<float>(), (std::vector<float>{6, 8}));
  EXPECT_KILN_ERROR(t.expand({2, 2}), "cannot expand");
  EXPECT_KILN_ERROR(arange(10).select(0, 10), "out of range");
  EXPECT_KILN_ERROR(arange(10).narrow(0, 8, 3), "out of range");
  EXPECT_KILN_ERROR(t.permute({0, 0}), "repeated");
}

TEST(Tensor, FlattenUnflatten) {
  Tensor t = zeros({2, 3, 4, 5});
  EXPECT_EQ(t.flatten(1).shape(), Shape({2, 60}));
  EXPECT_EQ(t.flatten(1, 2).shape(), Shape({2, 12, 5}));
  EXPECT_EQ(t.unflatten(2, {2, -1}).shape(), Shape({2, 3, 2, 2, 5}));
}

TEST(Tensor, CastsRoundTrip) {
  Tensor t = tensor({-2.7, -0.5, 0.0, 1.5, 65504.0, 1e-7});
  EXPECT_EQ(t.to(DType::i32).to_vector<int32_t>(), (std::vector<int32_t>{-2, 0, 0, 1, 65504, 0}));
  EXPECT_EQ(t.to(DType::b8).to_vector<uint8_t>(), (std::vector<uint8_t>{1, 1, 0, 1, 1, 1}));
  auto h = t.to(DType::f16).to_vector<float>();
  EXPECT_EQ(h[0], -2.69921875f);  // nearest half to -2.7
  EXPECT_EQ(h[4], 65504.0f);
  EXPECT_NEAR(h[5], 1.19209e-07f, 1e-10);  // a subnormal half
  EXPECT_EQ(tensor({1e6}).to(DType::f16).item<float>(), INFINITY);
  EXPECT_EQ(tensor({1.00390625}).to(DType::bf16).item<float>(), 1.0f);  // ties to even
  EXPECT_EQ(tensor({1.01171875}).to(DType::bf16).item<float>(), 1.015625f);
}

TEST(Tensor, HalfConversionIsExhaustivelyExact) {
  // Every finite half value converts to float and back unchanged.
  for (uint32_t b = 0; b < 0x10000; ++b) {
    uint16_t h = uint16_t(b);
    if (((h >> 10) & 0x1f) == 0x1f) continue;
    float f = half_bits_to_float(h);
    ASSERT_EQ(float_to_half_bits(f), h) << "bits " << b;
  }
}

TEST(Tensor, CopyBroadcastsAndChecks) {
  Tensor d = zeros({2, 3});
  d.copy_(tensor({1, 2, 3}));
  EXPECT_EQ(d.to_vector<float>(), (std::vector<float>{1, 2, 3, 1, 2, 3}));
  EXPECT_KILN_ERROR(d.copy_(zeros({4})), "cannot be broadcast");
  Tensor e = zeros({3}).expand({2, 3});
  EXPECT_KILN_ERROR(e.copy_(ones({2, 3})), "expanded view");
}

TEST(Tensor, Printing) {
  std::string s = tensor({{1, 2}, {3, 4}}).str();
  EXPECT_NE(s.find("[[1.0000, 2.0000],"), std::string::npos) << s;
  EXPECT_NE(s.find("shape=[2, 2], dtype=f32, device=cpu"), std::string::npos) << s;
  std::string big = zeros({100, 100}).str();
  EXPECT_NE(big.find("..."), std::string::npos);
  EXPECT_LT(big.size(), 2000u);
}

TEST(Tensor, CreationRanges) {
  EXPECT_EQ(arange(Scalar(1), Scalar(10), Scalar(3), DType::i64).to_vector<int64_t>(), (std::vector<int64_t>{1, 4, 7}));
  EXPECT_EQ(arange(Scalar(0.0), Scalar(1.0), Scalar(0.25)).numel(), 4);
  auto l = linspace(0, 1, 5).to_vector<float>();
  EXPECT_EQ(l, (std::vector<float>{0, 0.25f, 0.5f, 0.75f, 1.0f}));
  EXPECT_EQ(eye(2, 3).to_vector<float>(), (std::vector<float>{1, 0, 0, 0, 1, 0}));
  EXPECT_KILN_ERROR(arange(Scalar(0), Scalar(5), Scalar(0)), "non-zero");
  EXPECT_KILN_ERROR(zeros({2, -1}), "negative size");
}

TEST(Tensor, CudaWithoutBackendIsAClearError) {
  EXPECT_KILN_ERROR(zeros({2}, DType::f32, kCUDA), "cuda");
}

}  // namespace
}  // namespace kiln
