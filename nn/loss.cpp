// Cross entropy and NLL as single autograd nodes (Note [Cross-entropy as one node] in loss.h).
#include "kiln/nn/loss.h"

#include <string>

#include "kiln/autograd/node.h"
#include "kiln/tensor/creation.h"
#include "kiln/tensor/elementwise.h"
#include "kiln/tensor/indexing.h"
#include "kiln/tensor/reduce.h"
#include "kiln/tensor/softmax.h"

namespace kiln::nn {

namespace {

// w [C] as [1, C, 1, ...] for an ndim-d input.
Tensor class_view(const Tensor& w, int ndim) {
  Shape s = Shape::filled(ndim, 1);
  s[1] = w.numel();
  return w.reshape(s);
}

// The coefficients q [B, C, *] (see the Note) and the denominator of the mean.
struct Coeffs {
  Tensor q;
  double denom = 1;
};

Coeffs class_index_coeffs(const Tensor& x, const Tensor& target, const Tensor& w, int64_t ignore, double eps,
                          const char* op) {
  const int64_t C = x.size(1);
  Shape expect = x.shape();
  expect.erase(1);
  KILN_CHECK(target.shape() == expect, op, ": class-index target of shape ", target.shape(),
             " does not match input ", x.shape(), " (expected ", expect, ")");
  Tensor t = target.to(DType::i64);
  Tensor ignored = kiln::eq(t, ignore);
  Tensor bad = kiln::logical_and(kiln::logical_not(ignored), kiln::logical_or(kiln::lt(t, 0), kiln::ge(t, C)));
  if (bad.numel() > 0 && kiln::any(bad).item<bool>()) {
    int64_t v = kiln::masked_select(t, bad).to_vector<int64_t>()[0];
    KILN_CHECK(false, op, ": target class ", v, " is out of range [0, ", C, ") and is not ignore_index=", ignore);
  }
  Tensor tc = kiln::where(ignored, Scalar(int64_t(0)), t);
  Tensor keep = kiln::logical_not(ignored).to(x.dtype());
  // one_hot gives [B, *, C]; move the class dim to 1.
  Tensor oh = kiln::one_hot(tc, C).to(x.dtype());
  Shape perm;
  perm.push_back(0);
  perm.push_back(x.dim() - 1);
  for (int d = 1; d < x.dim() - 1; ++d) perm.push_back(d);
  oh = oh.permute(perm);
  Tensor q = eps > 0 ? kiln::add(kiln::mul(oh, 1.0 - eps), eps / double(C)) : oh;
  q = kiln::mul(q, keep.unsqueeze(1));
  Coeffs out;
  if (w.defined()) {
    q = kiln::mul(q, class_view(w, x.dim()));
    Tensor wt = kiln::index_select(w, 0, tc.reshape({-1})).reshape(tc.shape());
    out.denom = kiln::sum(kiln::mul(wt, keep), {}, false, DType::f64).item<double>();
  } else {
    out.denom = kiln::sum(keep, {}, false, DType::f64).item<double>();
  }
  out.q = q.contiguous();
  return out;
}

Coeffs probability_coeffs(const Tensor& x, const Tensor& target, const Tensor& w, double eps, const char* op) {
  KILN_CHECK(target.shape() == x.shape(), op, ": probability target of shape ", target.shape(),
             " must have the input's shape ", x.shape());
  const int64_t C = x.size(1);
  Tensor p = target.to(x.dtype());
  Tensor q = eps > 0 ? kiln::add(kiln::mul(p, 1.0 - eps), eps / double(C)) : p;
  if (w.defined()) q = kiln::mul(q, class_view(w, x.dim()));
  Coeffs out;
  out.q = q.contiguous();
  out.denom = C > 0 ? double(x.numel() / C) : 0.0;
  return out;
}

// The shared forward and node of cross_entropy (from_logits) and nll_loss.
Tensor weighted_nll(const char* op, const Tensor& x, const Tensor& target, const Tensor& weight, int64_t ignore,
                    Reduction reduction, double eps, bool from_logits) {
  check_defined(x, op, "input");
  check_defined(target, op, "target");
  KILN_CHECK(is_floating(x.dtype()), op, ": input must be floating, got ", dtype_name(x.dtype()));
  KILN_CHECK(x.dim() >= 2, op, ": input must be [B, C] or [B, C, *], got shape ", x.shape());
  KILN_CHECK(eps >= 0 && eps <= 1, op, ": label_smoothing must be in [0, 1], got ", eps);
  const int64_t C = x.size(1);
  Tensor w;
  if (weight.defined()) {
    KILN_CHECK(weight.dim() == 1 && weight.size(0) == C, op, ": weight must be [", C, "], got ", weight.shape());
    w = weight.to(x.dtype());
  }
  Coeffs k = is_floating(target.dtype()) ? probability_coeffs(x, target, w, eps, op)
                                         : class_index_coeffs(x, target, w, ignore, eps, op);
  Tensor lp = from_logits ? kiln::log_softmax(x, 1) : x.contiguous();
  // q = 0 where lp may be -inf (masked logits, ignored rows): count those terms as 0, not NaN.
  Tensor terms = kiln::where(kiln::eq(k.q, 0), 0.0, kiln::mul(k.q, lp));
  Tensor per_pos = kiln::neg(kiln::sum(terms, {1}));
  Tensor y = reduction == Reduction::none ? per_pos
             : reduction == Reduction::sum ? kiln::sum(per_pos)
                                           : kiln::div(kiln::sum(per_pos), k.denom);
  if (!ag::any_requires_grad({&x})) return y;
  ag::SavedTensor s_lp(lp, op), s_q(k.q, op);
  double denom = k.denom;
  return ag::record(op, {x}, y, [s_lp, s_q, denom, reduction, from_logits](const ag::Grads& g) -> std::vector<Tensor> {
    if (!g.needs[0]) return {Tensor()};
    Tensor q = s_q.get();
    Tensor gy = reduction == Reduction::none ? g[0].unsqueeze(1)
                : reduction == Reduction::sum ? g[0]
                                              : kiln::div(g[0], denom);
    Tensor dlp;
    if (from_logits) {
      Tensor p = kiln::exp(s_lp.get());
      dlp = kiln::sub(kiln::mul(p, kiln::sum(q, {1}, true)), q);
    } else {
      dlp = kiln::neg(q);
    }
    return {kiln::mul(dlp, gy)};
  });
}

}  // namespace

Tensor cross_entropy(const Tensor& logits, const Tensor& target, const Tensor& weight, int64_t ignore_index,
                     Reduction reduction, double label_smoothing) {
  return weighted_nll("cross_entropy", logits, target, weight, ignore_index, reduction, label_smoothing, true);
}

Tensor nll_loss(const Tensor& log_probs, const Tensor& target, const Tensor& weight, int64_t ignore_index,
                Reduction reduction) {
  KILN_CHECK(!target.defined() || !is_floating(target.dtype()), "nll_loss: target must hold class indices (i64), got ",
             dtype_name(target.dtype()));
  return weighted_nll("nll_loss", log_probs, target, weight, ignore_index, reduction, 0.0, false);
}

}  // namespace kiln::nn
