// nn::Module: tree walking, modes, in-place conversion, hooks, state dicts, printing.
#include <gtest/gtest.h>

#include "kiln/autograd/backward.h"
#include "kiln/autograd/elementwise.h"
#include "kiln/autograd/reduce.h"
#include "kiln/nn/containers.h"
#include "kiln/nn/module.h"
#include "support/fixtures.h"

namespace kiln::nn {
namespace {

// y = x * weight + bias (per feature, last dim), with a running-count buffer.
class Affine : public Module {
 public:
  explicit Affine(int64_t n) : Module("Affine"), n_(n) {
    weight = register_parameter("weight", full({n}, 2.0));
    bias = register_parameter("bias", zeros({n}));
    count = register_buffer("count", zeros({1}, DType::i64));
    scratch = register_buffer("scratch", zeros({n}), /*persistent=*/false);
  }
  Tensor weight, bias, count, scratch;

 protected:
  Tensor forward_impl(const Tensor& x) override { return ag::add(ag::mul(x, weight), bias); }
  std::string extra_repr() const override { return "n=" + std::to_string(n_); }

 private:
  int64_t n_;
};

class Empty : public Module {
 public:
  Empty() : Module("Empty") {}
};

std::shared_ptr<Sequential> small_model() {
  auto inner = std::make_shared<Sequential>(std::vector<ModulePtr>{std::make_shared<Affine>(3)});
  return std::make_shared<Sequential>(std::vector<ModulePtr>{std::make_shared<Affine>(3), inner});
}

std::vector<std::string> names_of(const std::vector<std::pair<std::string, Tensor>>& v) {
  std::vector<std::string> out;
  for (auto& p : v) out.push_back(p.first);
  return out;
}

TEST(Module, TreeWalkingUsesDottedNamesInOrder) {
  auto m = small_model();
  std::vector<std::string> mods;
  for (auto& [n, c] : m->named_modules()) mods.push_back(n + ":" + c->type_name());
  EXPECT_EQ(mods, (std::vector<std::string>{":Sequential", "0:Affine", "1:Sequential", "1.0:Affine"}));
  EXPECT_EQ(names_of(m->named_parameters()), (std::vector<std::string>{"0.weight", "0.bias", "1.0.weight", "1.0.bias"}));
  EXPECT_TRUE(m->named_parameters(false).empty());
  EXPECT_EQ(m->parameters().size(), 4u);
  EXPECT_EQ(names_of(m->named_buffers()), (std::vector<std::string>{"0.count", "0.scratch", "1.0.count", "1.0.scratch"}));
  EXPECT_EQ(m->child("1")->type_name(), "Sequential");
  EXPECT_KILN_ERROR(m->child("7"), "no child module named '7'");
}

TEST(Module, RegistrationRejectsBadNames) {
  Affine a(2);
  EXPECT_KILN_ERROR(a.register_parameter("weight", zeros({1})), "already a parameter");
  EXPECT_KILN_ERROR(a.register_buffer("a.b", zeros({1})), "must not contain '.'");
  EXPECT_KILN_ERROR(a.register_parameter("idx", zeros({1}, DType::i64)), "cannot require grad");
}

TEST(Module, ReplaceModuleKeepsPositionAndForwardUsesIt) {
  auto m = small_model();
  auto head = std::make_shared<Affine>(3);
  {
    ag::NoGradGuard ng;
    fill_(head->weight, 5.0);
  }
  m->replace_module("0", head);
  EXPECT_EQ(m->named_children()[0].second.get(), head.get());
  EXPECT_EQ(m->named_children()[0].first, "0");
  Tensor y = (*m)(ones({1, 3}));
  // head: 1*5 + 0 = 5; inner Affine: 5*2 = 10
  EXPECT_TRUE(test::tensors_close(y, full({1, 3}, 10.0)));
  EXPECT_KILN_ERROR(m->replace_module("9", head), "no child module named '9'");
}

TEST(Module, SliceSharesChildren) {
  auto s = std::make_shared<Sequential>(
      std::vector<ModulePtr>{std::make_shared<Affine>(2), std::make_shared<Affine>(2), std::make_shared<Affine>(2)});
  auto body = s->slice(0, -1);
  ASSERT_EQ(body->size(), 2);
  EXPECT_EQ((*body)[0].get(), (*s)[0].get());
  EXPECT_EQ((*body)[1].get(), (*s)[1].get());
  EXPECT_EQ(s->slice(2, 10)->size(), 1);
  EXPECT_EQ(s->slice(5, 10)->size(), 0);
  EXPECT_EQ((*s)[-1].get(), (*s)[2].get());
  EXPECT_KILN_ERROR((*s)[3], "out of range");
}

TEST(Module, TrainEvalRecurse) {
  auto m = small_model();
  EXPECT_TRUE(m->child("1")->child("0")->is_training());
  m->eval();
  for (auto& [n, c] : m->named_modules()) EXPECT_FALSE(c->is_training()) << n;
  m->train();
  for (auto& [n, c] : m->named_modules()) EXPECT_TRUE(c->is_training()) << n;
}

TEST(Module, ToDtypeIsInPlace) {
  auto a = std::make_shared<Affine>(3);
  Tensor w = a->weight;  // a handle taken before, as an optimizer would hold
  ag::backward(ag::sum((*a)(ones({2, 3}))));
  EXPECT_TRUE(ag::grad(w).defined());
  a->to(DType::f64);
  EXPECT_EQ(w.dtype(), DType::f64);
  EXPECT_EQ(a->weight.dtype(), DType::f64);
  EXPECT_EQ(a->count.dtype(), DType::i64);  // integer buffers keep their dtype
  EXPECT_EQ(a->scratch.dtype(), DType::f64);
  EXPECT_TRUE(ag::requires_grad(w));
  EXPECT_FALSE(ag::grad(w).defined());  // grads dropped
  EXPECT_TRUE(test::tensors_close(w, full({3}, 2.0, DType::f64)));
  // And it still trains in the new dtype.
  ag::backward(ag::sum((*a)(ones({2, 3}, DType::f64))));
  EXPECT_EQ(ag::grad(w).dtype(), DType::f64);
  EXPECT_KILN_ERROR(a->to(DType::i32), "not floating");
  a->to(kCPU);  // already there: nothing changes
  EXPECT_EQ(w.dtype(), DType::f64);
}

TEST(Module, ApplyIsPostOrder) {
  auto m = small_model();
  std::vector<std::string> seen;
  m->apply([&](Module& x) { seen.push_back(x.type_name()); });
  EXPECT_EQ(seen, (std::vector<std::string>{"Affine", "Sequential", "Affine", "Sequential"}));
}

TEST(Module, ZeroGradAndRequiresGrad) {
  auto a = std::make_shared<Affine>(3);
  ag::backward(ag::sum((*a)(ones({2, 3}))));
  EXPECT_TRUE(ag::grad(a->weight).defined());
  a->zero_grad();
  EXPECT_FALSE(ag::grad(a->weight).defined());
  EXPECT_FALSE(ag::grad(a->bias).defined());

  a->requires_grad_(false);
  Tensor x = ag::set_requires_grad(ones({2, 3}));
  ag::backward(ag::sum((*a)(x)));
  EXPECT_FALSE(ag::grad(a->weight).defined());  // frozen: no gradient
  EXPECT_TRUE(ag::grad(x).defined());
  a->requires_grad_(true);
  EXPECT_TRUE(ag::requires_grad(a->weight));
}

TEST(Module, ForwardHooksFireInOrderAndRemove) {
  auto a = std::make_shared<Affine>(2);
  std::vector<std::string> log;
  auto pre = a->register_forward_pre_hook([&](Module&, std::vector<Tensor>& in) {
    log.push_back("pre");
    in[0] = ag::mul(in[0], 3.0);  // pre-hooks may change the input
  });
  auto post = a->register_forward_hook([&](Module& m, const std::vector<Tensor>& in, Tensor& out) {
    log.push_back("post:" + m.type_name());
    EXPECT_EQ(in.size(), 1u);
    out = ag::add(out, 1.0);  // and forward hooks the output
  });
  Tensor y = (*a)(ones({1, 2}));
  EXPECT_EQ(log, (std::vector<std::string>{"pre", "post:Affine"}));
  EXPECT_TRUE(test::tensors_close(y, full({1, 2}, 7.0)));  // 1*3*2 + 0 + 1
  pre.remove();
  post.remove();
  post.remove();  // idempotent
  EXPECT_FALSE(post.active());
  y = (*a)(ones({1, 2}));
  EXPECT_EQ(log.size(), 2u);
  EXPECT_TRUE(test::tensors_close(y, full({1, 2}, 2.0)));
}

TEST(Module, BackwardHookReceivesOutputGradient) {
  auto a = std::make_shared<Affine>(2);
  Tensor seen;
  int calls = 0;
  auto h = a->register_backward_hook([&](Module&, const Tensor& g) {
    seen = g;
    ++calls;
  });
  Tensor y = (*a)(ones({1, 2}));
  ag::backward(y, tensor({{0.5, -1.5}}));
  EXPECT_EQ(calls, 1);
  EXPECT_TRUE(test::tensors_close(seen, tensor({{0.5, -1.5}})));
  h.remove();
  ag::backward((*a)(ones({1, 2})), ones({1, 2}));
  EXPECT_EQ(calls, 1);
  // Under NoGradGuard nothing is recorded, so nothing can fire.
  ag::NoGradGuard ng;
  EXPECT_FALSE(ag::requires_grad((*a)(ones({1, 2}))));
}

TEST(Module, ForwardNotOverriddenIsAClearError) {
  Empty e;
  EXPECT_KILN_ERROR(e(ones({1})), "overrides neither forward_impl nor forward_impl_many");
  EXPECT_KILN_ERROR(e(std::vector<Tensor>{ones({1})}), "overrides neither");
  Affine a(2);
  EXPECT_KILN_ERROR(a(std::vector<Tensor>{ones({2}), ones({2})}), "takes one input, got 2");
  EXPECT_KILN_ERROR(a(Tensor()), "undefined");
}

TEST(Module, StateDictOrderAndNames) {
  auto m = small_model();
  EXPECT_EQ(names_of(m->state_dict()),
            (std::vector<std::string>{"0.weight", "0.bias", "0.count", "1.0.weight", "1.0.bias", "1.0.count"}));
}

TEST(Module, LoadStateDictCopiesInPlace) {
  auto m = small_model();
  auto src = small_model();
  auto sd = src->state_dict();
  Tensor w = std::static_pointer_cast<Affine>((*m)[0])->weight;
  Tensor new_w = tensor({1, 2, 3}, DType::f64);  // dtype cast allowed
  for (auto& [n, t] : sd)
    if (n == "0.weight") t = new_w;
  LoadReport r = m->load_state_dict(sd);
  EXPECT_TRUE(r.ok());
  EXPECT_EQ(w.dtype(), DType::f32);
  EXPECT_TRUE(test::tensors_close(w, tensor({1, 2, 3})));
  EXPECT_TRUE(ag::requires_grad(w));
}

TEST(Module, LoadStateDictStrictAndNonStrict) {
  auto m = small_model();
  std::vector<std::pair<std::string, Tensor>> sd = {
      {"0.weight", full({3}, 7.0)}, {"0.bias", zeros({4})}, {"extra", zeros({1})}};
  Tensor w = std::static_pointer_cast<Affine>((*m)[0])->weight;
  EXPECT_KILN_ERROR(m->load_state_dict(sd), "missing keys (4): 0.count 1.0.weight 1.0.bias 1.0.count");
  EXPECT_TRUE(test::tensors_close(w, full({3}, 2.0)));  // strict failure copies nothing
  try {
    m->load_state_dict(sd);
  } catch (const Error& e) {
    std::string s = e.what();
    EXPECT_NE(s.find("unexpected keys (1): extra"), std::string::npos) << s;
    EXPECT_NE(s.find("size mismatch (1): 0.bias ([4] in the state dict, [3] in the module)"), std::string::npos) << s;
  }
  LoadReport r = m->load_state_dict(sd, /*strict=*/false);
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.missing, (std::vector<std::string>{"0.count", "1.0.weight", "1.0.bias", "1.0.count"}));
  EXPECT_EQ(r.unexpected, (std::vector<std::string>{"extra"}));
  ASSERT_EQ(r.mismatched.size(), 1u);
  EXPECT_TRUE(test::tensors_close(w, full({3}, 7.0)));  // what matched was loaded
}

TEST(Module, StrPrintsTheTree) {
  auto m = small_model();
  m->register_module("act", std::make_shared<Lambda>([](const Tensor& x) { return x; }, "identity"));
  EXPECT_EQ(m->str(),
            "Sequential(\n"
            "  (0): Affine(n=3)\n"
            "  (1): Sequential(\n"
            "    (0): Affine(n=3)\n"
            "  )\n"
            "  (act): Lambda(identity)\n"
            ")");
  EXPECT_EQ(Empty().str(), "Empty()");
}

TEST(Module, SummaryTable) {
  auto m = std::make_shared<Sequential>(std::vector<ModulePtr>{
      std::make_shared<Affine>(3), std::make_shared<Lambda>([](const Tensor& x) { return ag::sum(x, {1}); }),
  });
  ag::set_requires_grad(std::static_pointer_cast<Affine>((*m)[0])->bias, false);
  std::string s = m->summary({ones({2, 3})});
  const std::string rule(64, '=');
  EXPECT_EQ(s, "Sequential (Input shape: 2 x 3)\n" + rule +
                   "\n"
                   "Layer (type)          Output Shape          Param #    Trainable\n" +
                   rule +
                   "\n"
                   "Affine                2 x 3                 6          True\n"
                   "Lambda                2                     0          \n" +
                   rule +
                   "\n"
                   "Total params: 6\n"
                   "Total trainable params: 3\n"
                   "Total non-trainable params: 3\n");
  // The hooks are gone afterwards and nothing was recorded.
  int fired = 0;
  (*m)[0]->register_forward_hook([&](Module&, const std::vector<Tensor>&, Tensor&) { ++fired; });
  (*m)(ones({2, 3}));
  EXPECT_EQ(fired, 1);
}

}  // namespace
}  // namespace kiln::nn
