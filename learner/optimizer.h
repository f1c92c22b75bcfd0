#pragma once
// The generic optimizer (DESIGN.md section 5), fastai's design in C++: parameter groups, each with
// its own hyper-parameters by name, and a list of callbacks (stats that track running quantities,
// steppers that change the weights) run in order for every parameter that has a gradient.
//
// Note [Optimizer]
// - Groups: group g has its parameters and a Hypers map ("lr", "mom", "wd", ...). Every callback
//   declares the hyper-parameters it reads, with defaults; the constructor merges the callbacks'
//   defaults, then the given hypers, into every group (fastai's `merge(cb.defaults..., defaults)`).
//   Hypers are read and written by name at run time (schedulers, discriminative learning rates)
//   or through the typed accessors (lr(), set_lr(), ...). Setting a name no group has is an error
//   (a typo such as "lrr" would otherwise silently do nothing).
// - State per parameter: tensors ("grad_avg", "sqr_avg", ...), numbers ("step", "local_lr") and
//   two masks: do_wd (false: weight decay skips it; fastai's wd_bn_bias=False) and force_train
//   (true: stays trainable when its group is frozen; fastai's train_bn=True).
// - step(): for every group, for every parameter that requires grad and has a gradient, runs the
//   callbacks in order on (param, grad, state, hypers). Frozen parameters (requires_grad false,
//   see freeze_to) and parameters without a gradient are skipped, so their state does not move.
//   The update is not recorded by autograd and bumps the parameters' version counters.
//   f16 / bf16 parameters are stepped through an f32 master copy kept in state "master".
// - The composed callbacks are the reference. The factories in optimizers.h also name a fused
//   kind (Note [Fused optimizer semantics], kernels/optim_fused.h); while fused() is on and the
//   callbacks are the factory's, step() runs one fused pass per group instead, on the same state.
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "kiln/kernels/optim_fused.h"
#include "kiln/tensor/tensor.h"

namespace kiln::optim {

using Hypers = std::map<std::string, double>;

// fastai's self.state[p].
struct ParamState {
  std::map<std::string, Tensor> buffers;  // f32 tensors shaped like the parameter
  std::map<std::string, double> values;   // "step", "local_lr", ...
  bool do_wd = true;
  bool force_train = false;
  // The state tensor `name`, created as f32 zeros shaped like `like` on first use.
  Tensor buffer(const std::string& name, const Tensor& like);
  // The f32 master copy of an f16 / bf16 parameter (buffer "master"), copied from it on first use.
  Tensor master(const Tensor& param);
};

struct ParamGroup {
  std::vector<Tensor> params;
  Hypers hypers;  // group-specific values; merged over the callbacks' defaults
};

// What a callback sees for one parameter in one step.
struct StepContext {
  Tensor param;  // the weights to update in place (the f32 master for f16 / bf16 parameters)
  Tensor grad;   // this step's gradient (f32 for a master); a callback may replace it (l2_reg)
  ParamState& state;
  const Hypers& hypers;
  // The hyper-parameter `name` (throws naming it and the callback's group when absent).
  double hyper(const std::string& name) const;
  // The state tensor `name`, created as zeros like `param` on first use.
  Tensor buffer(const std::string& name);
  // The state number `name` (`initial` when absent).
  double value(const std::string& name, double initial = 0) const;
};

// A stat or a stepper.
struct OptimCallback {
  std::string name;
  Hypers defaults;  // the hyper-parameters it reads, with default values
  std::function<void(StepContext&)> fn;
};

// Options of one step (mixed precision).
struct StepOptions {
  double inv_scale = 1.0;          // gradients are multiplied by this first (loss-scale unscaling)
  bool skip_if_nonfinite = false;  // check every gradient first; skip the whole step on NaN / inf
};

// Serialised optimizer state: tensors named "state.<i>.<buffer>" (i = flat parameter index over
// the groups) and JSON metadata under "kiln.optimizer" (hypers, numbers, masks, wrapper extras).
struct OptimizerState {
  std::vector<std::pair<std::string, Tensor>> tensors;
  std::string json;
};

// The fused pass a factory's callback list is equivalent to.
struct FusedSpec {
  optim_kernels::FusedOptim kind;
  bool dampening = false;
  bool nesterov = false;
  bool clip = true;
  // The composition tracks grad_avg (SGD / Larc built with mom != 0; always for the Adam family).
  bool momentum = true;
};

class Optimizer;

// Hooks a wrapper adds around every step (Lookahead). An optimizer holds at most one; it survives
// moves, so `Optimizer opt = Lookahead(SGD(...))` keeps the wrapper (no slicing).
class OptimizerExtension {
 public:
  virtual ~OptimizerExtension() = default;
  virtual std::string name() const = 0;
  virtual void before_step(Optimizer&) {}
  virtual void after_step(Optimizer&) {}
  virtual void clear_state() {}
  // Extra tensors and a JSON string saved with the state; load validates everything before
  // changing anything and throws a kiln::Error naming what does not fit.
  virtual void save(const Optimizer&, std::vector<std::pair<std::string, Tensor>>& tensors, std::string& json) const = 0;
  virtual void load(const Optimizer&, const std::vector<std::pair<std::string, Tensor>>& tensors,
                    const std::string& json) = 0;
};

class Optimizer {
 public:
  // One group per element of `groups`. hypers: values for every group (over the callbacks'
  // defaults, under each group's own hypers).
  Optimizer(std::vector<ParamGroup> groups, std::vector<OptimCallback> callbacks, const Hypers& hypers = {});
  // A single group.
  Optimizer(std::vector<Tensor> params, std::vector<OptimCallback> callbacks, const Hypers& hypers = {});
  // One group per parameter list (discriminative learning rates: body groups first, head last).
  Optimizer(std::vector<std::vector<Tensor>> param_lists, std::vector<OptimCallback> callbacks,
            const Hypers& hypers = {});
  ~Optimizer() = default;
  Optimizer(Optimizer&&) = default;
  Optimizer& operator=(Optimizer&&) = default;
  Optimizer(const Optimizer&) = delete;
  Optimizer& operator=(const Optimizer&) = delete;

  // ---- groups and hyper-parameters
  int64_t num_groups() const { return int64_t(groups_.size()); }
  const ParamGroup& group(int64_t g) const;
  const std::vector<ParamGroup>& groups() const { return groups_; }
  const std::vector<OptimCallback>& callbacks() const { return callbacks_; }
  int64_t num_params() const;
  bool has_hyper(const std::string& name) const;
  double hyper(const std::string& name, int64_t group = 0) const;
  std::vector<double> hyper_per_group(const std::string& name) const;
  void set_hyper(const std::string& name, double value);  // every group
  // One value per group, or a single value for all.
  void set_hyper(const std::string& name, const std::vector<double>& values);
  // fastai's slice(lo, hi): lo > 0 gives values spaced evenly on a log scale from lo (first
  // group) to hi (last); lo == 0 gives hi / 10 for every group but the last, which gets hi.
  void set_hyper_range(const std::string& name, double lo, double hi);

  // Typed accessors for the common names.
  double lr(int64_t group = 0) const { return hyper("lr", group); }
  void set_lr(double v) { set_hyper("lr", v); }
  void set_lr(const std::vector<double>& v) { set_hyper("lr", v); }
  double mom(int64_t group = 0) const { return hyper("mom", group); }
  void set_mom(double v) { set_hyper("mom", v); }
  double sqr_mom(int64_t group = 0) const { return hyper("sqr_mom", group); }
  void set_sqr_mom(double v) { set_hyper("sqr_mom", v); }
  double wd(int64_t group = 0) const { return hyper("wd", group); }
  void set_wd(double v) { set_hyper("wd", v); }
  double eps(int64_t group = 0) const { return hyper("eps", group); }
  void set_eps(double v) { set_hyper("eps", v); }

  // ---- per-parameter state and masks
  bool has_param(const Tensor& p) const;
  ParamState& state(const Tensor& p);  // throws when p is not one of the optimizer's parameters
  const ParamState& state(const Tensor& p) const;
  void set_do_wd(const Tensor& p, bool on) { state(p).do_wd = on; }
  void set_force_train(const Tensor& p, bool on) { state(p).force_train = on; }

  // ---- freezing (fastai): groups before n stop training (requires_grad false) except
  // force_train parameters; groups from n on train. n < 0 counts from the end.
  void freeze_to(int64_t n);
  void freeze() { freeze_to(-1); }  // all but the last group; needs at least two groups
  void unfreeze() { freeze_to(0); }
  int64_t frozen_idx() const { return frozen_idx_; }

  // ---- stepping
  // set_to_none: drop the gradients (the next backward allocates them); else zero them in place.
  void zero_grad(bool set_to_none = true);
  // Returns false when the step was skipped (skip_if_nonfinite and a gradient is not finite).
  bool step(const StepOptions& options = {});
  // Drops every state tensor and number (the masks stay).
  void clear_state();

  // ---- fused path
  const std::optional<FusedSpec>& fused_spec() const { return fused_spec_; }
  void set_fused_spec(std::optional<FusedSpec> spec) { fused_spec_ = spec; }
  // On by default when a factory set a spec; off forces the composed callbacks.
  void set_fused(bool on) { fused_on_ = on; }
  bool fused() const { return fused_on_ && fused_spec_.has_value(); }

  // ---- save / restore (bit-exact resumption)
  OptimizerState state_dict() const;
  // Checks the group and parameter counts, every shape and dtype, then replaces hypers and state.
  void load_state_dict(const OptimizerState& sd);
  void save(const std::string& path) const;  // safetensors file
  void load(const std::string& path);

  std::string type_name() const { return type_name_; }
  void set_type_name(std::string n) { type_name_ = std::move(n); }

  // ---- wrapper hooks
  void set_extension(std::unique_ptr<OptimizerExtension> ext) { extension_ = std::move(ext); }
  OptimizerExtension* extension() const { return extension_.get(); }

 protected:
  void step_impl(const StepOptions& options);

  // Runs the callbacks on every trainable parameter with a gradient (of one group).
  void composed_step(const StepOptions& options);
  void composed_group_step(size_t group, const StepOptions& options);
  // One fused pass per group; false when it cannot (then the composed path runs).
  bool fused_step(const StepOptions& options);
  bool trainable(const Tensor& p) const;
  // Flat index of each parameter: group by group, in order.
  std::vector<std::pair<const Tensor*, ParamState*>> all_params();

  std::vector<ParamGroup> groups_;
  std::vector<OptimCallback> callbacks_;
  std::vector<std::vector<ParamState>> states_;  // [group][param]
  std::unordered_map<const TensorImpl*, std::pair<int64_t, int64_t>> index_;
  std::optional<FusedSpec> fused_spec_;
  bool fused_on_ = true;
  int64_t frozen_idx_ = 0;
  std::string type_name_ = "Optimizer";
  std::unique_ptr<OptimizerExtension> extension_;

 private:
  void build_index();
};

}  // namespace kiln::optim
