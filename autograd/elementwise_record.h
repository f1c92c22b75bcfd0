#pragma once
// Internal helper of the elementwise ops (not part of the public API): records a one-input op.
#include <utility>

#include "kiln/autograd/node.h"

namespace kiln::ag::detail {

// Records y = op(x) when x requires grad; `dx` maps the output gradient to x's gradient and
// captures (as SavedTensor) whatever it needs.
template <class F>
Tensor record_unary(const char* name, const Tensor& x, const Tensor& y, F dx) {
  if (!any_requires_grad({&x})) return y;
  return record(name, {x}, y, [dx = std::move(dx)](const Grads& g) -> std::vector<Tensor> { return {dx(g[0])}; });
}

}  // namespace kiln::ag::detail
