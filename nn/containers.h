#pragma once
// Containers: Sequential, Lambda, SequentialEx and MergeLayer (fastai's layers for blocks with a
// shortcut: a ResBlock is SequentialEx(conv, conv, MergeLayer())).
#include <functional>
#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

#include "kiln/nn/module.h"

namespace kiln::nn {

// Runs its children in order, each on the previous output. Children are named "0", "1", ...
class Sequential : public Module {
 public:
  Sequential();
  explicit Sequential(std::vector<ModulePtr> layers);
  Sequential(std::initializer_list<ModulePtr> layers) : Sequential(std::vector<ModulePtr>(layers)) {}

  // Appends a child named by its position.
  void push_back(ModulePtr m);
  ModulePtr operator[](int64_t i) const;  // negative counts from the end
  int64_t size() const { return int64_t(named_children().size()); }
  // A new Sequential holding children [begin, end) (Python-style negative indices, clamped),
  // SHARING them with this one: fastai's cut of a body from a pretrained model.
  std::shared_ptr<Sequential> slice(int64_t begin, int64_t end) const;

 protected:
  // For subclasses (fastai's nn.Sequential subclasses: ConvLayer, LinBnDrop, XResNet...), which
  // print and summarise under their own type name.
  explicit Sequential(std::string type_name);
  Tensor forward_impl(const Tensor& x) override;
};

// A module around a function (no parameters); `name` is what printing shows.
class Lambda : public Module {
 public:
  explicit Lambda(std::function<Tensor(const Tensor&)> fn, std::string name = "Lambda");

 protected:
  Tensor forward_impl(const Tensor& x) override;
  std::string extra_repr() const override { return name_ == "Lambda" ? "" : name_; }

 private:
  std::function<Tensor(const Tensor&)> fn_;
  std::string name_;
};

// Merges a block's output with the block's original input: out + orig (dense = false) or
// cat([out, orig], dim 1) (dense = true). Used inside a SequentialEx, which sets `orig`.
class MergeLayer : public Module {
 public:
  explicit MergeLayer(bool dense = false);
  bool dense() const { return dense_; }
  Tensor orig;  // set by the enclosing SequentialEx before each call; cleared after the block runs

 protected:
  Tensor forward_impl(const Tensor& x) override;
  std::string extra_repr() const override { return dense_ ? "dense=True" : ""; }

 private:
  bool dense_;
};

// Like Sequential (children "0", "1", ...), but MergeLayer children also get the block's input:
// before calling a MergeLayer child, SequentialEx sets its `orig` field to the block's input.
class SequentialEx : public Module {
 public:
  SequentialEx();
  explicit SequentialEx(std::vector<ModulePtr> layers);
  SequentialEx(std::initializer_list<ModulePtr> layers) : SequentialEx(std::vector<ModulePtr>(layers)) {}
  void push_back(ModulePtr m);
  ModulePtr operator[](int64_t i) const;
  int64_t size() const { return int64_t(named_children().size()); }

 protected:
  explicit SequentialEx(std::string type_name);  // for subclasses, as Sequential's
  Tensor forward_impl(const Tensor& x) override;
};

}  // namespace kiln::nn
