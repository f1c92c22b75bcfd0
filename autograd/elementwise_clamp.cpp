// Differentiable clamp, clamp_min, clamp_max, minimum, maximum.
#include "kiln/autograd/elementwise.h"
#include "kiln/autograd/elementwise_record.h"
#include "kiln/autograd/sum_to.h"

namespace kiln::ag {

using detail::record_unary;

// The gradient passes where min <= x <= max, bounds included (PyTorch's choice: at a bound the
// output equals x, so the identity's slope is used). With min > max nothing passes.
Tensor clamp(const Tensor& x, std::optional<Scalar> min, std::optional<Scalar> max) {
  SavedTensor sx(x, "clamp");
  return record_unary("clamp", x, kiln::clamp(x, min, max), [sx, min, max](const Tensor& g) {
    Tensor xv = sx.get();
    Tensor pass;
    if (min) pass = kiln::ge(xv, *min);
    if (max) {
      Tensor le = kiln::le(xv, *max);
      pass = pass.defined() ? kiln::logical_and(pass, le) : le;
    }
    return kiln::where(pass, g, 0.0);
  });
}

Tensor clamp_min(const Tensor& x, Scalar min) {
  SavedTensor sx(x, "clamp_min");
  return record_unary("clamp_min", x, kiln::clamp_min(x, min),
                      [sx, min](const Tensor& g) { return kiln::where(kiln::ge(sx.get(), min), g, 0.0); });
}

Tensor clamp_max(const Tensor& x, Scalar max) {
  SavedTensor sx(x, "clamp_max");
  return record_unary("clamp_max", x, kiln::clamp_max(x, max),
                      [sx, max](const Tensor& g) { return kiln::where(kiln::le(sx.get(), max), g, 0.0); });
}

// minimum / maximum: the chosen operand gets the gradient; on a tie each gets half (PyTorch).
// `a_wins` is true where a is chosen outright.
static Tensor min_max(const char* name, const Tensor& a, const Tensor& b, const Tensor& y, bool is_max) {
  if (!any_requires_grad({&a, &b})) return y;
  SavedTensor sa(a, name), sb(b, name);
  Shape as = a.shape(), bs = b.shape();
  return record(name, {a, b}, y, [sa, sb, as, bs, is_max](const Grads& g) -> std::vector<Tensor> {
    Tensor av = sa.get(), bv = sb.get();
    Tensor a_wins = is_max ? kiln::gt(av, bv) : kiln::lt(av, bv);
    Tensor tie = kiln::eq(av, bv);
    Tensor b_wins = kiln::logical_not(kiln::logical_or(a_wins, tie));
    Tensor half = kiln::mul(g[0], 0.5);
    Tensor ga, gb;
    if (g.needs[0]) ga = sum_to(kiln::where(a_wins, g[0], kiln::where(tie, half, 0.0)), as);
    if (g.needs[1]) gb = sum_to(kiln::where(b_wins, g[0], kiln::where(tie, half, 0.0)), bs);
    return {ga, gb};
  });
}

Tensor minimum(const Tensor& a, const Tensor& b) { return min_max("minimum", a, b, kiln::minimum(a, b), false); }
Tensor maximum(const Tensor& a, const Tensor& b) { return min_max("maximum", a, b, kiln::maximum(a, b), true); }

}  // namespace kiln::ag
