// Accuracy of the vectorised f32 math (kernels/cpu/vec_math.h, Note [Vectorisable math]) through
// the tensor ops: dense sweeps against double libm with the max ulp error asserted, for every
// instruction-set copy of the kernels this CPU can run (the copies must also agree closely).
#include <cmath>
#include <functional>
#include <limits>

#include "kiln/kernels/cpu/isa.h"
#include "support/fixtures.h"

namespace kiln::test {
namespace {

// Error of got against the exact value want, in units of the float spacing at want.
double ulp_error(float got, double want) {
  if (std::isnan(want)) return std::isnan(got) ? 0 : 1e30;
  if (std::isinf(float(want))) return got == float(want) ? 0 : 1e30;
  double a = std::fabs(want);
  double ulp = a < 1.17549435e-38 ? 1.40129846e-45 : std::ldexp(1.0, std::ilogb(a) - 23);
  return std::fabs(double(got) - want) / ulp;
}

struct Sweep {
  const char* name;
  std::function<Tensor(const Tensor&)> op;
  std::function<double(double)> ref;
  float lo, hi;
  double max_ulp;
};

std::vector<Sweep> sweeps() {
  return {
      {"exp", [](const Tensor& x) { return exp(x); }, [](double x) { return std::exp(x); }, -104, 89, 1.5},
      {"log", [](const Tensor& x) { return log(x); }, [](double x) { return std::log(x); }, 1e-6f, 1000, 1.5},
      {"log_tiny", [](const Tensor& x) { return log(x); }, [](double x) { return std::log(x); }, 1e-44f, 1e-36f, 1.5},
      {"log1p", [](const Tensor& x) { return log1p(x); }, [](double x) { return std::log1p(x); }, -0.999f, 20, 3},
      {"expm1", [](const Tensor& x) { return expm1(x); }, [](double x) { return std::expm1(x); }, -30, 89, 2},
      {"expm1_small", [](const Tensor& x) { return expm1(x); }, [](double x) { return std::expm1(x); }, -1e-3f, 1e-3f, 2},
      {"tanh", [](const Tensor& x) { return tanh(x); }, [](double x) { return std::tanh(x); }, -12, 12, 2},
      {"sigmoid", [](const Tensor& x) { return sigmoid(x); }, [](double x) { return 1 / (1 + std::exp(-x)); }, -100, 30, 3},
      {"sin", [](const Tensor& x) { return sin(x); }, [](double x) { return std::sin(x); }, -100, 100, 2},
      {"cos", [](const Tensor& x) { return cos(x); }, [](double x) { return std::cos(x); }, -1e5f, 1e5f, 2},
      {"gelu_pos", [](const Tensor& x) { return gelu(x); },
       [](double x) { return 0.5 * x * std::erfc(-x / std::sqrt(2.0)); }, 0, 10, 4},
      {"gelu_neg", [](const Tensor& x) { return gelu(x); },
       [](double x) { return 0.5 * x * std::erfc(-x / std::sqrt(2.0)); }, -13, 0, 10},
      // Near 0 the first-order correction of t's rounding matters (Note [Fast gelu]); the far tail
      // has subnormal results, which must still be rounded once.
      {"gelu_small", [](const Tensor& x) { return gelu(x); },
       [](double x) { return 0.5 * x * std::erfc(-x / std::sqrt(2.0)); }, -1e-3f, 1e-3f, 4},
      {"gelu_tail", [](const Tensor& x) { return gelu(x); },
       [](double x) { return 0.5 * x * std::erfc(-x / std::sqrt(2.0)); }, -20, -13, 16},
      {"erf", [](const Tensor& x) { return erf(x); }, [](double x) { return std::erf(x); }, -6, 6, 3},
      {"erf_small", [](const Tensor& x) { return erf(x); }, [](double x) { return std::erf(x); }, -1e-3f, 1e-3f, 2.5},
      {"erfc_pos", [](const Tensor& x) { return erfc(x); }, [](double x) { return std::erfc(x); }, 0, 10, 8},
      {"erfc_neg", [](const Tensor& x) { return erfc(x); }, [](double x) { return std::erfc(x); }, -6, 0, 4},
      {"tanh_wide", [](const Tensor& x) { return tanh(x); }, [](double x) { return std::tanh(x); }, -100, 100, 2},
      {"exp_small", [](const Tensor& x) { return exp(x); }, [](double x) { return std::exp(x); }, -1, 1, 1.5},
  };
}

constexpr int64_t kPoints = 1 << 20;

TEST(ElementwiseMath, MaxUlpErrorOfVectorisedF32) {
  const cpu::Isa best = cpu::detected_isa();
  for (int isa = 0; isa <= int(best); ++isa) {
    cpu::set_cpu_isa(cpu::Isa(isa));
    SCOPED_TRACE(cpu::isa_name(cpu::Isa(isa)));
    // The best ISA gets the full sweep; the others a quarter of it.
    const int64_t n = isa == int(best) ? kPoints : kPoints / 4;
    for (const Sweep& s : sweeps()) {
      Tensor x = linspace(s.lo, s.hi, n, DType::f32);
      auto xv = x.to_vector<float>();
      auto yv = s.op(x).to_vector<float>();
      double worst = 0;
      float at = 0;
      for (size_t i = 0; i < xv.size(); ++i) {
        double e = ulp_error(yv[i], s.ref(double(xv[i])));
        if (e > worst) worst = e, at = xv[i];
      }
      EXPECT_LE(worst, s.max_ulp) << s.name << " worst at x = " << at;
    }
  }
  cpu::set_cpu_isa(best);
}

// Special values of the f32 formulas, for every instruction-set copy.
TEST(ElementwiseMath, SpecialValuesOfVectorisedF32) {
  const float inf = std::numeric_limits<float>::infinity(), nan = std::numeric_limits<float>::quiet_NaN();
  const cpu::Isa best = cpu::detected_isa();
  for (int isa = 0; isa <= int(best); ++isa) {
    cpu::set_cpu_isa(cpu::Isa(isa));
    SCOPED_TRACE(cpu::isa_name(cpu::Isa(isa)));
    Tensor x = from_vector(std::vector<float>{-inf, -1e30f, -30, -14.5f, 0, 1e-30f, 30, 1e30f, inf, nan}, {10});
    auto g = gelu(x).to_vector<float>();
    EXPECT_TRUE(std::isnan(g[0]));  // -inf * Phi(-inf) = -inf * 0, as PyTorch
    EXPECT_EQ(g[1], 0.0f);
    EXPECT_EQ(g[2], 0.0f);
    EXPECT_LE(std::fabs(g[3]), 1e-44f);
    EXPECT_EQ(g[4], 0.0f);
    EXPECT_FLOAT_EQ(g[5], 5e-31f);
    EXPECT_EQ(g[6], 30.0f);
    EXPECT_EQ(g[7], 1e30f);
    EXPECT_EQ(g[8], inf);
    EXPECT_TRUE(std::isnan(g[9]));
    auto e = exp(x).to_vector<float>();
    EXPECT_EQ(e[0], 0.0f);
    EXPECT_EQ(e[4], 1.0f);
    EXPECT_EQ(e[7], inf);
    EXPECT_EQ(e[8], inf);
    EXPECT_TRUE(std::isnan(e[9]));
    auto s = sigmoid(x).to_vector<float>();
    EXPECT_EQ(s[0], 0.0f);
    EXPECT_EQ(s[4], 0.5f);
    EXPECT_EQ(s[8], 1.0f);
    EXPECT_TRUE(std::isnan(s[9]));
    auto t = tanh(x).to_vector<float>();
    EXPECT_EQ(t[0], -1.0f);
    EXPECT_EQ(t[8], 1.0f);
    EXPECT_TRUE(std::isnan(t[9]));
    auto ef = erf(x).to_vector<float>();
    EXPECT_EQ(ef[0], -1.0f);
    EXPECT_EQ(ef[2], -1.0f);
    EXPECT_EQ(ef[4], 0.0f);
    EXPECT_FLOAT_EQ(ef[5], float(M_2_SQRTPI * 1e-30));
    EXPECT_EQ(ef[8], 1.0f);
    EXPECT_TRUE(std::isnan(ef[9]));
    auto ec = erfc(x).to_vector<float>();
    EXPECT_EQ(ec[0], 2.0f);
    EXPECT_EQ(ec[4], 1.0f);
    EXPECT_EQ(ec[6], 0.0f);  // erfc(30) ~ 1e-393 is below the smallest float
    EXPECT_EQ(ec[8], 0.0f);
    EXPECT_TRUE(std::isnan(ec[9]));
  }
  cpu::set_cpu_isa(best);
}

TEST(ElementwiseMath, IsaCopiesAgree) {
  const cpu::Isa best = cpu::detected_isa();
  Tensor x = linspace(-20, 20, 100003, DType::f32);
  cpu::set_cpu_isa(cpu::Isa::baseline);
  Tensor base = gelu(x) + exp(x) * sigmoid(x) - tanh(x) + sin(x);
  cpu::set_cpu_isa(best);
  Tensor fast = gelu(x) + exp(x) * sigmoid(x) - tanh(x) + sin(x);
  EXPECT_TRUE(tensors_close(fast, base, 1e-6, 1e-6));
}

}  // namespace
}  // namespace kiln::test
