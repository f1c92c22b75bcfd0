// Cross entropy and NLL as single autograd nodes (Note [Cross-entropy as one node] in loss.h).
#include "kiln/nn/loss.h"

#include <functional>
#include <string>

#include "kiln/autograd/node.h"
#include "kiln/autograd/view.h"
#include "kiln/tensor/creation.h"
#include "kiln/tensor/cross_entropy.h"
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

// Throws naming the first target outside [0, C) that is not ignore_index (one host sync).
void check_target_range(const Tensor& t, const Tensor& ignored, int64_t C, int64_t ignore, const char* op) {
  Tensor bad = kiln::logical_and(kiln::logical_not(ignored), kiln::logical_or(kiln::lt(t, 0), kiln::ge(t, C)));
  if (bad.numel() > 0 && kiln::any(bad).item<bool>()) {
    int64_t v = kiln::masked_select(t, bad).to_vector<int64_t>()[0];
    KILN_CHECK(false, op, ": target class ", v, " is out of range [0, ", C, ") and is not ignore_index=", ignore);
  }
}

Coeffs class_index_coeffs(const Tensor& x, const Tensor& target, const Tensor& w, int64_t ignore, double eps,
                          const char* op) {
  const int64_t C = x.size(1);
  Shape expect = x.shape();
  expect.erase(1);
  KILN_CHECK(target.shape() == expect, op, ": class-index target of shape ", target.shape(),
             " does not match input ", x.shape(), " (expected ", expect, ")");
  Tensor t = target.to(DType::i64);
  Tensor ignored = kiln::eq(t, ignore);
  check_target_range(t, ignored, C, ignore, op);
  Tensor tc = kiln::where(ignored, Scalar(int64_t(0)), t);
  Tensor keep = kiln::logical_not(ignored).to(x.dtype());
  // (1 - eps) at each target class along dim 1, written straight into an [B, C, *] tensor of x's
  // dtype (a one_hot would be an i64 [B, *, C] temporary 8 bytes per logit).
  Tensor q = kiln::scatter_(zeros(x.shape(), x.dtype(), x.device()), 1, tc.unsqueeze(1), 1.0 - eps);
  if (eps > 0) q = kiln::add(q, eps / double(C));
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

// Note [Fused cross-entropy path]
// cross_entropy with class-index targets runs the fused row kernels (tensor/cross_entropy.h: one
// pass forward, one backward, on the CPU and on CUDA) instead of log_softmax + coefficient
// tensors: it needs no [B, C] temporaries besides the gradient. Inputs [B, C, d1, ...] are moved to
// rows [B * d1 * ..., C] first (one copy) and the gradient moved back. The numbers are those of
// the composed path (Note [Fused cross-entropy] states the same formulas); probability targets
// and nll_loss keep the composed path.
Tensor fused_cross_entropy(const Tensor& x, const Tensor& target, const Tensor& w, int64_t ignore,
                           Reduction reduction, double eps, const char* op) {
  const int64_t C = x.size(1);
  Shape expect = x.shape();
  expect.erase(1);
  KILN_CHECK(target.shape() == expect, op, ": class-index target of shape ", target.shape(),
             " does not match input ", x.shape(), " (expected ", expect, ")");
  Tensor t = target.to(DType::i64).reshape({-1}).contiguous();
  check_target_range(t, kiln::eq(t, ignore), C, ignore, op);
  // [B, C, *] -> [B, *, C] -> rows [N, C]
  std::vector<int64_t> perm;
  perm.push_back(0);
  for (int d = 2; d < x.dim(); ++d) perm.push_back(d);
  perm.push_back(1);
  Tensor rows = x.dim() == 2 ? x.contiguous() : x.permute(perm).reshape({-1, C}).contiguous();
  CrossEntropyParams p;
  p.ignore_index = ignore;
  p.label_smoothing = eps;
  p.reduction = reduction == Reduction::none ? CeReduction::none
                : reduction == Reduction::sum ? CeReduction::sum
                                              : CeReduction::mean;
  CrossEntropyRows fwd = kiln::cross_entropy_rows_forward(rows, t, w, p);
  Tensor y = reduction == Reduction::none ? fwd.loss.reshape(target.shape()) : fwd.loss.reshape({});
  if (!ag::any_requires_grad({&x})) return y;
  ag::SavedTensor s_rows(rows, op), s_t(t, op), s_w(w, op), s_lse(fwd.lse, op), s_denom(fwd.denom, op);
  Shape moved = x.dim() == 2 ? x.shape() : x.permute(perm).shape();
  std::vector<int64_t> inverse(perm.size());
  for (size_t i = 0; i < perm.size(); ++i) inverse[size_t(perm[i])] = int64_t(i);
  auto fn = [s_rows, s_t, s_w, s_lse, s_denom, p, moved, inverse](const ag::Grads& g) -> std::vector<Tensor> {
    CrossEntropyRows saved{Tensor(), s_lse.get(), s_denom.get()};
    Tensor dx = kiln::cross_entropy_rows_backward(g[0].reshape({-1}), s_rows.get(), s_t.get(), s_w.get(), saved, p);
    if (moved.size() != 2) dx = dx.reshape(moved).permute(inverse);
    return {dx};
  };
  return ag::record(op, {x}, y, fn);
}

// The shared forward and node of cross_entropy (from_logits) and nll_loss.
Tensor weighted_nll(const char* op, const Tensor& x, const Tensor& target, const Tensor& weight, int64_t ignore,
                    Reduction reduction, double eps, bool from_logits) {
  check_defined(x, op, "input");
  check_defined(target, op, "target");
  KILN_CHECK(is_floating(x.dtype()), op, ": input must be floating, got ", dtype_name(x.dtype()));
  KILN_CHECK(x.dim() >= 1, op, ": input must be [C], [B, C] or [B, C, *], got a 0-d tensor");
  KILN_CHECK(eps >= 0 && eps <= 1, op, ": label_smoothing must be in [0, 1], got ", eps);
  const int64_t C = x.size(1);
  Tensor w;
  if (weight.defined()) {
    KILN_CHECK(weight.dim() == 1 && weight.size(0) == C, op, ": weight must be [", C, "], got ", weight.shape());
    w = weight.to(x.dtype());
  }
  if (from_logits && !is_floating(target.dtype()) && C >= 1) return fused_cross_entropy(x, target, w, ignore, reduction, eps, op);
  Coeffs k = is_floating(target.dtype()) ? probability_coeffs(x, target, w, eps, op)
                                         : class_index_coeffs(x, target, w, ignore, eps, op);
  Tensor lp = from_logits ? kiln::log_softmax(x, 1) : x.contiguous();
  // q = 0 where lp may be -inf (masked logits, ignored rows): count those terms as 0, not NaN.
  Tensor terms = kiln::where(kiln::eq(k.q, 0), 0.0, kiln::mul(k.q, lp));
  Tensor per_pos = kiln::neg(kiln::sum(terms, {1}));
  Tensor y = reduction == Reduction::none ? per_pos
             : reduction == Reduction::sum ? kiln::sum(per_pos)
                                           : kiln::div(kiln::sum(per_pos), k.denom);
  // Probability targets are differentiable too (as PyTorch): d loss / d p = -(1 - eps) w lp.
  const bool soft = is_floating(target.dtype());
  if (soft ? !ag::any_requires_grad({&x, &target}) : !ag::any_requires_grad({&x})) return y;
  ag::SavedTensor s_lp(lp, op), s_q(k.q, op), s_w(w, op);
  double denom = k.denom;
  auto fn = [s_lp, s_q, s_w, denom, reduction, from_logits, eps](const ag::Grads& g) -> std::vector<Tensor> {
    Tensor gy = reduction == Reduction::none ? g[0].unsqueeze(1)
                : reduction == Reduction::sum ? g[0]
                                              : kiln::div(g[0], denom);
    std::vector<Tensor> out(g.needs.size());
    if (g.needs[0]) {
      Tensor q = s_q.get();
      Tensor dlp = from_logits ? kiln::sub(kiln::mul(kiln::exp(s_lp.get()), kiln::sum(q, {1}, true)), q) : kiln::neg(q);
      out[0] = kiln::mul(dlp, gy);
    }
    if (g.needs.size() > 1 && g.needs[1]) {
      Tensor lp = s_lp.get();
      Tensor d = kiln::mul(kiln::mul(lp, -(1.0 - eps)), gy);
      if (s_w.defined()) d = kiln::mul(d, class_view(s_w.get(), lp.dim()));
      out[1] = d;
    }
    return out;
  };
  if (soft) return ag::record(op, {x, target}, y, fn);
  return ag::record(op, {x}, y, fn);
}

}  // namespace

// An unbatched input [C] is the batch of one [1, C] with the batch dim removed from the result.
static Tensor unbatched(const char* op, const Tensor& x, const Tensor& target,
                 const std::function<Tensor(const Tensor&, const Tensor&)>& f) {
  check_defined(x, op, "input");
  check_defined(target, op, "target");
  if (x.dim() != 1) return f(x, target);
  Tensor y = f(ag::unsqueeze(x, 0), is_floating(target.dtype()) ? ag::unsqueeze(target, 0) : target.unsqueeze(0));
  return y.dim() == 1 ? ag::squeeze(y, 0) : y;
}

Tensor cross_entropy(const Tensor& logits, const Tensor& target, const Tensor& weight, int64_t ignore_index,
                     Reduction reduction, double label_smoothing) {
  return unbatched("cross_entropy", logits, target, [&](const Tensor& x, const Tensor& t) {
    return weighted_nll("cross_entropy", x, t, weight, ignore_index, reduction, label_smoothing, true);
  });
}

Tensor nll_loss(const Tensor& log_probs, const Tensor& target, const Tensor& weight, int64_t ignore_index,
                Reduction reduction) {
  KILN_CHECK(!target.defined() || !is_floating(target.dtype()), "nll_loss: target must hold class indices (i64), got ",
             dtype_name(target.dtype()));
  return unbatched("nll_loss", log_probs, target, [&](const Tensor& x, const Tensor& t) {
    return weighted_nll("nll_loss", x, t, weight, ignore_index, reduction, 0.0, false);
  });
}

}  // namespace kiln::nn
