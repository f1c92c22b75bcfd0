// nn::Module: tree bookkeeping, forward with hooks, bulk changes, state dicts, printing.
#include "kiln/nn/module.h"

#include <set>
#include <sstream>

#include "kiln/autograd/grad_mode.h"
#include "kiln/kernels/error.h"

namespace kiln::nn {

// ---------------------------------------------------------------- HookHandle, LoadReport

void HookHandle::remove() {
  auto reg = registry.lock();
  if (!reg) return;
  auto it = reg->find(id);
  if (it == reg->end()) return;
  auto eraser = std::move(it->second);
  reg->erase(it);
  eraser();
}

bool HookHandle::active() const {
  auto reg = registry.lock();
  return reg && reg->count(id) > 0;
}

std::string LoadReport::str() const {
  if (ok()) return "state dict matches the module";
  std::ostringstream os;
  auto list = [&](const char* what, const std::vector<std::string>& names) {
    if (names.empty()) return;
    os << what << " (" << names.size() << "):";
    for (const auto& n : names) os << " " << n;
    os << "\n";
  };
  list("missing keys", missing);
  list("unexpected keys", unexpected);
  list("size mismatch", mismatched);
  std::string s = os.str();
  if (!s.empty() && s.back() == '\n') s.pop_back();
  return s;
}

// ---------------------------------------------------------------- construction, tree

Module::Module(std::string type_name)
    : type_name_(std::move(type_name)), hook_registry_(std::make_shared<HookRegistry>()) {}

Module::~Module() = default;

void Module::check_new_name(const std::string& name, const char* what) const {
  KILN_CHECK(!name.empty(), type_name_, ": ", what, " name must not be empty");
  KILN_CHECK(name.find('.') == std::string::npos, type_name_, ": ", what, " name '", name, "' must not contain '.'");
  for (const auto& [n, t] : params_)
    KILN_CHECK(n != name, type_name_, ": ", what, " name '", name, "' is already a parameter");
  for (const auto& [n, b] : buffers_)
    KILN_CHECK(n != name, type_name_, ": ", what, " name '", name, "' is already a buffer");
  for (const auto& [n, c] : children_)
    KILN_CHECK(n != name, type_name_, ": ", what, " name '", name, "' is already a child module");
}

const Tensor& Module::register_parameter(const std::string& name, Tensor t, bool requires_grad) {
  check_new_name(name, "parameter");
  check_defined(t, "register_parameter", name.c_str());
  // A parameter is a leaf: a tensor produced by recorded ops is detached first.
  if (!ag::is_leaf(t)) t = ag::detach(t);
  if (t.is_floating_point()) ag::set_requires_grad(t, requires_grad);
  else KILN_CHECK(!requires_grad, type_name_, ": parameter '", name, "' has non-floating dtype ", dtype_name(t.dtype()),
                  " and cannot require grad");
  params_.emplace_back(name, std::move(t));
  return params_.back().second;
}

Tensor Module::unregister_parameter(const std::string& name) {
  for (auto it = params_.begin(); it != params_.end(); ++it)
    if (it->first == name) {
      Tensor t = std::move(it->second);
      params_.erase(it);
      return t;
    }
  KILN_FAIL(type_name_, ": no parameter '", name, "' to unregister");
}

const Tensor& Module::register_buffer(const std::string& name, Tensor t, bool persistent) {
  check_new_name(name, "buffer");
  check_defined(t, "register_buffer", name.c_str());
  if (ag::requires_grad(t)) t = ag::detach(t);
  buffers_.push_back({name, Buffer{std::move(t), persistent}});
  return buffers_.back().second.t;
}

void Module::add_child(const std::string& name, ModulePtr m) {
  check_new_name(name, "child module");
  KILN_CHECK(m != nullptr, type_name_, ": child module '", name, "' is null");
  KILN_CHECK(m.get() != this, type_name_, ": a module cannot be its own child ('", name, "')");
  children_.emplace_back(name, std::move(m));
}

void Module::replace_module(const std::string& name, ModulePtr m) {
  KILN_CHECK(m != nullptr, type_name_, ": replace_module('", name, "') with a null module");
  for (auto& [n, c] : children_) {
    if (n == name) {
      c = std::move(m);
      return;
    }
  }
  child(name);  // throws naming the missing child
}

bool Module::has_child(const std::string& name) const {
  for (const auto& [n, c] : children_)
    if (n == name) return true;
  return false;
}

ModulePtr Module::child(const std::string& name) const {
  for (const auto& [n, c] : children_)
    if (n == name) return c;
  std::string names;
  for (const auto& [n, c] : children_) names += (names.empty() ? "" : ", ") + n;
  KILN_CHECK(false, type_name_, ": no child module named '", name, "' (children: ", names.empty() ? "none" : names, ")");
  return nullptr;
}

std::vector<std::pair<std::string, ModulePtr>> Module::named_children() const { return children_; }

std::vector<std::pair<std::string, ModulePtr>> Module::named_modules(const std::string& prefix) {
  // Iterative pre-order with an explicit stack; a module reachable twice is listed once (as PyTorch).
  std::vector<std::pair<std::string, ModulePtr>> out;
  std::set<const Module*> seen;
  ModulePtr self = weak_from_this().lock();
  if (!self) self = ModulePtr(this, [](Module*) {});  // not owned by a shared_ptr: a non-owning alias
  std::vector<std::pair<std::string, ModulePtr>> stack{{prefix, self}};
  while (!stack.empty()) {
    auto [name, m] = std::move(stack.back());
    stack.pop_back();
    if (!seen.insert(m.get()).second) continue;
    out.emplace_back(name, m);
    for (auto it = m->children_.rbegin(); it != m->children_.rend(); ++it)
      stack.emplace_back(name.empty() ? it->first : name + "." + it->first, it->second);
  }
  return out;
}

std::vector<ModulePtr> Module::modules() {
  std::vector<ModulePtr> out;
  for (auto& [n, m] : named_modules()) out.push_back(m);
  return out;
}

void Module::collect_params(const std::string& prefix, bool recurse,
                            std::vector<std::pair<std::string, Tensor>>& out) const {
  for (const auto& [n, t] : params_) out.emplace_back(prefix + n, t);
  if (!recurse) return;
  for (const auto& [n, c] : children_) c->collect_params(prefix + n + ".", true, out);
}

void Module::collect_buffers(const std::string& prefix, bool recurse, bool persistent_only,
                             std::vector<std::pair<std::string, Tensor>>& out) const {
  for (const auto& [n, b] : buffers_)
    if (!persistent_only || b.persistent) out.emplace_back(prefix + n, b.t);
  if (!recurse) return;
  for (const auto& [n, c] : children_) c->collect_buffers(prefix + n + ".", true, persistent_only, out);
}

// Shared tensors (tied weights) appear once, under their first name, as in PyTorch.
static std::vector<std::pair<std::string, Tensor>> dedup(std::vector<std::pair<std::string, Tensor>> v) {
  std::set<const TensorImpl*> seen;
  std::vector<std::pair<std::string, Tensor>> out;
  for (auto& p : v)
    if (seen.insert(p.second.impl()).second) out.push_back(std::move(p));
  return out;
}

std::vector<std::pair<std::string, Tensor>> Module::named_parameters(bool recurse) const {
  std::vector<std::pair<std::string, Tensor>> out;
  collect_params("", recurse, out);
  return dedup(std::move(out));
}

std::vector<Tensor> Module::parameters(bool recurse) const {
  std::vector<Tensor> out;
  for (auto& [n, t] : named_parameters(recurse)) out.push_back(t);
  return out;
}

std::vector<std::pair<std::string, Tensor>> Module::named_buffers(bool recurse) const {
  std::vector<std::pair<std::string, Tensor>> out;
  collect_buffers("", recurse, false, out);
  return dedup(std::move(out));
}

std::vector<Tensor> Module::buffers(bool recurse) const {
  std::vector<Tensor> out;
  for (auto& [n, t] : named_buffers(recurse)) out.push_back(t);
  return out;
}

const Tensor& Module::param(const std::string& name) const {
  for (const auto& [n, t] : params_)
    if (n == name) return t;
  KILN_CHECK(false, type_name_, ": no parameter named '", name, "'");
  return params_.front().second;
}

const Tensor& Module::buffer(const std::string& name) const {
  for (const auto& [n, b] : buffers_)
    if (n == name) return b.t;
  KILN_CHECK(false, type_name_, ": no buffer named '", name, "'");
  return buffers_.front().second.t;
}

// ---------------------------------------------------------------- modes, bulk changes

void Module::train(bool on) {
  apply([on](Module& m) { m.training_ = on; });
}

void Module::apply(const std::function<void(Module&)>& fn) {
  // Post-order (children before their parent), each module once.
  auto mods = named_modules();
  for (auto it = mods.rbegin(); it != mods.rend(); ++it) fn(*it->second);
}

// Replaces the data of t's TensorImpl with that of `fresh` (same shape), see Note [Module tree].
static void rebind(const Tensor& t, const Tensor& fresh) {
  if (fresh.is_same(t)) return;
  TensorImpl* impl = t.impl();
  const TensorImpl* src = fresh.impl();
  impl->storage = src->storage;
  impl->shape = src->shape;
  impl->strides = src->strides;
  impl->offset = src->offset;
  impl->dtype = src->dtype;
  if (impl->autograd) ag::set_grad(t, Tensor());
}

// Every parameter and buffer of the tree, each TensorImpl once.
static std::vector<Tensor> all_tensors(const Module& m) {
  std::vector<Tensor> out;
  std::set<const TensorImpl*> seen;
  for (auto& [n, t] : m.named_parameters())
    if (seen.insert(t.impl()).second) out.push_back(t);
  for (auto& [n, t] : m.named_buffers())
    if (seen.insert(t.impl()).second) out.push_back(t);
  return out;
}

void Module::to(Device d) {
  ag::NoGradGuard ng;
  for (const Tensor& t : all_tensors(*this)) {
    if (t.device() == d) continue;
    rebind(t, t.to(d));
  }
}

void Module::to(DType floating_dtype) {
  KILN_CHECK(is_floating(floating_dtype), type_name_, ".to: dtype ", dtype_name(floating_dtype),
             " is not floating (only floating parameters and buffers are cast)");
  ag::NoGradGuard ng;
  for (const Tensor& t : all_tensors(*this)) {
    if (!t.is_floating_point() || t.dtype() == floating_dtype) continue;
    rebind(t, t.to(floating_dtype));
  }
}

void Module::zero_grad() {
  for (const Tensor& t : parameters()) ag::set_grad(t, Tensor());
}

void Module::requires_grad_(bool on) {
  for (const Tensor& t : parameters())
    if (t.is_floating_point()) ag::set_requires_grad(t, on);
}

// ---------------------------------------------------------------- hooks

template <class Map, class Fn>
static HookHandle add_hook(Map& map, Fn fn, uint64_t& next_id, const std::shared_ptr<std::map<uint64_t, std::function<void()>>>& reg) {
  uint64_t id = next_id++;
  map.emplace(id, std::move(fn));
  (*reg)[id] = [&map, id]() { map.erase(id); };
  HookHandle h;
  h.registry = reg;
  h.id = id;
  return h;
}

HookHandle Module::register_forward_pre_hook(ForwardPreHook fn) {
  KILN_CHECK(fn != nullptr, type_name_, ": register_forward_pre_hook with an empty function");
  return add_hook(pre_hooks_, std::move(fn), next_hook_id_, hook_registry_);
}

HookHandle Module::register_forward_hook(ForwardHook fn) {
  KILN_CHECK(fn != nullptr, type_name_, ": register_forward_hook with an empty function");
  return add_hook(fwd_hooks_, std::move(fn), next_hook_id_, hook_registry_);
}

HookHandle Module::register_backward_hook(BackwardHook fn) {
  KILN_CHECK(fn != nullptr, type_name_, ": register_backward_hook with an empty function");
  return add_hook(bwd_hooks_, std::move(fn), next_hook_id_, hook_registry_);
}

// ---------------------------------------------------------------- forward

Tensor Module::operator()(const Tensor& x) { return run_forward({x}, false); }

Tensor Module::operator()(const std::vector<Tensor>& xs) { return run_forward(xs, true); }

Tensor Module::run_forward(std::vector<Tensor> xs, bool many) {
  for (size_t i = 0; i < xs.size(); ++i)
    KILN_CHECK(xs[i].defined(), type_name_, ": forward input ", i, " is an undefined tensor");
  // Copies of the hook maps: a hook may remove itself (or another) while they run.
  if (!pre_hooks_.empty()) {
    auto hooks = pre_hooks_;
    for (auto& [id, h] : hooks) h(*this, xs);
  }
  Tensor y = (!many && xs.size() == 1) ? forward_impl(xs[0]) : forward_impl_many(xs);
  if (!fwd_hooks_.empty()) {
    auto hooks = fwd_hooks_;
    for (auto& [id, h] : hooks) h(*this, xs, y);
  }
  if (!bwd_hooks_.empty() && y.defined() && ag::requires_grad(y)) {
    // The gradient hook looks the module's hooks up when it runs, so a hook removed between
    // forward and backward does not fire. It holds the module weakly when the module is owned by
    // a shared_ptr (the graph must not keep the model alive).
    std::weak_ptr<Module> weak = weak_from_this();
    bool owned = !weak.expired();
    Module* raw = this;
    ag::register_hook(y, [weak, owned, raw](const Tensor& g) -> Tensor {
      ModulePtr keep = weak.lock();
      if (owned && !keep) return Tensor();
      auto hooks = raw->bwd_hooks_;
      for (auto& [id, h] : hooks) h(*raw, g);
      return Tensor();
    });
  }
  return y;
}

Tensor Module::forward_impl(const Tensor& x) {
  KILN_CHECK(forward_depth_ == 0, type_name_, ": the module overrides neither forward_impl nor forward_impl_many");
  ++forward_depth_;
  struct Reset {
    int& d;
    ~Reset() { --d; }
  } reset{forward_depth_};
  return forward_impl_many({x});
}

Tensor Module::forward_impl_many(const std::vector<Tensor>& xs) {
  KILN_CHECK(forward_depth_ == 0, type_name_, ": the module overrides neither forward_impl nor forward_impl_many");
  KILN_CHECK(xs.size() == 1, type_name_, ": forward takes one input, got ", xs.size());
  ++forward_depth_;
  struct Reset {
    int& d;
    ~Reset() { --d; }
  } reset{forward_depth_};
  return forward_impl(xs[0]);
}

// ---------------------------------------------------------------- state dicts

std::vector<std::pair<std::string, Tensor>> Module::state_dict() const {
  // Per module: parameters, then persistent buffers, then each child (PyTorch's order).
  std::vector<std::pair<std::string, Tensor>> out;
  struct Item {
    std::string prefix;
    const Module* m;
  };
  std::vector<Item> stack{{"", this}};
  while (!stack.empty()) {
    Item it = stack.back();
    stack.pop_back();
    it.m->collect_params(it.prefix, false, out);
    it.m->collect_buffers(it.prefix, false, true, out);
    for (auto c = it.m->children_.rbegin(); c != it.m->children_.rend(); ++c)
      stack.push_back({it.prefix + c->first + ".", c->second.get()});
  }
  return out;
}

LoadReport Module::load_state_dict(const std::vector<std::pair<std::string, Tensor>>& sd, bool strict) {
  LoadReport rep;
  auto own = state_dict();
  std::map<std::string, const Tensor*> given;
  for (const auto& [n, t] : sd) {
    KILN_CHECK(given.emplace(n, &t).second, type_name_, ".load_state_dict: name '", n, "' appears twice");
    KILN_CHECK(t.defined(), type_name_, ".load_state_dict: tensor '", n, "' is undefined");
  }
  std::set<std::string> own_names;
  std::vector<std::pair<Tensor, Tensor>> copies;  // (destination, source)
  for (const auto& [n, dst] : own) {
    own_names.insert(n);
    auto it = given.find(n);
    if (it == given.end()) {
      rep.missing.push_back(n);
    } else if (it->second->shape() != dst.shape()) {
      rep.mismatched.push_back(n + " (" + it->second->shape().str() + " in the state dict, " + dst.shape().str() +
                               " in the module)");
    } else {
      copies.emplace_back(dst, *it->second);
    }
  }
  for (const auto& [n, t] : sd)
    if (!own_names.count(n)) rep.unexpected.push_back(n);
  KILN_CHECK(!strict || rep.ok(), type_name_, ".load_state_dict (strict): ", rep.str());
  ag::NoGradGuard ng;
  for (auto& [dst, src] : copies) {
    Tensor s = src.device() == dst.device() ? src : src.to(dst.device());
    Tensor d = dst;  // same TensorImpl: every handle sees the new values
    d.copy_(s);
  }
  return rep;
}

// ---------------------------------------------------------------- printing

std::string Module::str_indented(int indent) const {
  std::string extra = extra_repr();
  std::string pad(indent + 2, ' ');
  std::ostringstream os;
  os << type_name_ << "(";
  bool multi_extra = extra.find('\n') != std::string::npos;
  if (children_.empty() && !multi_extra) {
    os << extra << ")";
    return os.str();
  }
  os << "\n";
  if (!extra.empty()) {
    std::istringstream lines(extra);
    std::string line;
    while (std::getline(lines, line)) os << pad << line << "\n";
  }
  for (const auto& [n, c] : children_) os << pad << "(" << n << "): " << c->str_indented(indent + 2) << "\n";
  os << std::string(indent, ' ') << ")";
  return os.str();
}

std::string Module::str() const { return str_indented(0); }

}  // namespace kiln::nn
