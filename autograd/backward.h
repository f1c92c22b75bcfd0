#pragma once
// Reverse-mode differentiation: runs the recorded graph backwards from one or more roots.
#include <vector>

#include "kiln/autograd/node.h"

namespace kiln::ag {

// Computes the gradients of `root` with respect to every leaf that requires grad and adds them
// to those leaves' grad(). `gradient` is d(something)/d(root); it may be omitted only when root
// has one element (it is then 1). Unless retain_graph, the graph's closures (and what they saved)
// are freed, and a second backward through the same nodes throws.
// Order: Note [Backward order] in backward.cpp. No recursion, so graphs of any depth are fine.
void backward(const Tensor& root, const Tensor& gradient = {}, bool retain_graph = false);
void backward(const std::vector<Tensor>& roots, const std::vector<Tensor>& gradients, bool retain_graph = false);

// The gradients of `outputs` (weighted by `grad_outputs`, which may be empty for one-element
// outputs) with respect to `inputs`, returned instead of accumulated into grad(). An input that
// the outputs do not depend on gets an undefined tensor, or an error unless allow_unused.
std::vector<Tensor> grad(const std::vector<Tensor>& outputs, const std::vector<Tensor>& inputs,
                         const std::vector<Tensor>& grad_outputs = {}, bool retain_graph = false,
                         bool allow_unused = false);

}  // namespace kiln::ag
