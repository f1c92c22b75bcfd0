// Elementwise ops: one op-table row per op (forward vs a float64 reference, contiguous and
// non-contiguous), plus dtype promotion, in-place variants, operators and misuse.
#include <cmath>

#include "support/op_table.h"

namespace kiln::test {
namespace {

using F1 = std::function<double(double)>;
using F2 = std::function<double(double, double)>;

const std::vector<DType> kFloat = {DType::f32, DType::f64, DType::f16, DType::bf16};
const std::vector<DType> kFloatInt = {DType::f32, DType::f64, DType::f16, DType::bf16, DType::i32};
const std::vector<DType> kNumeric = {DType::f32, DType::f64, DType::f16, DType::bf16, DType::i64, DType::i32, DType::u8};
const std::vector<DType> kSigned = {DType::f32, DType::f64, DType::f16, DType::bf16, DType::i64, DType::i32};
const std::vector<DType> kAll = {DType::f32, DType::f64, DType::f16, DType::bf16,
                                 DType::i64, DType::i32, DType::u8,  DType::b8};

std::vector<std::vector<Shape>> unary_cases() { return {{{0}}, {{1}}, {{7}}, {{13, 17}}, {{1031, 67}}}; }
std::vector<std::vector<Shape>> binary_cases() {
  return {{{0}, {0}},           {{1}, {1}},        {{7}, {7}},
          {{13, 17}, {13, 17}}, {{5, 1}, {1, 6}},  {{3, 1, 4}, {4}},
          {{1031, 67}, {1031, 67}}};
}

OpRow unary_row(std::string name, std::function<Tensor(const Tensor&)> run, F1 ref, std::vector<DType> dtypes,
                Domain domain = Domain::any, bool differentiable = true) {
  OpRow r;
  r.name = std::move(name);
  r.cases = unary_cases();
  r.run = [run](const std::vector<Tensor>& in) { return run(in[0]); };
  r.ref = [ref](const std::vector<Ref>& in) { return ref_map(in[0], ref); };
  r.dtypes = std::move(dtypes);
  r.domains = {domain};
  r.differentiable = differentiable;
  return r;
}

OpRow binary_row(std::string name, std::function<Tensor(const Tensor&, const Tensor&)> run, F2 ref,
                 std::vector<DType> dtypes, std::vector<Domain> domains = {}, bool differentiable = true) {
  OpRow r;
  r.name = std::move(name);
  r.cases = binary_cases();
  r.run = [run](const std::vector<Tensor>& in) { return run(in[0], in[1]); };
  r.ref = [ref](const std::vector<Ref>& in) { return ref_zip(in[0], in[1], ref); };
  r.dtypes = std::move(dtypes);
  r.domains = std::move(domains);
  r.differentiable = differentiable;
  return r;
}

double sigmoid_ref(double x) { return 1.0 / (1.0 + std::exp(-x)); }
double softplus_ref(double x, double beta, double threshold) {
  return x * beta > threshold ? x : std::log1p(std::exp(beta * x)) / beta;
}
double python_mod(double a, double b) {
  double m = std::fmod(a, b);
  return (m != 0 && ((b < 0) != (m < 0))) ? m + b : m;
}
double ipow_ref(double a, double b) {
  if (b >= 0) return std::pow(a, b);
  return a == 1 ? 1 : a == -1 ? (std::fmod(b, 2) == 0 ? 1 : -1) : 0;
}

// cond (bool), a, b for where.
std::vector<Tensor> make_where(const std::vector<Shape>& s, DType d, uint64_t seed) {
  return {random_tensor(s[0], DType::b8, Domain::any, seed), random_tensor(s[1], d, Domain::any, seed + 1),
          random_tensor(s[2], d, Domain::any, seed + 2)};
}

std::vector<OpRow> rows() {
  std::vector<OpRow> v;
  // ---- unary
  v.push_back(unary_row("neg", [](const Tensor& x) { return neg(x); }, [](double x) { return -x; }, kSigned));
  v.push_back(unary_row("abs", [](const Tensor& x) { return abs(x); }, [](double x) { return std::fabs(x); }, kNumeric));
  v.push_back(unary_row("sign", [](const Tensor& x) { return sign(x); },
                        [](double x) { return double((x > 0) - (x < 0)); }, kAll, Domain::any, false));
  v.push_back(unary_row("exp", [](const Tensor& x) { return exp(x); }, [](double x) { return std::exp(x); }, kFloatInt));
  v.push_back(unary_row("log", [](const Tensor& x) { return log(x); }, [](double x) { return std::log(x); },
                        kFloatInt, Domain::positive));
  v.push_back(unary_row("log1p", [](const Tensor& x) { return log1p(x); }, [](double x) { return std::log1p(x); },
                        kFloatInt, Domain::positive));
  v.push_back(unary_row("log1p_unit", [](const Tensor& x) { return log1p(x); },
                        [](double x) { return std::log1p(x); }, kFloat, Domain::unit));
  v.push_back(unary_row("expm1", [](const Tensor& x) { return expm1(x); }, [](double x) { return std::expm1(x); },
                        kFloatInt));
  v.push_back(unary_row("sqrt", [](const Tensor& x) { return sqrt(x); }, [](double x) { return std::sqrt(x); },
                        kFloatInt, Domain::positive));
  v.push_back(unary_row("rsqrt", [](const Tensor& x) { return rsqrt(x); },
                        [](double x) { return 1 / std::sqrt(x); }, kFloatInt, Domain::positive));
  v.push_back(unary_row("reciprocal", [](const Tensor& x) { return reciprocal(x); }, [](double x) { return 1 / x; },
                        kFloatInt, Domain::nonzero));
  v.push_back(unary_row("square", [](const Tensor& x) { return square(x); }, [](double x) { return x * x; }, kNumeric));
  v.push_back(unary_row("sin", [](const Tensor& x) { return sin(x); }, [](double x) { return std::sin(x); }, kFloatInt));
  v.push_back(unary_row("cos", [](const Tensor& x) { return cos(x); }, [](double x) { return std::cos(x); }, kFloatInt));
  v.push_back(unary_row("tanh", [](const Tensor& x) { return tanh(x); }, [](double x) { return std::tanh(x); },
                        kFloatInt));
  v.push_back(unary_row("sigmoid", [](const Tensor& x) { return sigmoid(x); }, sigmoid_ref, kFloatInt));
  v.push_back(unary_row("erf", [](const Tensor& x) { return erf(x); }, [](double x) { return std::erf(x); }, kFloatInt));
  v.push_back(unary_row("erfc", [](const Tensor& x) { return erfc(x); }, [](double x) { return std::erfc(x); },
                        kFloatInt));
  v.push_back(unary_row("relu", [](const Tensor& x) { return relu(x); }, [](double x) { return x < 0 ? 0.0 : x; },
                        kNumeric));
  v.push_back(unary_row("leaky_relu", [](const Tensor& x) { return leaky_relu(x, 0.1); },
                        [](double x) { return x > 0 ? x : 0.1 * x; }, kFloatInt));
  v.push_back(unary_row("gelu", [](const Tensor& x) { return gelu(x); },
                        [](double x) { return 0.5 * x * (1 + std::erf(x / std::sqrt(2.0))); }, kFloatInt));
  v.push_back(unary_row("gelu_tanh", [](const Tensor& x) { return gelu(x, GeluApprox::tanh); },
                        [](double x) {
                          return 0.5 * x * (1 + std::tanh(std::sqrt(2 / M_PI) * (x + 0.044715 * x * x * x)));
                        },
                        kFloatInt));
  v.push_back(unary_row("silu", [](const Tensor& x) { return silu(x); }, [](double x) { return x * sigmoid_ref(x); },
                        kFloatInt));
  v.push_back(unary_row("mish", [](const Tensor& x) { return mish(x); },
                        [](double x) { return x * std::tanh(std::log1p(std::exp(x))); }, kFloatInt));
  v.push_back(unary_row("softplus", [](const Tensor& x) { return softplus(x); },
                        [](double x) { return softplus_ref(x, 1, 20); }, kFloatInt));
  v.push_back(unary_row("softplus_beta2_thr1", [](const Tensor& x) { return softplus(x, 2, 1); },
                        [](double x) { return softplus_ref(x, 2, 1); }, kFloat));
  v.push_back(unary_row("floor", [](const Tensor& x) { return floor(x); }, [](double x) { return std::floor(x); },
                        kNumeric, Domain::any, false));
  v.push_back(unary_row("ceil", [](const Tensor& x) { return ceil(x); }, [](double x) { return std::ceil(x); },
                        kNumeric, Domain::any, false));
  v.push_back(unary_row("round", [](const Tensor& x) { return round(x * 2.0); },
                        [](double x) { return std::nearbyint(x * 2.0); }, kNumeric, Domain::any, false));
  v.push_back(unary_row("clamp", [](const Tensor& x) { return clamp(x, Scalar(-1.0), Scalar(1.5)); },
                        [](double x) { return std::min(std::max(x, -1.0), 1.5); }, kFloat));
  v.push_back(unary_row("clamp_int", [](const Tensor& x) { return clamp(x, Scalar(-2), Scalar(3)); },
                        [](double x) { return std::min(std::max(x, -2.0), 3.0); }, kSigned));
  v.push_back(unary_row("clamp_min", [](const Tensor& x) { return clamp_min(x, Scalar(2)); },
                        [](double x) { return std::max(x, 2.0); }, kNumeric));
  v.push_back(unary_row("clamp_max", [](const Tensor& x) { return clamp_max(x, Scalar(0.5)); },
                        [](double x) { return std::min(x, 0.5); }, kFloat));
  v.push_back(unary_row("pow_2_5", [](const Tensor& x) { return pow(x, Scalar(2.5)); },
                        [](double x) { return std::pow(x, 2.5); }, kFloatInt, Domain::positive));
  v.push_back(unary_row("pow_3", [](const Tensor& x) { return pow(x, Scalar(3)); },
                        [](double x) { return x * x * x; }, kSigned));
  v.push_back(unary_row("pow_2", [](const Tensor& x) { return pow(x, Scalar(2.0)); }, [](double x) { return x * x; },
                        kFloat));
  v.push_back(unary_row("pow_half", [](const Tensor& x) { return pow(x, Scalar(0.5)); },
                        [](double x) { return std::sqrt(x); }, kFloat, Domain::positive));
  v.push_back(unary_row("pow_minus1", [](const Tensor& x) { return pow(x, Scalar(-1.0)); },
                        [](double x) { return 1 / x; }, kFloat, Domain::nonzero));
  v.push_back(unary_row("pow_0", [](const Tensor& x) { return pow(x, Scalar(0.0)); }, [](double) { return 1.0; },
                        kFloat));
  v.push_back(unary_row("isnan", [](const Tensor& x) { return isnan(log(x)); },
                        [](double x) { return double(x < 0); }, kFloat, Domain::any, false));
  v.push_back(unary_row("isnan_int", [](const Tensor& x) { return isnan(x); }, [](double) { return 0.0; },
                        {DType::i32, DType::b8}, Domain::any, false));
  v.push_back(unary_row("isinf", [](const Tensor& x) { return isinf(reciprocal(floor(x))); },
                        [](double x) { return double(std::floor(x) == 0); }, kFloat, Domain::any, false));
  v.push_back(unary_row("isfinite", [](const Tensor& x) { return isfinite(log(x)); },
                        [](double x) { return double(x > 0); }, kFloat, Domain::any, false));
  v.push_back(unary_row("isfinite_int", [](const Tensor& x) { return isfinite(x); }, [](double) { return 1.0; },
                        {DType::u8}, Domain::any, false));
  v.push_back(unary_row("logical_not", [](const Tensor& x) { return logical_not(x); },
                        [](double x) { return double(x == 0); }, kAll, Domain::any, false));

  // ---- binary
  v.push_back(binary_row("add", [](const Tensor& a, const Tensor& b) { return add(a, b); },
                         [](double a, double b) { return a + b; }, kNumeric));
  v.push_back(binary_row("add_bool", [](const Tensor& a, const Tensor& b) { return add(a, b); },
                         [](double a, double b) { return double(a != 0 || b != 0); }, {DType::b8}, {}, false));
  v.push_back(binary_row("add_alpha", [](const Tensor& a, const Tensor& b) { return add(a, b, 2.5); },
                         [](double a, double b) { return a + 2.5 * b; }, kFloat));
  v.push_back(binary_row("add_alpha_int", [](const Tensor& a, const Tensor& b) { return add(a, b, 3); },
                         [](double a, double b) { return a + 3 * b; }, {DType::i64, DType::i32}));
  v.push_back(binary_row("sub", [](const Tensor& a, const Tensor& b) { return sub(a, b); },
                         [](double a, double b) { return a - b; }, kSigned));
  v.push_back(binary_row("sub_alpha", [](const Tensor& a, const Tensor& b) { return sub(a, b, 0.5); },
                         [](double a, double b) { return a - 0.5 * b; }, kFloat));
  v.push_back(binary_row("mul", [](const Tensor& a, const Tensor& b) { return mul(a, b); },
                         [](double a, double b) { return a * b; }, kAll));
  v.push_back(binary_row("div", [](const Tensor& a, const Tensor& b) { return div(a, b); },
                         [](double a, double b) { return a / b; }, kNumeric, {Domain::any, Domain::nonzero}));
  v.push_back(binary_row("pow", [](const Tensor& a, const Tensor& b) { return pow(a, b); },
                         [](double a, double b) { return std::pow(a, b); }, kFloat, {Domain::positive, Domain::any}));
  v.push_back(binary_row("pow_int", [](const Tensor& a, const Tensor& b) { return pow(a, b); }, ipow_ref,
                         {DType::i64, DType::i32}, {Domain::any, Domain::any}, false));
  v.push_back(binary_row("minimum", [](const Tensor& a, const Tensor& b) { return minimum(a, b); },
                         [](double a, double b) { return std::min(a, b); }, kAll));
  v.push_back(binary_row("maximum", [](const Tensor& a, const Tensor& b) { return maximum(a, b); },
                         [](double a, double b) { return std::max(a, b); }, kAll));
  v.push_back(binary_row("relu_backward", [](const Tensor& a, const Tensor& b) { return relu_backward(a, b); },
                         [](double g, double y) { return y <= 0 ? 0.0 : g; }, kFloat));
  v.push_back(binary_row("fmod", [](const Tensor& a, const Tensor& b) { return fmod(a, b); },
                         [](double a, double b) { return std::fmod(a, b); }, kSigned, {Domain::any, Domain::nonzero}));
  v.push_back(binary_row("remainder", [](const Tensor& a, const Tensor& b) { return remainder(a, b); }, python_mod,
                         kSigned, {Domain::any, Domain::nonzero}));
  v.push_back(binary_row("eq", [](const Tensor& a, const Tensor& b) { return eq(a, b); },
                         [](double a, double b) { return double(a == b); }, kAll, {}, false));
  v.push_back(binary_row("ne", [](const Tensor& a, const Tensor& b) { return ne(a, b); },
                         [](double a, double b) { return double(a != b); }, kAll, {}, false));
  v.push_back(binary_row("lt", [](const Tensor& a, const Tensor& b) { return lt(a, b); },
                         [](double a, double b) { return double(a < b); }, kAll, {}, false));
  v.push_back(binary_row("le", [](const Tensor& a, const Tensor& b) { return le(a, b); },
                         [](double a, double b) { return double(a <= b); }, kAll, {}, false));
  v.push_back(binary_row("gt", [](const Tensor& a, const Tensor& b) { return gt(a, b); },
                         [](double a, double b) { return double(a > b); }, kAll, {}, false));
  v.push_back(binary_row("ge", [](const Tensor& a, const Tensor& b) { return ge(a, b); },
                         [](double a, double b) { return double(a >= b); }, kAll, {}, false));
  v.push_back(binary_row("logical_and", [](const Tensor& a, const Tensor& b) { return logical_and(a, b); },
                         [](double a, double b) { return double(a != 0 && b != 0); }, kAll, {}, false));
  v.push_back(binary_row("logical_or", [](const Tensor& a, const Tensor& b) { return logical_or(a, b); },
                         [](double a, double b) { return double(a != 0 || b != 0); }, kAll, {}, false));
  v.push_back(binary_row("logical_xor", [](const Tensor& a, const Tensor& b) { return logical_xor(a, b); },
                         [](double a, double b) { return double((a != 0) != (b != 0)); }, kAll, {}, false));

  // ---- tensor-scalar forms (the scalar is a zero-stride operand in the kernel)
  v.push_back(unary_row("add_scalar", [](const Tensor& x) { return add(x, 2.5); }, [](double x) { return x + 2.5; },
                        kFloat));
  v.push_back(unary_row("add_scalar_int", [](const Tensor& x) { return x + 3; }, [](double x) { return x + 3; },
                        kNumeric));
  v.push_back(unary_row("rsub_scalar", [](const Tensor& x) { return sub(Scalar(3), x); },
                        [](double x) { return 3 - x; }, kSigned));
  v.push_back(unary_row("mul_scalar", [](const Tensor& x) { return x * -1.5; }, [](double x) { return x * -1.5; },
                        kFloatInt));
  v.push_back(unary_row("div_scalar", [](const Tensor& x) { return x / 0.7; }, [](double x) { return x / 0.7; },
                        kFloatInt));
  v.push_back(unary_row("rdiv_scalar", [](const Tensor& x) { return 2 / x; }, [](double x) { return 2 / x; },
                        kFloatInt, Domain::nonzero));
  v.push_back(unary_row("rpow_scalar", [](const Tensor& x) { return pow(Scalar(2.0), x); },
                        [](double x) { return std::pow(2.0, x); }, kFloat));
  v.push_back(unary_row("lt_scalar", [](const Tensor& x) { return x < 0.5; }, [](double x) { return double(x < 0.5); },
                        kNumeric, Domain::any, false));
  v.push_back(unary_row("ge_rscalar", [](const Tensor& x) { return 1 >= x; }, [](double x) { return double(1 >= x); },
                        kNumeric, Domain::any, false));
  v.push_back(unary_row("eq_scalar", [](const Tensor& x) { return x == 2; }, [](double x) { return double(x == 2); },
                        kAll, Domain::any, false));
  v.push_back(unary_row("fmod_scalar", [](const Tensor& x) { return fmod(x, -1.25); },
                        [](double x) { return std::fmod(x, -1.25); }, kFloat));
  v.push_back(unary_row("remainder_scalar", [](const Tensor& x) { return remainder(x, 3); },
                        [](double x) { return python_mod(x, 3); }, kSigned));

  // ---- where
  OpRow w;
  w.name = "where";
  w.cases = {{{0}, {0}, {0}},        {{1}, {1}, {1}},      {{7}, {7}, {7}},
             {{13, 17}, {13, 17}, {13, 17}}, {{5, 1}, {1, 6}, {6}}, {{3, 1, 4}, {4}, {3, 1, 1}},
             {{1031, 67}, {1031, 67}, {1031, 67}}};
  w.run = [](const std::vector<Tensor>& in) { return where(in[0], in[1], in[2]); };
  w.ref = [](const std::vector<Ref>& in) {
    return ref_zip3(in[0], in[1], in[2], [](double c, double a, double b) { return c != 0 ? a : b; });
  };
  w.dtypes = kAll;
  w.make = make_where;
  w.differentiable = true;
  v.push_back(w);
  return v;
}

static OpRegistrar reg(rows());

}  // namespace
}  // namespace kiln::test
