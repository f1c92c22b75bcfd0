// The graph engine on its own, with two tiny ops recorded here (the real differentiable ops
// have their own tests): accumulation, ordering, retain_graph, no_grad, hooks, the in-place
// check, deep graphs, ag::grad.
#include <gtest/gtest.h>

#include "kiln/autograd/ops.h"
#include "kiln/tensor/ops.h"
#include "support/fixtures.h"

namespace kiln::ag {
namespace {

Tensor tmul(const Tensor& a, const Tensor& b) {
  Tensor y = kiln::mul(a, b);
  if (!any_requires_grad({&a, &b})) return y;
  SavedTensor sa(a, "tmul"), sb(b, "tmul");
  Shape as = a.shape(), bs = b.shape();
  return record("tmul", {a, b}, y, [sa, sb, as, bs](const Grads& g) -> std::vector<Tensor> {
    return {g.needs[0] ? sum_to(kiln::mul(g[0], sb.get()), as) : Tensor(),
            g.needs[1] ? sum_to(kiln::mul(g[0], sa.get()), bs) : Tensor()};
  });
}

Tensor tsum(const Tensor& a) {
  Tensor y = kiln::sum(a);
  if (!any_requires_grad({&a})) return y;
  Shape as = a.shape();
  DType dt = a.dtype();
  return record("tsum", {a}, y, [as, dt](const Grads& g) -> std::vector<Tensor> {
    return {g[0].reshape(Shape{}).expand(as).contiguous().to(dt)};
  });
}

Tensor leaf(std::initializer_list<double> v) { return set_requires_grad(kiln::tensor(v, DType::f64)); }

TEST(Engine, ProductRuleAndAccumulation) {
  Tensor x = leaf({1, 2, 3});
  Tensor y = tsum(tmul(x, x));  // sum x^2 -> 2x
  backward(y);
  EXPECT_EQ(grad(x).to_vector<double>(), (std::vector<double>{2, 4, 6}));
  // A second graph accumulates into the same .grad.
  backward(tsum(tmul(x, x)));
  EXPECT_EQ(grad(x).to_vector<double>(), (std::vector<double>{4, 8, 12}));
  set_grad(x, Tensor());
  EXPECT_FALSE(grad(x).defined());
}

TEST(Engine, BroadcastGradientsAreSummed) {
  Tensor a = set_requires_grad(kiln::ones({2, 3}, DType::f64));
  Tensor b = set_requires_grad(kiln::tensor({1, 2, 3}, DType::f64));
  backward(tsum(tmul(a, b)));
  EXPECT_EQ(grad(b).to_vector<double>(), (std::vector<double>{2, 2, 2}));
  EXPECT_EQ(grad(a).shape(), Shape({2, 3}));
}

TEST(Engine, SecondBackwardNeedsRetainGraph) {
  Tensor x = leaf({1, 2});
  Tensor y = tsum(tmul(x, x));
  backward(y, {}, /*retain_graph=*/true);
  backward(y);
  EXPECT_EQ(grad(x).to_vector<double>(), (std::vector<double>{4, 8}));
  EXPECT_KILN_ERROR(backward(y), "second time");
}

TEST(Engine, NoGradRecordsNothing) {
  Tensor x = leaf({1, 2});
  Tensor y;
  {
    NoGradGuard ng;
    y = tmul(x, x);
    EXPECT_FALSE(is_grad_enabled());
    {
      EnableGradGuard eg;
      EXPECT_TRUE(requires_grad(tmul(x, x)));
    }
    EXPECT_FALSE(is_grad_enabled());
  }
  EXPECT_TRUE(is_grad_enabled());
  EXPECT_FALSE(requires_grad(y));
  EXPECT_KILN_ERROR(backward(tsum(y)), "does not require grad");
}

TEST(Engine, DetachCutsTheGraph) {
  Tensor x = leaf({3});
  Tensor y = tmul(x, detach(tmul(x, x)));  // d/dx = x^2 with the detached factor constant
  backward(tsum(y));
  EXPECT_DOUBLE_EQ(grad(x).item<double>(), 9.0);
  EXPECT_TRUE(is_leaf(detach(y)));
  EXPECT_FALSE(requires_grad(detach(y)));
}

TEST(Engine, InPlaceChangeOfSavedTensorIsAnError) {
  Tensor x = leaf({1, 2});
  Tensor w = kiln::tensor({5, 6}, DType::f64);
  Tensor y = tsum(tmul(x, w));
  kiln::mul_(w, 2.0);  // w was saved for x's gradient
  EXPECT_KILN_ERROR(backward(y), "modified in place");
}

TEST(Engine, HooksSeeAndReplaceGradients) {
  Tensor x = leaf({1, 2});
  Tensor h = tmul(x, x);
  Tensor seen;
  register_hook(h, [&](const Tensor& g) {
    seen = g.clone();
    return kiln::mul(g, 10.0);
  });
  register_hook(x, [&](const Tensor& g) { return kiln::add(g, 1.0); });
  retain_grad(h);
  backward(tsum(h));
  EXPECT_EQ(seen.to_vector<double>(), (std::vector<double>{1, 1}));
  EXPECT_EQ(grad(h).to_vector<double>(), (std::vector<double>{10, 10}));  // retain_grad after the hook
  EXPECT_EQ(grad(x).to_vector<double>(), (std::vector<double>{21, 41}));  // 10 * 2x + 1
}

TEST(Engine, DeepGraphDoesNotRecurse) {
  Tensor x = leaf({1.0});
  Tensor one = kiln::tensor({1.0}, DType::f64);
  Tensor y = x;
  for (int i = 0; i < 100000; ++i) y = tmul(y, one);
  backward(tsum(y));
  EXPECT_DOUBLE_EQ(grad(x).item<double>(), 1.0);
}

TEST(Engine, GradReturnsWithoutAccumulating) {
  Tensor x = leaf({1, 2});
  Tensor z = leaf({7});
  Tensor y = tsum(tmul(x, x));
  auto g = ag::grad({y}, {x}, {}, true);
  EXPECT_EQ(g[0].to_vector<double>(), (std::vector<double>{2, 4}));
  EXPECT_FALSE(grad(x).defined());
  EXPECT_KILN_ERROR(ag::grad({y}, {z}, {}, true), "not used");
  auto u = ag::grad({y}, {z}, {}, true, /*allow_unused=*/true);
  EXPECT_FALSE(u[0].defined());
}

TEST(Engine, NonScalarRootNeedsAGradient) {
  Tensor x = leaf({1, 2});
  Tensor y = tmul(x, x);
  EXPECT_KILN_ERROR(backward(y), "a gradient must be given");
  backward(y, kiln::tensor({1, 0}, DType::f64));
  EXPECT_EQ(grad(x).to_vector<double>(), (std::vector<double>{2, 0}));
}

TEST(Engine, GradientsTakeTheLeafDtype) {
  Tensor x = set_requires_grad(kiln::tensor({1, 2}, DType::f32));
  Tensor w = kiln::tensor({3, 4}, DType::f64);
  backward(tsum(tmul(x, w)));  // the product is f64; x's gradient comes back f32
  EXPECT_EQ(grad(x).dtype(), DType::f32);
}

TEST(Engine, RequiresGradRules) {
  EXPECT_KILN_ERROR(set_requires_grad(kiln::tensor({1}, DType::i64)), "floating");
  Tensor x = leaf({1});
  EXPECT_KILN_ERROR(set_requires_grad(tmul(x, x), false), "leaf");
  EXPECT_TRUE(is_leaf(x));
  EXPECT_EQ(grad_fn(tmul(x, x))->name, "tmul");
}

TEST(Engine, GradcheckCatchesAWrongGradient) {
  auto bad = [](const std::vector<Tensor>& in) {
    const Tensor& a = in[0];
    Tensor y = kiln::mul(a, a);
    if (!any_requires_grad({&a})) return y;
    return record("bad", {a}, y, [](const Grads& g) -> std::vector<Tensor> { return {g[0]}; });
  };
  Tensor x = set_requires_grad(kiln::tensor({1, 2, 3}, DType::f64));
  EXPECT_FALSE(gradcheck(bad, {x}).ok);
  auto good = [](const std::vector<Tensor>& in) { return tmul(in[0], in[0]); };
  auto r = gradcheck(good, {x});
  EXPECT_TRUE(r.ok) << r.message;
}

}  // namespace
}  // namespace kiln::ag
