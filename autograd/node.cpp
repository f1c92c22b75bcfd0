#include "kiln/autograd/node.h"

#include <atomic>

#include "kiln/autograd/grad_mode.h"
#include "kiln/kernels/error.h"
#include "kiln/tensor/elementwise.h"

namespace kiln::ag {
namespace {

std::atomic<uint64_t> g_sequence{0};

// A new TensorImpl viewing the same data as t, with no autograd state.
Tensor alias(const Tensor& t) {
  auto impl = std::make_shared<TensorImpl>(*t.impl());
  impl->autograd.reset();
  return Tensor(std::move(impl));
}

AutogradMeta& meta_of(const Tensor& t) {
  auto& m = t.impl()->autograd;
  if (!m) m = std::make_shared<AutogradMeta>();
  return *m;
}

TensorGeom geom_of(const Tensor& t) { return {t.shape(), t.dtype(), t.device()}; }

// The AccumulateGrad node of a leaf, made on first use and shared by all later uses.
std::shared_ptr<Node> accumulator_of(const Tensor& leaf) {
  AutogradMeta& m = meta_of(leaf);
  if (auto n = m.grad_accumulator.lock()) return n;
  auto n = std::make_shared<Node>();
  n->name = "AccumulateGrad";
  n->outputs = {geom_of(leaf)};
  n->output_hooks.resize(1);
  n->leaf = leaf.impl_ptr();
  n->sequence_nr = g_sequence.fetch_add(1);
  m.grad_accumulator = n;
  return n;
}

}  // namespace

Node::~Node() {
  std::vector<std::shared_ptr<Node>> stack;
  auto take = [&stack](std::vector<Edge>& edges) {
    for (auto& e : edges)
      if (e.node && e.node.use_count() == 1) stack.push_back(std::move(e.node));
    edges.clear();
  };
  take(next);
  while (!stack.empty()) {
    std::shared_ptr<Node> n = std::move(stack.back());
    stack.pop_back();
    take(n->next);
    // The closure may hold tensors whose autograd meta owns further nodes (it should not: saved
    // tensors are aliases without meta), so releasing it here cannot recurse deeply.
    n->fn = nullptr;
  }
}

SavedTensor::SavedTensor(const Tensor& t, const char* op) : op_(op) {
  if (!t.defined()) return;
  t_ = t.impl()->autograd ? alias(t) : t;
  version_ = t.version();
}

Tensor SavedTensor::get() const {
  if (t_.defined())
    KILN_CHECK(t_.version() == version_, "backward of ", op_,
               ": a tensor saved for the gradient was modified in place after it was saved (version ", version_,
               " at save, ", t_.version(), " now); use an out-of-place op or clone() before modifying it");
  return t_;
}

bool requires_grad(const Tensor& t) {
  return t.defined() && t.impl()->autograd && t.impl()->autograd->requires_grad;
}

const Tensor& set_requires_grad(const Tensor& t, bool value) {
  KILN_CHECK(t.defined(), "set_requires_grad: tensor is undefined");
  auto& m = t.impl()->autograd;
  KILN_CHECK(!(m && m->grad_fn), "set_requires_grad: only leaf tensors can be changed; this tensor is the output of ",
             m ? m->grad_fn->name : std::string("?"), " (use detach() to make a leaf)");
  if (value)
    KILN_CHECK(t.is_floating_point(), "set_requires_grad: only floating tensors can require grad, got ",
               dtype_name(t.dtype()));
  if (!value && !m) return t;
  meta_of(t).requires_grad = value;
  return t;
}

bool is_leaf(const Tensor& t) { return !(t.impl()->autograd && t.impl()->autograd->grad_fn); }

Tensor grad(const Tensor& t) {
  KILN_CHECK(t.defined(), "grad: tensor is undefined");
  return t.impl()->autograd ? t.impl()->autograd->grad : Tensor();
}

void set_grad(const Tensor& t, const Tensor& g) {
  KILN_CHECK(t.defined(), "set_grad: tensor is undefined");
  if (g.defined())
    KILN_CHECK(g.shape() == t.shape(), "set_grad: gradient shape ", g.shape().str(), " differs from the tensor's ",
               t.shape().str());
  if (!g.defined() && !t.impl()->autograd) return;
  meta_of(t).grad = g;
}

std::shared_ptr<Node> grad_fn(const Tensor& t) {
  return t.defined() && t.impl()->autograd ? t.impl()->autograd->grad_fn : nullptr;
}

Tensor detach(const Tensor& t) {
  if (!t.defined()) return t;
  return alias(t);
}

void retain_grad(const Tensor& t) {
  KILN_CHECK(requires_grad(t), "retain_grad: the tensor does not require grad");
  AutogradMeta& m = meta_of(t);
  if (!m.grad_fn || m.retains_grad) return;
  m.retains_grad = true;
  std::weak_ptr<TensorImpl> weak = t.impl_ptr();
  m.grad_fn->output_hooks[size_t(m.output_nr)].push_back([weak](const Tensor& g) {
    if (auto impl = weak.lock()) {
      auto& mm = impl->autograd;
      mm->grad = mm->grad.defined() ? kiln::add(mm->grad, g) : g.clone();
    }
    return Tensor();
  });
}

void register_hook(const Tensor& t, GradHook hook) {
  KILN_CHECK(requires_grad(t), "register_hook: the tensor does not require grad");
  AutogradMeta& m = meta_of(t);
  if (m.grad_fn)
    m.grad_fn->output_hooks[size_t(m.output_nr)].push_back(std::move(hook));
  else
    m.hooks.push_back(std::move(hook));
}

Edge gradient_edge(const Tensor& t) {
  KILN_CHECK(requires_grad(t), "gradient_edge: the tensor does not require grad");
  Edge e;
  e.geom = geom_of(t);
  const AutogradMeta& m = *t.impl()->autograd;
  if (m.grad_fn) {
    e.node = m.grad_fn;
    e.input_nr = m.output_nr;
  } else {
    e.node = accumulator_of(t);
  }
  return e;
}

bool any_requires_grad(std::initializer_list<const Tensor*> inputs) {
  if (!is_grad_enabled()) return false;
  for (const Tensor* t : inputs)
    if (requires_grad(*t)) return true;
  return false;
}

bool any_requires_grad(const std::vector<Tensor>& inputs) {
  if (!is_grad_enabled()) return false;
  for (const Tensor& t : inputs)
    if (requires_grad(t)) return true;
  return false;
}

std::vector<Tensor> record(const char* name, const std::vector<Tensor>& inputs, std::vector<Tensor> outputs,
                           BackwardFn fn) {
  auto node = std::make_shared<Node>();
  node->name = name;
  node->fn = std::move(fn);
  node->sequence_nr = g_sequence.fetch_add(1);
  node->next.resize(inputs.size());
  for (size_t i = 0; i < inputs.size(); ++i) {
    const Tensor& x = inputs[i];
    if (!requires_grad(x)) continue;
    node->next[i] = gradient_edge(x);
  }
  node->outputs.reserve(outputs.size());
  node->output_hooks.resize(outputs.size());
  for (size_t k = 0; k < outputs.size(); ++k) {
    Tensor& y = outputs[k];
    node->outputs.push_back(y.defined() ? geom_of(y) : TensorGeom{});
    if (!y.defined()) continue;
    // Always a fresh impl: a raw op may return one of its inputs unchanged.
    y = alias(y);
    if (!y.is_floating_point()) continue;  // integer outputs (indices) never carry gradients
    auto meta = std::make_shared<AutogradMeta>();
    meta->requires_grad = true;
    meta->grad_fn = node;
    meta->output_nr = int(k);
    y.impl()->autograd = std::move(meta);
  }
  return outputs;
}

Tensor record(const char* name, const std::vector<Tensor>& inputs, const Tensor& output, BackwardFn fn) {
  return record(name, inputs, std::vector<Tensor>{output}, std::move(fn))[0];
}

}  // namespace kiln::ag
