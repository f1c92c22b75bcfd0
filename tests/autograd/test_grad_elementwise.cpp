// Gradient-check rows of the differentiable elementwise ops (autograd/elementwise.h).
#include "grad_table.h"

namespace kiln::test {
namespace {

using Cases = std::vector<std::vector<Shape>>;
using Fn = std::function<Tensor(const std::vector<Tensor>&)>;

// One input: 0-d, size 1, a prime, 2-d, a size-1 dim, and empty.
Cases unary_cases() { return {{Shape{}}, {Shape{1}}, {Shape{7}}, {Shape{3, 5}}, {Shape{2, 1, 3}}, {Shape{0}}, {Shape{2, 0}}}; }
// Two inputs: same shape, both sides broadcast, new leading dims, 0-d against a vector, empty.
Cases binary_cases() {
  return {{Shape{3, 4}, Shape{3, 4}}, {Shape{3, 1}, Shape{1, 4}}, {Shape{5}, Shape{2, 5}}, {Shape{}, Shape{3}},
          {Shape{2, 1, 3}, Shape{3}},  {Shape{2, 0}, Shape{1}}};
}

GradRow unary(const std::string& name, Fn run, Domain d = Domain::any) {
  return GradRow{name, unary_cases(), std::move(run), {d}};
}
GradRow binary(const std::string& name, Fn run, Domain da = Domain::any, Domain db = Domain::any) {
  return GradRow{name, binary_cases(), std::move(run), {da, db}};
}

// cond (bool) plus two f64 operands for where.
std::vector<Tensor> where_inputs(const std::vector<Shape>& s, uint64_t seed) {
  std::vector<Tensor> xs{random_tensor(s[0], DType::b8, Domain::any, seed)};
  for (size_t i = 1; i < s.size(); ++i) xs.push_back(random_tensor(s[i], DType::f64, Domain::any, seed * 7 + i));
  return xs;
}

static GradRegistrar reg({
    unary("neg", [](const std::vector<Tensor>& x) { return ag::neg(x[0]); }),
    unary("abs", [](const std::vector<Tensor>& x) { return ag::abs(x[0]); }, Domain::nonzero),
    unary("sign", [](const std::vector<Tensor>& x) { return ag::sign(x[0]); }, Domain::nonzero),
    unary("exp", [](const std::vector<Tensor>& x) { return ag::exp(x[0]); }),
    unary("log", [](const std::vector<Tensor>& x) { return ag::log(x[0]); }, Domain::positive),
    unary("log1p", [](const std::vector<Tensor>& x) { return ag::log1p(x[0]); }, Domain::unit),
    unary("expm1", [](const std::vector<Tensor>& x) { return ag::expm1(x[0]); }),
    unary("sqrt", [](const std::vector<Tensor>& x) { return ag::sqrt(x[0]); }, Domain::positive),
    unary("rsqrt", [](const std::vector<Tensor>& x) { return ag::rsqrt(x[0]); }, Domain::positive),
    unary("reciprocal", [](const std::vector<Tensor>& x) { return ag::reciprocal(x[0]); }, Domain::nonzero),
    unary("square", [](const std::vector<Tensor>& x) { return ag::square(x[0]); }),
    unary("sin", [](const std::vector<Tensor>& x) { return ag::sin(x[0]); }),
    unary("cos", [](const std::vector<Tensor>& x) { return ag::cos(x[0]); }),
    unary("tanh", [](const std::vector<Tensor>& x) { return ag::tanh(x[0]); }),
    unary("sigmoid", [](const std::vector<Tensor>& x) { return ag::sigmoid(x[0]); }),
    unary("erf", [](const std::vector<Tensor>& x) { return ag::erf(x[0]); }),
    unary("erf", [](const std::vector<Tensor>& x) { return ag::erf(ag::mul(x[0], 2.5)); }),
    unary("erfc", [](const std::vector<Tensor>& x) { return ag::erfc(x[0]); }),
    unary("erfc", [](const std::vector<Tensor>& x) { return ag::erfc(ag::mul(x[0], -2.5)); }),
    unary("relu", [](const std::vector<Tensor>& x) { return ag::relu(x[0]); }, Domain::nonzero),
    unary("leaky_relu", [](const std::vector<Tensor>& x) { return ag::leaky_relu(x[0]); }, Domain::nonzero),
    unary("leaky_relu", [](const std::vector<Tensor>& x) { return ag::leaky_relu(x[0], 0.3); }, Domain::nonzero),
    unary("gelu", [](const std::vector<Tensor>& x) { return ag::gelu(x[0]); }),
    unary("gelu", [](const std::vector<Tensor>& x) { return ag::gelu(x[0], GeluApprox::tanh); }),
    unary("silu", [](const std::vector<Tensor>& x) { return ag::silu(x[0]); }),
    unary("mish", [](const std::vector<Tensor>& x) { return ag::mish(x[0]); }),
    unary("softplus", [](const std::vector<Tensor>& x) { return ag::softplus(x[0]); }),
    // beta x crosses the threshold inside the domain: both branches are checked.
    unary("softplus", [](const std::vector<Tensor>& x) { return ag::softplus(x[0], 0.5, 1.0); }, Domain::positive),
    unary("floor", [](const std::vector<Tensor>& x) { return ag::floor(x[0]); }),
    unary("ceil", [](const std::vector<Tensor>& x) { return ag::ceil(x[0]); }),
    unary("round", [](const std::vector<Tensor>& x) { return ag::round(x[0]); }),
    unary("clamp", [](const std::vector<Tensor>& x) { return ag::clamp(x[0], -1.0, 1.5); }),
    unary("clamp", [](const std::vector<Tensor>& x) { return ag::clamp(x[0], std::nullopt, 0.5); }),
    unary("clamp_min", [](const std::vector<Tensor>& x) { return ag::clamp_min(x[0], 0.25); }),
    unary("clamp_max", [](const std::vector<Tensor>& x) { return ag::clamp_max(x[0], -0.25); }),
    // pow: tensor ^ scalar (fractional, integer, negative, zero), tensor ^ tensor, scalar ^ tensor.
    unary("pow", [](const std::vector<Tensor>& x) { return ag::pow(x[0], 2.5); }, Domain::positive),
    unary("pow", [](const std::vector<Tensor>& x) { return ag::pow(x[0], 3); }),
    unary("pow", [](const std::vector<Tensor>& x) { return ag::pow(x[0], -2); }, Domain::nonzero),
    unary("pow", [](const std::vector<Tensor>& x) { return ag::pow(x[0], 0); }),
    binary("pow", [](const std::vector<Tensor>& x) { return ag::pow(x[0], x[1]); }, Domain::positive),
    unary("pow", [](const std::vector<Tensor>& x) { return ag::pow(2.5, x[0]); }),
    // add / sub / mul / div: tensor-tensor (broadcasting, alpha), tensor-scalar, scalar-tensor.
    binary("add", [](const std::vector<Tensor>& x) { return ag::add(x[0], x[1]); }),
    binary("add", [](const std::vector<Tensor>& x) { return ag::add(x[0], x[1], 2.5); }),
    unary("add", [](const std::vector<Tensor>& x) { return ag::add(x[0], 3.0, 2.0); }),
    unary("add", [](const std::vector<Tensor>& x) { return ag::add(1.5, x[0]); }),
    binary("sub", [](const std::vector<Tensor>& x) { return ag::sub(x[0], x[1]); }),
    binary("sub", [](const std::vector<Tensor>& x) { return ag::sub(x[0], x[1], -0.5); }),
    unary("sub", [](const std::vector<Tensor>& x) { return ag::sub(x[0], 3.0, 2.0); }),
    unary("sub", [](const std::vector<Tensor>& x) { return ag::sub(1.5, x[0]); }),
    binary("mul", [](const std::vector<Tensor>& x) { return ag::mul(x[0], x[1]); }),
    unary("mul", [](const std::vector<Tensor>& x) { return ag::mul(x[0], -1.5); }),
    unary("mul", [](const std::vector<Tensor>& x) { return ag::mul(2.0, x[0]); }),
    // the same tensor on both sides: the two gradient contributions add
    unary("mul", [](const std::vector<Tensor>& x) { return ag::mul(x[0], x[0]); }),
    binary("div", [](const std::vector<Tensor>& x) { return ag::div(x[0], x[1]); }, Domain::any, Domain::nonzero),
    unary("div", [](const std::vector<Tensor>& x) { return ag::div(x[0], 4.0); }),
    unary("div", [](const std::vector<Tensor>& x) { return ag::div(2.0, x[0]); }, Domain::nonzero),
    binary("minimum", [](const std::vector<Tensor>& x) { return ag::minimum(x[0], x[1]); }),
    binary("maximum", [](const std::vector<Tensor>& x) { return ag::maximum(x[0], x[1]); }),
    GradRow{"where",
            {{Shape{3, 4}, Shape{3, 4}, Shape{3, 4}},
             {Shape{3, 1}, Shape{1, 4}, Shape{3, 4}},
             {Shape{2, 3}, Shape{3}, Shape{}},
             {Shape{1}, Shape{5}, Shape{2, 5}},
             {Shape{7}, Shape{7}, Shape{1}},
             {Shape{0, 2}, Shape{2}, Shape{1}}},
            [](const std::vector<Tensor>& x) { return ag::where(x[0], x[1], x[2]); },
            {},
            where_inputs},
    GradRow{"where",
            {{Shape{3, 4}, Shape{3, 4}}, {Shape{3, 1}, Shape{4}}, {Shape{5}, Shape{}}},
            [](const std::vector<Tensor>& x) { return ag::where(x[0], x[1], 2.0); },
            {},
            where_inputs},
    GradRow{"where",
            {{Shape{3, 4}, Shape{3, 4}}, {Shape{2, 3}, Shape{1, 3}}},
            [](const std::vector<Tensor>& x) { return ag::where(x[0], -1.0, x[1]); },
            {},
            where_inputs},
});

}  // namespace
}  // namespace kiln::test
