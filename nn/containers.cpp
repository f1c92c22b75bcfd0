// Containers. Children are stored only in the Module tree (no second list), so replace_module()
// on a container is seen by its forward.
#include "kiln/nn/containers.h"

#include <algorithm>
#include <utility>

#include "kiln/autograd/elementwise.h"
#include "kiln/autograd/shape_ops.h"
#include "kiln/kernels/error.h"
#include "kiln/nn/activation.h"
#include "kiln/nn/norm.h"

namespace kiln::nn {

static ModulePtr child_at(const Module& m, int64_t i, const char* who) {
  auto kids = m.named_children();
  int64_t n = int64_t(kids.size());
  int64_t j = i < 0 ? i + n : i;
  KILN_CHECK(j >= 0 && j < n, who, ": index ", i, " out of range for ", n, " layers");
  return kids[j].second;
}

// ---------------------------------------------------------------- Sequential

Sequential::Sequential() : Module("Sequential") {}

Sequential::Sequential(std::string type_name) : Module(std::move(type_name)) {}

Sequential::Sequential(std::vector<ModulePtr> layers) : Module("Sequential") {
  for (auto& m : layers) push_back(std::move(m));
}

void Sequential::push_back(ModulePtr m) { register_module(std::to_string(size()), std::move(m)); }

ModulePtr Sequential::operator[](int64_t i) const { return child_at(*this, i, "Sequential"); }

std::shared_ptr<Sequential> Sequential::slice(int64_t begin, int64_t end) const {
  int64_t n = size();
  auto norm = [n](int64_t i) { return std::clamp(i < 0 ? i + n : i, int64_t(0), n); };
  int64_t b = norm(begin), e = norm(end);
  auto out = std::make_shared<Sequential>();
  auto kids = named_children();
  for (int64_t i = b; i < e; ++i) out->push_back(kids[i].second);
  return out;
}

// Note [Batch norm + activation in Sequential]
// A batch norm directly followed by ReLU or LeakyReLU (fastai's ConvLayer, LinBnDrop with an
// activation...) runs as one op, BatchNorm::forward_act: the same values and gradients as the two
// layers (kernels' Note [Batch norm + activation on the CPU]) with one pass less over the
// activations each way. The module tree is unchanged (state_dict names, printing, replace_module
// all see two layers); when either layer has hooks (summary(), activation statistics...) they run
// one after the other as usual, so every hook sees what it expects.
static bool fused_activation(const Module& m, BnActivation& act, double& slope) {
  if (m.has_hooks()) return false;
  if (dynamic_cast<const ReLU*>(&m)) {
    act = BnActivation::relu, slope = 0.0;
    return true;
  }
  if (auto* l = dynamic_cast<const LeakyReLU*>(&m)) {
    act = BnActivation::leaky_relu, slope = l->negative_slope;
    return true;
  }
  return false;
}

Tensor Sequential::forward_impl(const Tensor& x) {
  Tensor y = x;
  const auto kids = named_children();
  for (size_t i = 0; i < kids.size(); ++i) {
    Module& m = *kids[i].second;
    auto* bn = dynamic_cast<BatchNorm*>(&m);
    BnActivation act;
    double slope;
    if (bn && !bn->has_hooks() && i + 1 < kids.size() && fused_activation(*kids[i + 1].second, act, slope)) {
      y = bn->forward_act(y, act, slope);
      ++i;
      continue;
    }
    y = m(y);
  }
  return y;
}

// ---------------------------------------------------------------- Lambda

Lambda::Lambda(std::function<Tensor(const Tensor&)> fn, std::string name)
    : Module("Lambda"), fn_(std::move(fn)), name_(std::move(name)) {
  KILN_CHECK(fn_ != nullptr, "Lambda '", name_, "': empty function");
}

Tensor Lambda::forward_impl(const Tensor& x) { return fn_(x); }

// ---------------------------------------------------------------- MergeLayer

MergeLayer::MergeLayer(bool dense) : Module("MergeLayer"), dense_(dense) {}

Tensor MergeLayer::forward_impl(const Tensor& x) {
  KILN_CHECK(orig.defined(), "MergeLayer: no original input set (use it inside a SequentialEx)");
  if (dense_) return ag::cat({x, orig}, 1);
  return ag::add(x, orig);
}

// ---------------------------------------------------------------- SequentialEx

SequentialEx::SequentialEx() : Module("SequentialEx") {}

SequentialEx::SequentialEx(std::string type_name) : Module(std::move(type_name)) {}

SequentialEx::SequentialEx(std::vector<ModulePtr> layers) : Module("SequentialEx") {
  for (auto& m : layers) push_back(std::move(m));
}

void SequentialEx::push_back(ModulePtr m) { register_module(std::to_string(size()), std::move(m)); }

ModulePtr SequentialEx::operator[](int64_t i) const { return child_at(*this, i, "SequentialEx"); }

Tensor SequentialEx::forward_impl(const Tensor& x) {
  Tensor y = x;
  std::vector<MergeLayer*> merged;
  // Clear `orig` on the way out (also on error) so the MergeLayers do not keep the input alive.
  struct Clear {
    std::vector<MergeLayer*>& v;
    ~Clear() {
      for (auto* m : v) m->orig = Tensor();
    }
  } clear{merged};
  for (auto& [name, m] : named_children()) {
    if (auto* ml = dynamic_cast<MergeLayer*>(m.get())) {
      ml->orig = x;
      merged.push_back(ml);
    }
    y = (*m)(y);
  }
  return y;
}

}  // namespace kiln::nn
