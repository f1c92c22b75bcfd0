// Note [Backward order]
// 1. Walk the graph from the roots with an explicit stack and count, for every node, how many
//    edges point at it (its dependencies).
// 2. Keep a heap of ready nodes (all dependencies delivered), largest sequence_nr first: among
//    ready nodes the most recently created runs first, which is the order the forward pass reversed
//    and makes the run deterministic.
// 3. Running a node: the gradients delivered to each of its outputs are summed in a buffer; missing
//    ones become zeros; output hooks run; the closure returns one gradient per input; each is checked
//    against the edge's shape, cast to its dtype, and added to the buffer of the next node.
// 4. AccumulateGrad nodes run the leaf's hooks and add into the leaf's grad (the first gradient is
//    stored as a fresh tensor so later in-place accumulation never touches a tensor someone else holds).
#include "kiln/autograd/backward.h"

#include <algorithm>
#include <queue>
#include <unordered_map>

#include "kiln/autograd/grad_mode.h"
#include "kiln/kernels/error.h"
#include "kiln/tensor/ops.h"

namespace kiln::ag {
namespace {

struct Buffer {
  std::vector<Tensor> grads;  // one per output of the node
  int pending = 0;            // edges not yet delivered
};

Tensor zeros_for(const TensorGeom& g) { return kiln::zeros(g.shape, g.dtype, g.device); }

Tensor accumulate(const Tensor& acc, const Tensor& g) { return acc.defined() ? kiln::add(acc, g) : g; }

// Captured-gradient mode for grad(): gradients reaching these (node, slot) pairs are kept.
struct Capture {
  std::vector<std::pair<Node*, int>> slots;
  std::vector<Tensor> values;
};

void run_engine(const std::vector<std::shared_ptr<Node>>& root_nodes, const std::vector<int>& root_slots,
                const std::vector<Tensor>& root_grads, bool retain_graph, Capture* capture) {
  // 1. dependency counts
  std::unordered_map<Node*, Buffer> buf;
  std::unordered_map<Node*, std::shared_ptr<Node>> owner;
  std::vector<Node*> stack;
  for (auto& r : root_nodes) {
    if (owner.emplace(r.get(), r).second) stack.push_back(r.get());
  }
  while (!stack.empty()) {
    Node* n = stack.back();
    stack.pop_back();
    KILN_CHECK(!n->released, "backward: trying to run backward through the graph a second time (node ", n->name,
               "); its saved tensors were freed after the first backward. Pass retain_graph=true to the first call");
    buf[n].grads.resize(n->outputs.size());
    for (auto& e : n->next) {
      if (!e.node) continue;
      buf[e.node.get()].pending++;
      if (owner.emplace(e.node.get(), e.node).second) stack.push_back(e.node.get());
    }
  }
  // Seed the roots.
  for (size_t i = 0; i < root_nodes.size(); ++i) {
    auto& b = buf[root_nodes[i].get()];
    b.grads[size_t(root_slots[i])] = accumulate(b.grads[size_t(root_slots[i])], root_grads[i]);
  }
  auto later_first = [](Node* a, Node* b) { return a->sequence_nr < b->sequence_nr; };
  std::priority_queue<Node*, std::vector<Node*>, decltype(later_first)> ready(later_first);
  for (auto& [n, b] : buf)
    if (b.pending == 0) ready.push(n);

  NoGradGuard no_grad;
  while (!ready.empty()) {
    Node* n = ready.top();
    ready.pop();
    Buffer& b = buf[n];
    Grads g;
    g.dy.resize(n->outputs.size());
    bool any = false;
    for (size_t k = 0; k < n->outputs.size(); ++k) {
      Tensor dy = b.grads[k];
      for (auto& hook : n->output_hooks[k]) {
        if (!dy.defined()) break;
        Tensor r = hook(dy);
        if (r.defined()) dy = r;
      }
      any |= dy.defined();
      g.dy[k] = dy;
    }
    b.grads.clear();
    if (capture) {
      for (size_t c = 0; c < capture->slots.size(); ++c)
        if (capture->slots[c].first == n) {
          const Tensor& d = g.dy[size_t(capture->slots[c].second)];
          capture->values[c] = accumulate(capture->values[c], d);
        }
    }
    if (n->leaf) {
      // AccumulateGrad
      if (!capture && g.dy[0].defined()) {
        Tensor d = g.dy[0];
        AutogradMeta& m = *n->leaf->autograd;
        for (auto& hook : m.hooks) {
          Tensor r = hook(d);
          if (r.defined()) d = r;
        }
        if (d.dtype() != n->outputs[0].dtype) d = d.to(n->outputs[0].dtype);
        m.grad = m.grad.defined() ? kiln::add(m.grad, d) : (d.is_contiguous() ? d.clone() : d.contiguous());
      }
    } else if (any) {
      KILN_CHECK(n->fn, "backward: node ", n->name, " has no backward function (graph already freed?)");
      for (size_t k = 0; k < g.dy.size(); ++k)
        if (!g.dy[k].defined() && is_floating(n->outputs[k].dtype))
          g.dy[k] = zeros_for(n->outputs[k]);
      g.needs.resize(n->next.size());
      for (size_t i = 0; i < n->next.size(); ++i) g.needs[i] = n->next[i].node != nullptr;
      std::vector<Tensor> dx = n->fn(g);
      KILN_CHECK(dx.size() == n->next.size(), "backward of ", n->name, ": returned ", dx.size(),
                 " gradients for ", n->next.size(), " inputs");
      for (size_t i = 0; i < dx.size(); ++i) {
        const Edge& e = n->next[i];
        if (!e.node || !dx[i].defined()) continue;
        Tensor d = dx[i];
        KILN_CHECK(d.shape() == e.geom.shape, "backward of ", n->name, ": gradient of input ", i, " has shape ",
                   d.shape().str(), ", the input has ", e.geom.shape.str());
        if (d.dtype() != e.geom.dtype) d = d.to(e.geom.dtype);
        Buffer& nb = buf[e.node.get()];
        nb.grads[size_t(e.input_nr)] = accumulate(nb.grads[size_t(e.input_nr)], d);
      }
    }
    for (auto& e : n->next) {
      if (!e.node) continue;
      if (--buf[e.node.get()].pending == 0) ready.push(e.node.get());
    }
    if (!retain_graph && !n->leaf) {
      n->fn = nullptr;
      n->released = true;
    }
  }
}

std::pair<std::shared_ptr<Node>, int> root_of(const Tensor& t, const char* api) {
  KILN_CHECK(t.defined(), api, ": tensor is undefined");
  KILN_CHECK(requires_grad(t), api,
             ": the tensor does not require grad and has no grad_fn (no input of the computation required "
             "grad, or it was computed under NoGradGuard)");
  Edge e = gradient_edge(t);
  return {e.node, e.input_nr};
}

Tensor seed_gradient(const Tensor& root, const Tensor& gradient, const char* api) {
  if (gradient.defined()) {
    KILN_CHECK(gradient.shape() == root.shape(), api, ": gradient shape ", gradient.shape().str(),
               " differs from the output's ", root.shape().str());
    return gradient.dtype() == root.dtype() ? gradient : gradient.to(root.dtype());
  }
  KILN_CHECK(root.numel() == 1, api, ": a gradient must be given for an output with ", root.numel(),
             " elements (shape ", root.shape().str(), "); only one-element outputs get an implicit 1");
  return kiln::ones(root.shape(), root.dtype(), root.device());
}

}  // namespace

void backward(const std::vector<Tensor>& roots, const std::vector<Tensor>& gradients, bool retain_graph) {
  KILN_CHECK(gradients.empty() || gradients.size() == roots.size(), "backward: ", roots.size(), " outputs but ",
             gradients.size(), " gradients");
  std::vector<std::shared_ptr<Node>> nodes;
  std::vector<int> slots;
  std::vector<Tensor> seeds;
  for (size_t i = 0; i < roots.size(); ++i) {
    auto [n, s] = root_of(roots[i], "backward");
    nodes.push_back(n);
    slots.push_back(s);
    seeds.push_back(seed_gradient(roots[i], gradients.empty() ? Tensor() : gradients[i], "backward"));
  }
  run_engine(nodes, slots, seeds, retain_graph, nullptr);
}

void backward(const Tensor& root, const Tensor& gradient, bool retain_graph) {
  backward(std::vector<Tensor>{root}, std::vector<Tensor>{gradient}, retain_graph);
}

std::vector<Tensor> grad(const std::vector<Tensor>& outputs, const std::vector<Tensor>& inputs,
                         const std::vector<Tensor>& grad_outputs, bool retain_graph, bool allow_unused) {
  KILN_CHECK(grad_outputs.empty() || grad_outputs.size() == outputs.size(), "grad: ", outputs.size(),
             " outputs but ", grad_outputs.size(), " gradients");
  std::vector<std::shared_ptr<Node>> nodes;
  std::vector<int> slots;
  std::vector<Tensor> seeds;
  for (size_t i = 0; i < outputs.size(); ++i) {
    auto [n, s] = root_of(outputs[i], "grad");
    nodes.push_back(n);
    slots.push_back(s);
    seeds.push_back(seed_gradient(outputs[i], grad_outputs.empty() ? Tensor() : grad_outputs[i], "grad"));
  }
  Capture cap;
  std::vector<std::shared_ptr<Node>> keep;
  for (const Tensor& x : inputs) {
    KILN_CHECK(requires_grad(x), "grad: an input does not require grad");
    Edge e = gradient_edge(x);
    keep.push_back(e.node);
    cap.slots.push_back({e.node.get(), e.input_nr});
  }
  cap.values.resize(inputs.size());
  run_engine(nodes, slots, seeds, retain_graph, &cap);
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (!cap.values[i].defined())
      KILN_CHECK(allow_unused, "grad: input ", i, " was not used to compute the outputs (pass allow_unused=true)");
    else if (cap.values[i].dtype() != inputs[i].dtype())
      cap.values[i] = cap.values[i].to(inputs[i].dtype());
  }
  return cap.values;
}

}  // namespace kiln::ag
