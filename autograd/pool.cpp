// Pooling. Max pools keep the argmax indices of the forward (flat positions in each input plane)
// and scatter the gradient back through them; average pools spread it over each window.
#include "kiln/autograd/pool.h"

namespace kiln::ag {

Tensor max_pool2d(const Tensor& x, std::array<int64_t, 2> kernel, std::array<int64_t, 2> stride,
                  std::array<int64_t, 2> padding, std::array<int64_t, 2> dilation, bool ceil_mode) {
  ValuesIndices vi = kiln::max_pool2d(x, kernel, stride, padding, dilation, ceil_mode);
  if (!any_requires_grad({&x})) return vi.values;
  SavedTensor si(vi.indices, "max_pool2d");
  const Shape xs = x.shape();
  return record("max_pool2d", {x}, vi.values, [si, xs](const Grads& g) -> std::vector<Tensor> {
    return {kiln::max_pool2d_backward(g[0], si.get(), xs)};
  });
}

Tensor avg_pool2d(const Tensor& x, std::array<int64_t, 2> kernel, std::array<int64_t, 2> stride,
                  std::array<int64_t, 2> padding, bool ceil_mode, bool count_include_pad,
                  std::optional<int64_t> divisor_override) {
  Tensor y = kiln::avg_pool2d(x, kernel, stride, padding, ceil_mode, count_include_pad, divisor_override);
  if (!any_requires_grad({&x})) return y;
  const Shape xs = x.shape();
  return record("avg_pool2d", {x}, y,
                [xs, kernel, stride, padding, ceil_mode, count_include_pad,
                 divisor_override](const Grads& g) -> std::vector<Tensor> {
                  return {kiln::avg_pool2d_backward(g[0], xs, kernel, stride, padding, ceil_mode, count_include_pad,
                                                    divisor_override)};
                });
}

Tensor adaptive_avg_pool2d(const Tensor& x, std::array<int64_t, 2> output_size) {
  Tensor y = kiln::adaptive_avg_pool2d(x, output_size);
  if (!any_requires_grad({&x})) return y;
  const Shape xs = x.shape();
  return record("adaptive_avg_pool2d", {x}, y, [xs](const Grads& g) -> std::vector<Tensor> {
    return {kiln::adaptive_avg_pool2d_backward(g[0], xs)};
  });
}

Tensor adaptive_max_pool2d(const Tensor& x, std::array<int64_t, 2> output_size) {
  ValuesIndices vi = kiln::adaptive_max_pool2d(x, output_size);
  if (!any_requires_grad({&x})) return vi.values;
  SavedTensor si(vi.indices, "adaptive_max_pool2d");
  const Shape xs = x.shape();
  return record("adaptive_max_pool2d", {x}, vi.values, [si, xs](const Grads& g) -> std::vector<Tensor> {
    return {kiln::adaptive_max_pool2d_backward(g[0], si.get(), xs)};
  });
}

}  // namespace kiln::ag
