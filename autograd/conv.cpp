// Convolutions. The gradients are the raw backward ops of tensor/conv.h; conv1d is conv2d on a
// height-1 view, recorded as its own node so that its gradients come back in 1-d shapes.
#include "kiln/autograd/conv.h"

#include "kiln/kernels/error.h"

namespace kiln::ag {

Tensor conv2d(const Tensor& x, const Tensor& w, const Tensor& bias, Size2 stride, Size2 padding, Size2 dilation,
              int64_t groups) {
  Tensor y = kiln::conv2d(x, w, bias, stride, padding, dilation, groups);
  if (!any_requires_grad({&x, &w, &bias})) return y;
  // x is needed only for the weight gradient and w only for the input gradient.
  SavedTensor sx(requires_grad(w) ? x : Tensor(), "conv2d"), sw(requires_grad(x) ? w : Tensor(), "conv2d");
  const Shape xs = x.shape(), ws = w.shape();
  return record("conv2d", {x, w, bias}, y,
                [sx, sw, xs, ws, stride, padding, dilation, groups](const Grads& g) -> std::vector<Tensor> {
                  Tensor dx, dw, db;
                  if (g.needs[0]) dx = kiln::conv2d_backward_data(g[0], sw.get(), xs, stride, padding, dilation, groups);
                  if (g.needs[1])
                    dw = kiln::conv2d_backward_weight(g[0], sx.get(), ws, stride, padding, dilation, groups);
                  if (g.needs[2]) db = kiln::conv2d_backward_bias(g[0]);
                  return {dx, dw, db};
                });
}

Tensor conv_transpose2d(const Tensor& x, const Tensor& w, const Tensor& bias, Size2 stride, Size2 padding,
                        Size2 output_padding, int64_t groups, Size2 dilation) {
  Tensor y = kiln::conv_transpose2d(x, w, bias, stride, padding, output_padding, groups, dilation);
  if (!any_requires_grad({&x, &w, &bias})) return y;
  SavedTensor sx(requires_grad(w) ? x : Tensor(), "conv_transpose2d"),
      sw(requires_grad(x) ? w : Tensor(), "conv_transpose2d");
  const Shape ws = w.shape();
  // output_padding only adds rows/columns at the far edge of y; the input gradient (a strided
  // conv2d of dy) never reads them, so it needs no argument of its own.
  return record("conv_transpose2d", {x, w, bias}, y,
                [sx, sw, ws, stride, padding, groups, dilation](const Grads& g) -> std::vector<Tensor> {
                  Tensor dx, dw, db;
                  if (g.needs[0])
                    dx = kiln::conv_transpose2d_backward_data(g[0], sw.get(), stride, padding, groups, dilation);
                  if (g.needs[1])
                    dw = kiln::conv_transpose2d_backward_weight(g[0], sx.get(), ws, stride, padding, groups,
                                                                dilation);
                  if (g.needs[2]) db = kiln::conv2d_backward_bias(g[0]);
                  return {dx, dw, db};
                });
}

Tensor conv1d(const Tensor& x, const Tensor& w, const Tensor& bias, int64_t stride, int64_t padding,
              int64_t dilation, int64_t groups) {
  KILN_CHECK(x.defined() && w.defined(), "conv1d: x and w must be defined");
  KILN_CHECK(x.dim() == 3, "conv1d: expected a 3-d [B, C, L] input, got shape ", x.shape().str());
  KILN_CHECK(w.dim() == 3, "conv1d: expected a 3-d [O, C/groups, K] weight, got shape ", w.shape().str());
  const Size2 s(1, stride), p(0, padding), d(1, dilation);
  Tensor x4 = x.unsqueeze(2), w4 = w.unsqueeze(2);
  Tensor y = kiln::conv2d(x4, w4, bias, s, p, d, groups).squeeze(2);
  if (!any_requires_grad({&x, &w, &bias})) return y;
  SavedTensor sx(requires_grad(w) ? x4 : Tensor(), "conv1d"), sw(requires_grad(x) ? w4 : Tensor(), "conv1d");
  const Shape xs4 = x4.shape(), ws4 = w4.shape();
  return record("conv1d", {x, w, bias}, y, [sx, sw, xs4, ws4, s, p, d, groups](const Grads& g) -> std::vector<Tensor> {
    Tensor g4 = g[0].unsqueeze(2);
    Tensor dx, dw, db;
    if (g.needs[0]) dx = kiln::conv2d_backward_data(g4, sw.get(), xs4, s, p, d, groups).squeeze(2);
    if (g.needs[1]) dw = kiln::conv2d_backward_weight(g4, sx.get(), ws4, s, p, d, groups).squeeze(2);
    if (g.needs[2]) db = kiln::conv2d_backward_bias(g4);
    return {dx, dw, db};
  });
}

}  // namespace kiln::ag
