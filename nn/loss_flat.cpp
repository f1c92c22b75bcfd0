// fastai's flat losses: every position along all dims but `axis` is one sample.
#include "kiln/autograd/elementwise.h"
#include "kiln/autograd/softmax.h"
#include "kiln/autograd/view.h"
#include "kiln/nn/loss.h"
#include "kiln/tensor/elementwise.h"
#include "kiln/tensor/reduce.h"

namespace kiln::nn {

namespace {
// x with dim `axis` moved to the end (the other dims keep their order).
Tensor move_axis_last(const Tensor& x, int64_t axis, const char* op) {
  if (x.dim() == 0) return x;
  int a = wrap_dim(axis, x.dim(), op);
  if (a == x.dim() - 1) return x;
  Shape perm;
  for (int d = 0; d < x.dim(); ++d)
    if (d != a) perm.push_back(d);
  perm.push_back(a);
  return ag::permute(x, perm);
}

// Floating target with the axis moved last, flattened (fastai's floatify + flatten).
Tensor float_flat_target(const Tensor& target, const Tensor& input, int64_t axis, const char* op) {
  Tensor t = is_floating(target.dtype()) ? target : target.to(input.dtype());
  if (t.dim() == input.dim()) t = move_axis_last(t, axis, op);
  return ag::reshape(t, {-1});
}
}  // namespace

CrossEntropyLossFlat::CrossEntropyLossFlat(int64_t axis_, Tensor w, int64_t ign, Reduction r, double ls)
    : axis(axis_), weight(std::move(w)), ignore_index(ign), reduction(r), label_smoothing(ls) {}

Tensor CrossEntropyLossFlat::operator()(const Tensor& input, const Tensor& target) const {
  KILN_CHECK(input.dim() >= 1, "CrossEntropyLossFlat: input must have the class axis, got shape ", input.shape());
  int a = wrap_dim(axis, input.dim(), "CrossEntropyLossFlat");
  int64_t C = input.size(a);
  Tensor x = ag::reshape(move_axis_last(input, a, "CrossEntropyLossFlat"), {-1, C});
  Tensor t = target.reshape({-1});
  KILN_CHECK(t.numel() == x.size(0), "CrossEntropyLossFlat: target has ", t.numel(), " positions, input has ",
             x.size(0), " (input ", input.shape(), ", target ", target.shape(), ", axis ", axis, ")");
  return cross_entropy(x, t, weight, ignore_index, reduction, label_smoothing);
}

Tensor CrossEntropyLossFlat::activation(const Tensor& x) const { return ag::softmax(x, axis); }
Tensor CrossEntropyLossFlat::decodes(const Tensor& x) const { return kiln::argmax(x, axis); }

BCEWithLogitsLossFlat::BCEWithLogitsLossFlat(int64_t axis_, double th, Tensor w, Tensor pw, Reduction r)
    : axis(axis_), thresh(th), weight(std::move(w)), pos_weight(std::move(pw)), reduction(r) {}

Tensor BCEWithLogitsLossFlat::operator()(const Tensor& input, const Tensor& target) const {
  const char* op = "BCEWithLogitsLossFlat";
  Tensor x = ag::reshape(move_axis_last(input, axis, op), {-1});
  Tensor t = float_flat_target(target, input, axis, op);
  return binary_cross_entropy_with_logits(x, t, weight, pos_weight, reduction);
}

Tensor BCEWithLogitsLossFlat::activation(const Tensor& x) const { return ag::sigmoid(x); }
Tensor BCEWithLogitsLossFlat::decodes(const Tensor& x) const { return kiln::gt(x, thresh); }

MSELossFlat::MSELossFlat(int64_t axis_, Reduction r) : axis(axis_), reduction(r) {}

Tensor MSELossFlat::operator()(const Tensor& input, const Tensor& target) const {
  Tensor x = ag::reshape(move_axis_last(input, axis, "MSELossFlat"), {-1});
  return mse_loss(x, float_flat_target(target, input, axis, "MSELossFlat"), reduction);
}

L1LossFlat::L1LossFlat(int64_t axis_, Reduction r) : axis(axis_), reduction(r) {}

Tensor L1LossFlat::operator()(const Tensor& input, const Tensor& target) const {
  Tensor x = ag::reshape(move_axis_last(input, axis, "L1LossFlat"), {-1});
  return l1_loss(x, float_flat_target(target, input, axis, "L1LossFlat"), reduction);
}

}  // namespace kiln::nn
