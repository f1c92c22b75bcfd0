#pragma once
// nn::Module: a tree of named parameters, buffers and child modules (DESIGN.md section 4).
// Note [Module tree]:
// - A module owns its parameters and buffers (ordered, by name) and its children (ordered, by
//   name); names are joined with '.' when walking the tree ("0.conv.weight"), as PyTorch does, so
//   state dicts move between kiln and PyTorch unchanged.
// - Layers keep their parameters as members assigned from register_parameter(). Bulk changes
//   (to(device), to(dtype), load_state_dict) therefore update the TensorImpl of each parameter in
//   place rather than replacing the handle, so every handle (layer members, optimizers) sees them.
// - operator() is the public, checked entry point; forward_impl / forward_impl_many compute.
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "kiln/autograd/grad_mode.h"
#include "kiln/autograd/node.h"
#include "kiln/tensor/tensor.h"

namespace kiln::nn {

class Module;
using ModulePtr = std::shared_ptr<Module>;

// Returned by the register_*_hook methods; remove() unregisters that hook (idempotent, and safe
// after the module is gone).
struct HookHandle {
  void remove();
  bool active() const;
  // internal: the registry the hook lives in, and its id there
  std::weak_ptr<std::map<uint64_t, std::function<void()>>> registry;
  uint64_t id = 0;
};

// What load_state_dict found: names the module has but the dict lacks (missing), names the dict
// has but the module lacks (unexpected), and names present in both with different shapes
// (mismatched, with the shapes in the text).
struct LoadReport {
  std::vector<std::string> missing, unexpected, mismatched;
  bool ok() const { return missing.empty() && unexpected.empty() && mismatched.empty(); }
  std::string str() const;
};

using ForwardPreHook = std::function<void(class Module&, std::vector<Tensor>& inputs)>;
using ForwardHook = std::function<void(class Module&, const std::vector<Tensor>& inputs, Tensor& output)>;
using BackwardHook = std::function<void(class Module&, const Tensor& grad_output)>;

class Module : public std::enable_shared_from_this<Module> {
 public:
  explicit Module(std::string type_name);  // "Linear", "Conv2d", ... (printing, summary)
  virtual ~Module();
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;

  const std::string& type_name() const { return type_name_; }

  // ---- forward: runs the forward pre-hooks (which may change the inputs), forward_impl (one
  // input) or forward_impl_many, the forward hooks (which may replace the output), and attaches
  // the backward hooks to the output (when it requires grad).
  Tensor operator()(const Tensor& x);
  Tensor operator()(const std::vector<Tensor>& xs);

  // ---- tree
  // Adds a parameter (a leaf: its autograd meta is reset and requires_grad set for floating
  // tensors). Returns the stored handle, which the layer keeps as a member. Names must be new,
  // non-empty and contain no '.'.
  const Tensor& register_parameter(const std::string& name, Tensor t, bool requires_grad = true);
  // Removes this module's parameter `name` (throws when absent) and returns its tensor, as PyTorch's
  // `del module._parameters[name]`: the layer's member handle is untouched, so the layer can keep
  // computing with it or with a replacement (weight tying, fastai's WeightDropout).
  Tensor unregister_parameter(const std::string& name);
  // A buffer (running stats...): no gradient; non-persistent buffers are left out of state_dict.
  const Tensor& register_buffer(const std::string& name, Tensor t, bool persistent = true);
  template <class M>
  std::shared_ptr<M> register_module(const std::string& name, std::shared_ptr<M> m) {
    add_child(name, m);
    return m;
  }
  // Replaces an existing child (transfer learning re-heads a model with it); keeps its position.
  void replace_module(const std::string& name, ModulePtr m);
  ModulePtr child(const std::string& name) const;  // throws naming the missing child
  bool has_child(const std::string& name) const;
  std::vector<std::pair<std::string, ModulePtr>> named_children() const;  // registration order
  // Pre-order, this module first with name prefix ("" by default); children "prefix.name".
  std::vector<std::pair<std::string, ModulePtr>> named_modules(const std::string& prefix = "");
  std::vector<ModulePtr> modules();
  std::vector<std::pair<std::string, Tensor>> named_parameters(bool recurse = true) const;  // "0.conv.weight"
  std::vector<Tensor> parameters(bool recurse = true) const;
  std::vector<std::pair<std::string, Tensor>> named_buffers(bool recurse = true) const;
  std::vector<Tensor> buffers(bool recurse = true) const;
  // Direct access to this module's own tensors by name (throws when absent).
  const Tensor& param(const std::string& name) const;
  const Tensor& buffer(const std::string& name) const;

  // ---- modes and bulk changes
  void train(bool on = true);  // recursive
  void eval() { train(false); }
  bool is_training() const { return training_; }
  // In place (see Note [Module tree]): parameters and buffers move to device d; requires_grad is
  // kept, gradients are dropped.
  void to(Device d);
  // In place: floating parameters and buffers are cast to `floating_dtype` (integer buffers such
  // as num_batches_tracked are kept); requires_grad kept, gradients dropped.
  void to(DType floating_dtype);
  void apply(const std::function<void(Module&)>& fn);  // post-order over the tree incl. this
  void zero_grad();                                    // clears the grad of every parameter
  void requires_grad_(bool on);                        // every parameter (freeze / unfreeze)

  // ---- hooks (run in registration order)
  HookHandle register_forward_pre_hook(ForwardPreHook fn);
  HookHandle register_forward_hook(ForwardHook fn);
  // fn gets the gradient of the module's output; attached via ag::register_hook on the output.
  HookHandle register_backward_hook(BackwardHook fn);
  // Whether any forward pre-, forward or backward hook is registered on this module (containers
  // fuse a child with the next one only when neither has hooks, see Sequential).
  bool has_hooks() const { return !pre_hooks_.empty() || !fwd_hooks_.empty() || !bwd_hooks_.empty(); }

  // ---- state
  // Parameters and persistent buffers, PyTorch names and order (per module: parameters, then
  // buffers, then children).
  std::vector<std::pair<std::string, Tensor>> state_dict() const;
  // Copies values in place (dtype cast allowed, shape must match). strict: throws a kiln::Error
  // with the report text unless the report is ok (nothing is copied then). Non-strict: copies
  // what matches and returns the report.
  LoadReport load_state_dict(const std::vector<std::pair<std::string, Tensor>>& sd, bool strict = true);

  // PyTorch-like tree printing: "Sequential(\n  (0): Linear(in_features=4, ...)\n)".
  std::string str() const;
  // Runs sample_inputs through the model under NoGradGuard with a forward hook on every leaf
  // module, and returns a fastai-like table (layer, output shape, params, trainable) plus totals.
  std::string summary(const std::vector<Tensor>& sample_inputs);

 protected:
  // Override one of the two. The defaults route to each other for a single input; a module
  // overriding neither gets a clear error.
  virtual Tensor forward_impl(const Tensor& x);
  virtual Tensor forward_impl_many(const std::vector<Tensor>& xs);
  virtual std::string extra_repr() const { return ""; }

 private:
  void add_child(const std::string& name, ModulePtr m);
  void check_new_name(const std::string& name, const char* what) const;
  void collect_params(const std::string& prefix, bool recurse, std::vector<std::pair<std::string, Tensor>>& out) const;
  void collect_buffers(const std::string& prefix, bool recurse, bool persistent_only,
                       std::vector<std::pair<std::string, Tensor>>& out) const;
  std::string str_indented(int indent) const;
  Tensor run_forward(std::vector<Tensor> xs, bool many);

  struct Buffer {
    Tensor t;
    bool persistent = true;
  };
  using HookRegistry = std::map<uint64_t, std::function<void()>>;

  std::string type_name_;
  bool training_ = true;
  std::vector<std::pair<std::string, Tensor>> params_;
  std::vector<std::pair<std::string, Buffer>> buffers_;
  std::vector<std::pair<std::string, ModulePtr>> children_;
  // Hooks, keyed by id (ascending id = registration order). The registry maps id -> eraser so
  // that a HookHandle can remove its hook without knowing the hook's type.
  std::map<uint64_t, ForwardPreHook> pre_hooks_;
  std::map<uint64_t, ForwardHook> fwd_hooks_;
  std::map<uint64_t, BackwardHook> bwd_hooks_;
  std::shared_ptr<HookRegistry> hook_registry_;
  uint64_t next_hook_id_ = 1;
  int forward_depth_ = 0;  // detects forward_impl <-> forward_impl_many recursion
};

}  // namespace kiln::nn
