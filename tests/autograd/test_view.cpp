// Behaviour of the differentiable views, shape ops and indexing beyond the gradient checks:
// chains of views, storage sharing, errors passed through from the raw ops, no-grad mode, dtypes,
// multi-output ops and saved index tensors.
#include <gtest/gtest.h>

#include "kiln/autograd/ops.h"
#include "kiln/tensor/ops.h"
#include "support/fixtures.h"

namespace kiln::ag {
namespace {

Tensor leaf(const Tensor& t) { return set_requires_grad(t); }
Tensor arange_f64(int64_t n, const Shape& shape) { return kiln::arange(n, DType::f64).reshape(shape); }

// The message of the kiln::Error thrown by f, or "" when it does not throw.
template <class F>
std::string error_of(F f) {
  try {
    (void)f();
  } catch (const kiln::Error& e) {
    return e.what();
  }
  return "";
}

TEST(AgView, GradientFlowsBackThroughChainedViews) {
  Tensor x = leaf(kiln::zeros({2, 3, 4}, DType::f64));
  Tensor v = ag::unsqueeze(ag::slice(ag::t(ag::view(x, {6, 4})), 1, 0, 6, 2), 0);  // [1, 4, 3]
  ASSERT_EQ(v.shape(), Shape({1, 4, 3}));
  EXPECT_TRUE(v.shares_storage(x));
  EXPECT_EQ(grad_fn(v)->name, "unsqueeze");
  Tensor g = arange_f64(12, {1, 4, 3});
  backward(v, g);
  // The same placement done by hand on a zero buffer: dy lands on every other row of x as [6, 4].
  Tensor expect = kiln::zeros({6, 4}, DType::f64);
  expect.t().slice(1, 0, 6, 2).copy_(g.squeeze(0));
  EXPECT_TRUE(test::tensors_equal(grad(x), expect.view({2, 3, 4})));
  EXPECT_EQ(grad(x).dtype(), DType::f64);
}

TEST(AgView, ViewSharesStorageWithItsInput) {
  Tensor x = leaf(arange_f64(6, {2, 3}));
  Tensor y = ag::view(x, {3, 2});
  EXPECT_TRUE(y.shares_storage(x));
  EXPECT_EQ(y.data_ptr(), x.data_ptr());
  EXPECT_FALSE(y.is_same(x));  // a new handle carrying its own grad_fn
  EXPECT_TRUE(requires_grad(y));
  EXPECT_FALSE(is_leaf(y));
  // A raw in-place write through the input is visible through the view.
  detach(x).select(0, 1).select(0, 2).copy_(kiln::scalar_tensor(42.0, DType::f64));
  EXPECT_EQ(y.to_vector<double>().back(), 42.0);
  EXPECT_TRUE(ag::permute(x, {1, 0}).shares_storage(x));
  EXPECT_TRUE(ag::expand(ag::unsqueeze(x, 0), {4, 2, 3}).shares_storage(x));
  EXPECT_TRUE(ag::select(x, 1, -1).shares_storage(x));
  EXPECT_FALSE(ag::clone(x).shares_storage(x));
}

TEST(AgView, BadShapesGiveTheRawOpsErrorUnchanged) {
  Tensor raw = arange_f64(6, {2, 3});
  Tensor x = leaf(raw.clone());
  auto same = [](const std::string& a, const std::string& b) {
    EXPECT_FALSE(a.empty());
    EXPECT_EQ(a, b);
  };
  same(error_of([&] { return raw.view({4, 2}); }), error_of([&] { return ag::view(x, {4, 2}); }));
  same(error_of([&] { return raw.t().view({6}); }), error_of([&] { return ag::view(ag::t(x), {6}); }));
  same(error_of([&] { return raw.permute({0, 0}); }), error_of([&] { return ag::permute(x, {0, 0}); }));
  same(error_of([&] { return raw.expand({3, 3}); }), error_of([&] { return ag::expand(x, {3, 3}); }));
  same(error_of([&] { return raw.narrow(1, 2, 5); }), error_of([&] { return ag::narrow(x, 1, 2, 5); }));
  same(error_of([&] { return kiln::cat({raw, raw.t()}, 0); }), error_of([&] { return ag::cat({x, ag::t(x)}, 0); }));
  same(error_of([&] { return kiln::pad(raw, {3, 3}, PadMode::reflect); }),
       error_of([&] { return ag::pad(x, {3, 3}, PadMode::reflect); }));
  Tensor bad = kiln::tensor({0, 7}, DType::i64);
  same(error_of([&] { return kiln::index_select(raw, 1, bad); }), error_of([&] { return ag::index_select(x, 1, bad); }));
  EXPECT_KILN_ERROR(ag::view(x, {4, 2}), "view");
}

TEST(AgView, NoGraphUnderNoGrad) {
  Tensor x = leaf(arange_f64(6, {2, 3}));
  {
    NoGradGuard ng;
    EXPECT_FALSE(requires_grad(ag::view(x, {6})));
    EXPECT_FALSE(requires_grad(ag::cat({x, x})));
    EXPECT_FALSE(requires_grad(ag::split(x, 1)[0]));
    EXPECT_FALSE(requires_grad(ag::gather(x, 1, kiln::zeros({2, 1}, DType::i64))));
  }
  EXPECT_TRUE(requires_grad(ag::view(x, {6})));
  // Nothing requires grad: the raw result comes back without a node.
  Tensor c = kiln::ones({2, 3}, DType::f64);
  EXPECT_FALSE(grad_fn(ag::reshape(c, {3, 2})));
}

TEST(AgView, CastsSendTheGradientBackInTheInputDtype) {
  Tensor x = leaf(kiln::tensor({1, 2, 3}, DType::f32));
  Tensor y = ag::to(x, DType::f64);
  EXPECT_EQ(y.dtype(), DType::f64);
  backward(y, kiln::tensor({1, 2, 3}, DType::f64));
  EXPECT_EQ(grad(x).dtype(), DType::f32);
  EXPECT_EQ(grad(x).to_vector<float>(), (std::vector<float>{1, 2, 3}));
  // A cast to an integer dtype carries no gradient.
  EXPECT_FALSE(requires_grad(ag::to(x, DType::i64)));
  EXPECT_EQ(grad_fn(ag::to(x, kCPU))->name, "to");
}

TEST(AgView, ExpandSumsTheBroadcastCopies) {
  Tensor x = leaf(kiln::tensor({1, 2, 3}, DType::f64).reshape({3, 1}));
  backward(ag::expand(x, {2, 3, 4}), kiln::ones({2, 3, 4}, DType::f64));
  EXPECT_EQ(grad(x).shape(), Shape({3, 1}));
  EXPECT_EQ(grad(x).to_vector<double>(), (std::vector<double>{8, 8, 8}));
}

TEST(AgShapeOps, UnusedSplitOutputsGetZeroGradients) {
  Tensor x = leaf(arange_f64(5, {5}));
  auto p = ag::split(x, 2);
  ASSERT_EQ(p.size(), 3u);
  EXPECT_EQ(grad_fn(p[0]), grad_fn(p[2]));  // one node with three outputs
  backward(p[1], kiln::tensor({7, 9}, DType::f64));
  EXPECT_EQ(grad(x).to_vector<double>(), (std::vector<double>{0, 0, 7, 9, 0}));
  auto c = ag::chunk(x, 2);
  backward(c[1], kiln::ones({2}, DType::f64));
  EXPECT_EQ(grad(x).to_vector<double>(), (std::vector<double>{0, 0, 7, 10, 1}));
}

TEST(AgShapeOps, BorderPaddingAccumulatesOntoItsSources) {
  Tensor x = leaf(kiln::tensor({1, 2, 3}, DType::f64));
  Tensor y = ag::pad(x, {2, 2}, PadMode::reflect);
  EXPECT_EQ(y.to_vector<double>(), (std::vector<double>{3, 2, 1, 2, 3, 2, 1}));
  backward(y, kiln::ones({7}, DType::f64));
  EXPECT_EQ(grad(x).to_vector<double>(), (std::vector<double>{2, 3, 2}));
  Tensor z = leaf(kiln::tensor({1, 2, 3}, DType::f64));
  backward(ag::pad(z, {3, 1}, PadMode::replicate), kiln::ones({7}, DType::f64));
  EXPECT_EQ(grad(z).to_vector<double>(), (std::vector<double>{4, 1, 2}));
  Tensor w = leaf(kiln::tensor({1, 2, 3}, DType::f64));
  backward(ag::pad(w, {3, 2}, PadMode::circular), kiln::ones({8}, DType::f64));
  EXPECT_EQ(grad(w).to_vector<double>(), (std::vector<double>{3, 3, 2}));
}

TEST(AgIndexing, RepeatedReadsAccumulateAndIndicesGetNoGradient) {
  Tensor x = leaf(kiln::tensor({10, 20, 30}, DType::f64));
  Tensor idx = kiln::tensor({2, 0, 2, -1}, DType::i64);
  Tensor y = ag::index_select(x, 0, idx);
  EXPECT_EQ(y.to_vector<double>(), (std::vector<double>{30, 10, 30, 30}));
  EXPECT_EQ(grad_fn(y)->next.size(), 2u);
  EXPECT_FALSE(grad_fn(y)->next[1].node);  // the index has no edge
  backward(y, kiln::ones({4}, DType::f64));
  EXPECT_EQ(grad(x).to_vector<double>(), (std::vector<double>{1, 0, 3}));
}

TEST(AgIndexing, ChangingASavedIndexInPlaceIsAnError) {
  Tensor x = leaf(arange_f64(6, {2, 3}));
  Tensor idx = kiln::tensor({{0, 2}, {1, 1}}, DType::i64);
  Tensor y = ag::gather(x, 1, idx);
  kiln::add_(idx, 0);  // bumps the version, as any in-place write
  EXPECT_KILN_ERROR(backward(y, kiln::ones({2, 2}, DType::f64)), "modified in place");
}

TEST(AgIndexing, WritesZeroTheOverwrittenGradient) {
  Tensor x = leaf(kiln::zeros({4}, DType::f64));
  Tensor v = leaf(kiln::tensor({5, 6}, DType::f64));
  Tensor idx = kiln::tensor({3, 0}, DType::i64);
  Tensor y = ag::index_put(x, {idx}, v);
  EXPECT_EQ(y.to_vector<double>(), (std::vector<double>{6, 0, 0, 5}));
  backward(y, kiln::tensor({1, 2, 3, 4}, DType::f64));
  EXPECT_EQ(grad(x).to_vector<double>(), (std::vector<double>{0, 2, 3, 0}));
  EXPECT_EQ(grad(v).to_vector<double>(), (std::vector<double>{4, 1}));
  Tensor m = kiln::tensor({1, 0, 1, 0}, DType::i64).to(DType::b8);
  Tensor z = leaf(kiln::tensor({1, 2, 3, 4}, DType::f64));
  backward(ag::masked_select(z, m), kiln::tensor({7, 8}, DType::f64));
  EXPECT_EQ(grad(z).to_vector<double>(), (std::vector<double>{7, 0, 8, 0}));
}

}  // namespace
}  // namespace kiln::ag
