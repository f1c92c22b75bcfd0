// Gradient-check rows of the differentiable reductions (autograd/reduce.h).
#include "grad_table.h"

namespace kiln::test {
namespace {

using Cases = std::vector<std::vector<Shape>>;
using Fn = std::function<Tensor(const std::vector<Tensor>&)>;

// Reductions over all dims: 0-d, one element, a prime, 2-d, size-1 dims, empty.
Cases all_cases() { return {{Shape{}}, {Shape{1}}, {Shape{7}}, {Shape{3, 5}}, {Shape{2, 1, 3}}, {Shape{0}}}; }
// Reductions over dim 1 (or the last two dims): size-1 reduced dim, primes, empty outer dim.
Cases dim_cases() { return {{Shape{3, 5}}, {Shape{4, 1}}, {Shape{2, 3, 5}}, {Shape{1, 7, 2}}, {Shape{0, 3}}}; }
// The same without empty tensors, for ops that refuse to reduce nothing or are tested elsewhere.
Cases nonempty_dim_cases() { return {{Shape{3, 5}}, {Shape{4, 1}}, {Shape{2, 3, 5}}, {Shape{1, 7, 2}}}; }
// Dim 1 has more than one element (var / std with correction 1 are NaN over one element).
Cases wide_cases() { return {{Shape{3, 5}}, {Shape{2, 3, 5}}, {Shape{1, 7, 2}}}; }

GradRow row(const std::string& name, Cases cases, Fn run, Domain d = Domain::any) {
  return GradRow{name, std::move(cases), std::move(run), {d}};
}

// prod inputs with zeros: one zero in the first slice along dim 1, two in the second (when the
// shape allows), none elsewhere; random nonzero values otherwise.
std::vector<Tensor> with_zeros(const std::vector<Shape>& s, uint64_t seed) {
  Tensor x = random_tensor(s[0], DType::f64, Domain::nonzero, seed);
  if (x.dim() >= 2 && x.numel() > 0) {
    double* p = x.data<double>();  // contiguous: row r starts at r * row
    const int64_t row = x.numel() / x.size(0);
    p[0] = 0;
    if (x.size(0) > 1 && row > 1) p[row] = p[row + 1] = 0;
  }
  return {x};
}

// cumprod inputs with zeros along the last dim (length n): row 0 one zero inside, row 1 two
// zeros, row 2 a zero first, row 3 a zero last, row 4 all zeros; later rows none.
std::vector<Tensor> cumprod_zeros(const std::vector<Shape>& s, uint64_t seed) {
  Tensor x = random_tensor(s[0], DType::f64, Domain::nonzero, seed);
  const int64_t n = x.dim() == 0 ? 1 : x.size(-1), rows = x.numel() / std::max<int64_t>(n, 1);
  double* p = x.data<double>();
  auto put = [&](int64_t r, int64_t j) {
    if (r < rows && j >= 0 && j < n) p[r * n + j] = 0;
  };
  put(0, n / 2);
  put(1, 1), put(1, n - 2);
  put(2, 0);
  put(3, n - 1);
  for (int64_t j = 0; j < n; ++j) put(4, j);
  return {x};
}

static GradRegistrar reg({
    row("sum", all_cases(), [](const std::vector<Tensor>& x) { return ag::sum(x[0]); }),
    row("sum", dim_cases(), [](const std::vector<Tensor>& x) { return ag::sum(x[0], {1}, true); }),
    row("sum", dim_cases(), [](const std::vector<Tensor>& x) { return ag::sum(x[0], {0, -1}, false, DType::f64); }),
    row("mean", all_cases(), [](const std::vector<Tensor>& x) { return ag::mean(x[0]); }),
    row("mean", dim_cases(), [](const std::vector<Tensor>& x) { return ag::mean(x[0], {-1}, true); }),
    row("mean", dim_cases(), [](const std::vector<Tensor>& x) { return ag::mean(x[0], {0}); }),
    row("prod", all_cases(), [](const std::vector<Tensor>& x) { return ag::prod(x[0]); }, Domain::nonzero),
    row("prod", dim_cases(), [](const std::vector<Tensor>& x) { return ag::prod(x[0], {1}, true); }, Domain::nonzero),
    GradRow{"prod",
            {{Shape{3, 4}}, {Shape{2, 2}}, {Shape{4, 3, 2}}},
            [](const std::vector<Tensor>& x) { return ag::prod(x[0], {-1}); },
            {},
            with_zeros},
    GradRow{"prod", {{Shape{3, 4}}, {Shape{2, 5}}}, [](const std::vector<Tensor>& x) { return ag::prod(x[0]); }, {}, with_zeros},
    row("amax", nonempty_dim_cases(), [](const std::vector<Tensor>& x) { return ag::amax(x[0]); }),
    row("amax", dim_cases(), [](const std::vector<Tensor>& x) { return ag::amax(x[0], {1}, true); }),
    row("amin", nonempty_dim_cases(), [](const std::vector<Tensor>& x) { return ag::amin(x[0]); }),
    row("amin", nonempty_dim_cases(), [](const std::vector<Tensor>& x) { return ag::amin(x[0], {0, 1}); }),
    row("max", nonempty_dim_cases(), [](const std::vector<Tensor>& x) { return ag::max(x[0]); }),
    row("max", dim_cases(), [](const std::vector<Tensor>& x) { return ag::max(x[0], 1).values; }),
    row("max", dim_cases(), [](const std::vector<Tensor>& x) { return ag::max(x[0], -1, true).values; }),
    row("min", nonempty_dim_cases(), [](const std::vector<Tensor>& x) { return ag::min(x[0]); }),
    row("min", dim_cases(), [](const std::vector<Tensor>& x) { return ag::min(x[0], 1).values; }),
    row("min", dim_cases(), [](const std::vector<Tensor>& x) { return ag::min(x[0], -1, true).values; }),
    row("var", all_cases(), [](const std::vector<Tensor>& x) { return ag::var(x[0], {}, 0); }),
    row("var", wide_cases(), [](const std::vector<Tensor>& x) { return ag::var(x[0], {1}); }),
    row("var", dim_cases(), [](const std::vector<Tensor>& x) { return ag::var(x[0], {1}, 0, true); }),
    row("std", nonempty_dim_cases(), [](const std::vector<Tensor>& x) { return ag::std(x[0]); }),
    row("std", dim_cases(), [](const std::vector<Tensor>& x) { return ag::std(x[0], {-1}, 0); }),
    row("var_mean", wide_cases(), [](const std::vector<Tensor>& x) { return ag::var_mean(x[0], {1}).var; }),
    row("var_mean", dim_cases(), [](const std::vector<Tensor>& x) { return ag::var_mean(x[0], {1}, 0, true).mean; }),
    // both outputs in one loss: the two gradient contributions add
    row("var_mean", nonempty_dim_cases(), [](const std::vector<Tensor>& x) {
      auto vm = ag::var_mean(x[0]);
      return ag::add(vm.var, vm.mean, 3.0);
    }),
    row("norm", all_cases(), [](const std::vector<Tensor>& x) { return ag::norm(x[0]); }),
    row("norm", dim_cases(), [](const std::vector<Tensor>& x) { return ag::norm(x[0], 2, {1}, true); }),
    row("norm", dim_cases(), [](const std::vector<Tensor>& x) { return ag::norm(x[0], 1, {1}); }, Domain::nonzero),
    row("norm", dim_cases(), [](const std::vector<Tensor>& x) { return ag::norm(x[0], INFINITY, {-1}); }, Domain::nonzero),
    row("norm", dim_cases(), [](const std::vector<Tensor>& x) { return ag::norm(x[0], 3, {1}); }, Domain::nonzero),
    row("norm", dim_cases(), [](const std::vector<Tensor>& x) { return ag::norm(x[0], 0.5); }, Domain::nonzero),
    row("logsumexp", dim_cases(), [](const std::vector<Tensor>& x) { return ag::logsumexp(x[0], {1}); }),
    row("logsumexp", dim_cases(), [](const std::vector<Tensor>& x) { return ag::logsumexp(x[0], {0, 1}, true); }),
    row("cumsum", dim_cases(), [](const std::vector<Tensor>& x) { return ag::cumsum(x[0], 1); }),
    row("cumsum", {{Shape{7}}, {Shape{0}}}, [](const std::vector<Tensor>& x) { return ag::cumsum(x[0], -1); }),
    row("cumprod", dim_cases(), [](const std::vector<Tensor>& x) { return ag::cumprod(x[0], 1); }, Domain::nonzero),
    row("cumprod", {{Shape{7}}, {Shape{1}}}, [](const std::vector<Tensor>& x) { return ag::cumprod(x[0], 0); }, Domain::nonzero),
    row("cumprod", {{Shape{}}}, [](const std::vector<Tensor>& x) { return ag::cumprod(x[0], 0); }),
    // zeros: one, several, first, last, all (cumprod_zeros); along the last dim and, through a
    // transpose, along a non-contiguous dim 0
    GradRow{"cumprod",
            {{Shape{6, 5}}, {Shape{5, 2}}, {Shape{7}}, {Shape{2, 6, 4}}},
            [](const std::vector<Tensor>& x) { return ag::cumprod(x[0], -1); },
            {},
            cumprod_zeros},
    GradRow{"cumprod",
            {{Shape{6, 5}}, {Shape{5, 3}}},
            [](const std::vector<Tensor>& x) { return ag::cumprod(ag::transpose(x[0], 0, 1), 0); },
            {},
            cumprod_zeros},
});

}  // namespace
}  // namespace kiln::test
