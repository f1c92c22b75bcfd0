#pragma once
// The autograd graph. Note [Autograd graph]:
// - A differentiable op computes its result with the raw tensor op, then (when grad mode is on
//   and an input requires grad) records a Node: a backward closure plus one Edge per input
//   saying where that input's gradient goes (the input's own grad_fn, or an AccumulateGrad node
//   for a leaf, or nowhere for an input that does not require grad).
// - A recorded output gets an AutogradMeta { requires_grad, grad_fn = node, output_nr }.
//   Leaves (tensors made by the user with set_requires_grad) have no grad_fn and collect
//   gradients in AutogradMeta::grad.
// - Closures capture only what they need. Tensors are captured as SavedTensor: a plain alias
//   of the data (no autograd meta, so the graph never owns itself) plus the storage version at
//   save time; reading it after an in-place change throws.
// - Backward runs the closures with grad mode off, on raw tensors (no double backward).
// - Node::grads_out holds the shape and dtype of every output so the engine can make zero
//   gradients for outputs that received none, and every edge holds its input's shape and dtype so
//   the engine checks (shape) and casts (dtype) what a closure returns.
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "kiln/tensor/tensor.h"

namespace kiln::ag {
struct Node;
}

namespace kiln {

// Per-tensor autograd state (the tensor layer carries only a pointer to it).
struct AutogradMeta {
  bool requires_grad = false;
  Tensor grad;                           // accumulated gradient (leaves, or retain_grad)
  std::shared_ptr<ag::Node> grad_fn;     // producer; null for leaves
  int output_nr = 0;                     // which output of grad_fn this tensor is
  bool retains_grad = false;             // non-leaf: store the gradient in `grad` too
  // Leaves: hooks run on the gradient before it is accumulated. (Non-leaf hooks live in the node.)
  std::vector<std::function<Tensor(const Tensor&)>> hooks;
  std::weak_ptr<ag::Node> grad_accumulator;  // leaves: the AccumulateGrad node, shared by all uses
};

}  // namespace kiln

namespace kiln::ag {

// Shape and dtype of a tensor, kept instead of the tensor itself.
struct TensorGeom {
  Shape shape;
  DType dtype = DType::f32;
  Device device = kCPU;
};

struct Edge {
  std::shared_ptr<Node> node;  // null: this input needs no gradient
  int input_nr = 0;            // which gradient slot of `node` receives it
  TensorGeom geom;             // the forward input's geometry
};

// A gradient hook: receives the gradient and returns it (possibly replaced). Returning an
// undefined tensor keeps the gradient unchanged.
using GradHook = std::function<Tensor(const Tensor&)>;

// What a backward closure gets: the gradient of each output (zeros where none arrived) and which
// inputs need a gradient. It returns one tensor per input (undefined where not needed).
struct Grads {
  std::vector<Tensor> dy;
  std::vector<bool> needs;
  const Tensor& operator[](size_t i) const { return dy[i]; }
};
using BackwardFn = std::function<std::vector<Tensor>(const Grads&)>;

struct Node {
  std::string name;
  std::vector<Edge> next;             // one per forward input
  std::vector<TensorGeom> outputs;    // one per forward output
  std::vector<std::vector<GradHook>> output_hooks;  // per output, run before `fn`
  BackwardFn fn;                      // released after backward unless retain_graph
  uint64_t sequence_nr = 0;           // creation order; later nodes run first among ready ones
  // Leaf accumulation (AccumulateGrad nodes only): the leaf's impl.
  std::shared_ptr<TensorImpl> leaf;
  bool released = false;

  Node() = default;
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;
  // Frees a chain of nodes iteratively: a long graph (an unrolled RNN) would otherwise be
  // destroyed by one recursive shared_ptr release per node and overflow the stack.
  ~Node();
};

// A tensor kept for backward, see Note [Autograd graph].
class SavedTensor {
 public:
  SavedTensor() = default;
  SavedTensor(const Tensor& t, const char* op);
  // The saved data; throws if the storage was modified in place since it was saved.
  Tensor get() const;
  bool defined() const { return t_.defined(); }

 private:
  Tensor t_;
  uint64_t version_ = 0;
  const char* op_ = "";
};

// ---- per-tensor state (free functions: the Tensor class belongs to the layer below)
bool requires_grad(const Tensor& t);
// Marks a leaf as requiring grad (or not); returns t. Only floating tensors can require grad;
// a tensor produced by a recorded op cannot be changed (detach it first).
const Tensor& set_requires_grad(const Tensor& t, bool value = true);
bool is_leaf(const Tensor& t);
// The accumulated gradient (undefined if none yet).
Tensor grad(const Tensor& t);
void set_grad(const Tensor& t, const Tensor& g);  // an undefined g clears it
std::shared_ptr<Node> grad_fn(const Tensor& t);
// A tensor sharing t's data, outside any graph.
Tensor detach(const Tensor& t);
// Keep the gradient of a non-leaf in grad(t) during backward.
void retain_grad(const Tensor& t);
// Registers a hook on t's gradient (t must require grad).
void register_hook(const Tensor& t, GradHook hook);

// Where the gradient of t goes: its grad_fn and output slot, or its leaf accumulator (slot 0).
// t must require grad.
Edge gradient_edge(const Tensor& t);

// ---- recording (used by the differentiable ops)
// True when grad mode is on and any input requires grad.
bool any_requires_grad(std::initializer_list<const Tensor*> inputs);
bool any_requires_grad(const std::vector<Tensor>& inputs);
// Records one node for `outputs` computed from `inputs` (undefined inputs are allowed and get no
// edge). Returns the outputs, now carrying grad_fn. Call only when any_requires_grad() is true.
std::vector<Tensor> record(const char* name, const std::vector<Tensor>& inputs, std::vector<Tensor> outputs,
                           BackwardFn fn);
Tensor record(const char* name, const std::vector<Tensor>& inputs, const Tensor& output, BackwardFn fn);

}  // namespace kiln::ag
