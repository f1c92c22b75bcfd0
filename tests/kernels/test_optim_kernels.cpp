// The CPU fused optimizer kernels (kernels/cpu/optim.h) against a float64 reference written from
// Note [Fused optimizer semantics] (tests/kernels/optim_test_state.h): every kind and option, f32 /
// f16 / bf16 parameters (with an f32 master) and gradients, several steps, awkward sizes, several
// tensors per call; argument errors; any_nonfinite.
//
// Tolerance: the kernel computes in f32 and the reference in f64 from the kernel's own state of the
// previous step (so errors do not accumulate over steps); rtol 1e-5 / atol 1e-6 per step.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "kiln/kernels/cpu/isa.h"
#include "kiln/kernels/cpu/optim.h"
#include "kiln/kernels/cpu/parallel.h"
#include "optim_test_state.h"
#include "support/fixtures.h"

namespace kiln::test {
namespace {

constexpr double kRtol = 1e-5, kAtol = 1e-6;
const std::vector<int64_t> kSizes = {0, 1, 7, 4099, (1 << 17) + 3};

// Runs `steps` steps of case c with the CPU kernel, each checked against the reference.
void run_case(const OptCase& c, DType pd, DType gd, bool master_f32 = false, const std::vector<int64_t>& sizes = kSizes,
              int steps = 3) {
  const bool master = pd != DType::f32 || master_f32;
  GroupState st(pd, gd, sizes, c.w_scale, c.wd, master, kind_needs_m(c.g), kind_needs_v(c.g), 1234);
  const std::string label = c.name + " param " + dtype_name(pd) + " grad " + dtype_name(gd) +
                            (master_f32 ? " +master" : "");
  for (int step = 1; step <= steps; ++step) {
    st.random_grads(uint32_t(100 + step), c.grad_scale);
    const float d1 = float(1.0 - std::pow(double(c.g.mom), step));
    const float d2 = float(1.0 - std::pow(double(c.g.sqr_mom), step));
    const std::vector<float> rect = c.rect.empty() ? std::vector<float>{} : c.rect[size_t(step - 1) % c.rect.size()];
    std::vector<FusedTensorArgs> args = st.args(d1, d2, rect);
    // Reference from the kernel's state before the step.
    std::vector<RefTensor> ref(st.t.size());
    for (size_t k = 0; k < st.t.size(); ++k) {
      const TensorState& s = st.t[k];
      RefTensor& r = ref[k];
      std::vector<double> grad(size_t(s.n));
      for (int64_t i = 0; i < s.n; ++i) {
        r.w.push_back(st.weight(k, i));
        grad[size_t(i)] = load_float(gd, s.grad.data(), i);
      }
      r.m.assign(s.m.begin(), s.m.end());
      r.v.assign(s.v.begin(), s.v.end());
      reference_step(c.g, args[k], grad, r);
    }
    cpu::fused_optim_step(c.g, pd, gd, args.data(), int64_t(args.size()));
    for (size_t k = 0; k < st.t.size(); ++k) {
      const TensorState& s = st.t[k];
      const std::string where = label + ", step " + std::to_string(step) + ", tensor " + std::to_string(k) +
                                " (n = " + std::to_string(s.n) + ")";
      std::vector<float> w(size_t(s.n));
      for (int64_t i = 0; i < s.n; ++i) w[size_t(i)] = st.weight(k, i);
      ASSERT_TRUE(all_close(w.data(), ref[k].w.data(), w.size(), kRtol, kAtol)) << "weights, " << where;
      if (st.has_m) {
        ASSERT_TRUE(all_close(s.m.data(), ref[k].m.data(), s.m.size(), kRtol, kAtol)) << "exp_avg, " << where;
      }
      if (st.has_v) {
        ASSERT_TRUE(all_close(s.v.data(), ref[k].v.data(), s.v.size(), kRtol, kAtol)) << "exp_avg_sq, " << where;
      }
      if (master) {
        // The parameter is the master weight rounded to its dtype, exactly.
        for (int64_t i = 0; i < s.n; ++i) {
          std::vector<unsigned char> one(size_t(dtype_size(pd)));
          store_float(pd, one.data(), 0, s.master[size_t(i)]);
          ASSERT_EQ(0, std::memcmp(one.data(), s.param.data() + size_t(i) * one.size(), one.size()))
              << "param is not the rounded master at " << i << ", " << where;
        }
      }
    }
  }
}

class OptimCpu : public ::testing::TestWithParam<std::string> {};

TEST_P(OptimCpu, F32MatchesReference) { run_case(find_case(GetParam()), DType::f32, DType::f32); }

TEST_P(OptimCpu, F32WithMasterMatchesReference) {
  run_case(find_case(GetParam()), DType::f32, DType::f32, /*master_f32=*/true, {1, 4099});
}

TEST_P(OptimCpu, F16GradsMatchReference) { run_case(find_case(GetParam()), DType::f32, DType::f16); }

INSTANTIATE_TEST_SUITE_P(AllKinds, OptimCpu, ::testing::ValuesIn(all_case_names()));

// Every parameter / gradient dtype pair for one case of each kind.
class OptimCpuDtypes : public ::testing::TestWithParam<std::string> {};

TEST_P(OptimCpuDtypes, AllDtypePairsMatchReference) {
  for (DType pd : {DType::f32, DType::f16, DType::bf16})
    for (DType gd : {DType::f32, DType::f16, DType::bf16}) {
      SCOPED_TRACE(std::string(dtype_name(pd)) + " / " + dtype_name(gd));
      run_case(find_case(GetParam()), pd, gd, false, {0, 7, 4099, 20000}, 2);
      if (HasFatalFailure()) return;
    }
}

INSTANTIATE_TEST_SUITE_P(OneCasePerKind, OptimCpuDtypes,
                         ::testing::Values("sgd", "sgd_nesterov", "adam_l2_scaled", "radam_softplus", "qhadam",
                                           "lamb", "larc_clip", "larc_mom0"));

TEST(OptimCpuNorms, LambZeroUpdateGivesUnitTrustRatio) {
  // r2 == 0: zero gradients and zero averages make u == 0, so q = 1 and only the decay acts.
  OptCase c = find_case("lamb");
  GroupState st(DType::f32, DType::f32, {5000}, {1.0f}, {0.1f}, false, true, true, 7);
  std::fill(st.t[0].m.begin(), st.t[0].m.end(), 0.0f);
  std::fill(st.t[0].v.begin(), st.t[0].v.end(), 0.0f);
  std::vector<float> before(5000);
  for (int64_t i = 0; i < 5000; ++i) before[size_t(i)] = st.weight(0, i);
  auto args = st.args(0.1f, 0.01f, {});
  cpu::fused_optim_step(c.g, DType::f32, DType::f32, args.data(), 1);
  const float decay = optim_kernels::make_tensor_scalars(c.g, args[0]).decay;  // 1 - lr * wd
  ASSERT_NEAR(decay, 1.0 - double(c.g.lr) * 0.1, 1e-7);
  for (int64_t i = 0; i < 5000; ++i) ASSERT_EQ(st.weight(0, i), before[size_t(i)] * decay) << i;
}

TEST(OptimCpuNorms, LambAndLarcAreDeterministicAcrossThreadCounts) {
  for (const char* name : {"lamb", "larc_clip"}) {
    std::vector<std::vector<float>> results;
    for (int threads : {1, 2, 3}) {
      cpu::set_num_threads(threads);
      const OptCase& c = find_case(name);
      GroupState st(DType::f32, DType::f32, {(1 << 17) + 3, 50001}, {1.0f}, {0.05f}, false, true,
                    kind_needs_v(c.g), 99);
      st.random_grads(5, 0.1f);
      auto args = st.args(0.1f, 0.01f, {});
      cpu::fused_optim_step(c.g, DType::f32, DType::f32, args.data(), int64_t(args.size()));
      std::vector<float> all;
      for (const TensorState& s : st.t) {
        const float* p = reinterpret_cast<const float*>(s.param.data());
        all.insert(all.end(), p, p + s.n);
        all.insert(all.end(), s.m.begin(), s.m.end());
      }
      results.push_back(all);
    }
    cpu::set_num_threads(2);
    ASSERT_EQ(results[0].size(), results[1].size());
    EXPECT_EQ(0, std::memcmp(results[0].data(), results[1].data(), results[0].size() * 4)) << name;
    EXPECT_EQ(0, std::memcmp(results[0].data(), results[2].data(), results[0].size() * 4)) << name;
  }
}

// Each compiled ISA copy (Note [ISA dispatch]) against the reference.
TEST(OptimCpuIsa, EveryIsaCopyMatchesReference) {
  const cpu::Isa best = cpu::detected_isa();
  for (cpu::Isa isa : {cpu::Isa::baseline, cpu::Isa::avx2, cpu::Isa::avx512}) {
    if (int(isa) > int(best)) continue;
    cpu::set_cpu_isa(isa);
    SCOPED_TRACE(cpu::isa_name(isa));
    for (const char* name : {"adam", "radam_softplus", "lamb", "larc_noclip"}) {
      run_case(find_case(name), DType::f32, DType::f32, false, {7, 4099}, 2);
      run_case(find_case(name), DType::f16, DType::bf16, false, {7, 4099}, 2);
      run_case(find_case(name), DType::bf16, DType::f16, false, {7, 4099}, 2);
    }
  }
  cpu::set_cpu_isa(best);
}

// ---- argument errors
struct ErrorSetup {
  std::vector<float> p = std::vector<float>(4, 1.0f), g = std::vector<float>(4, 0.5f), m = std::vector<float>(4),
                     v = std::vector<float>(4);
  std::vector<Half> ph = std::vector<Half>(4, Half(1.0f));
  FusedTensorArgs t() {
    FusedTensorArgs a;
    a.param = p.data();
    a.grad = g.data();
    a.exp_avg = m.data();
    a.exp_avg_sq = v.data();
    a.n = 4;
    return a;
  }
};

TEST(OptimCpuErrors, MissingBuffersAreNamed) {
  ErrorSetup e;
  const FusedGroupArgs adam = group(FusedOptim::adam, 1e-3f, 0.9f, 0.99f, 1e-8f);
  FusedTensorArgs ts[2] = {e.t(), e.t()};
  ts[1].param = nullptr;
  EXPECT_KILN_ERROR(cpu::fused_optim_step(adam, DType::f32, DType::f32, ts, 2), "tensor 1 has no param buffer");
  ts[1] = e.t();
  ts[1].grad = nullptr;
  EXPECT_KILN_ERROR(cpu::fused_optim_step(adam, DType::f32, DType::f32, ts, 2), "tensor 1 has no grad buffer");
  ts[1] = e.t();
  ts[1].exp_avg_sq = nullptr;
  EXPECT_KILN_ERROR(cpu::fused_optim_step(adam, DType::f32, DType::f32, ts, 2), "no exp_avg_sq buffer");
  ts[1] = e.t();
  ts[1].exp_avg = nullptr;
  EXPECT_KILN_ERROR(cpu::fused_optim_step(adam, DType::f32, DType::f32, ts, 2), "no exp_avg buffer");

  FusedGroupArgs sgd = group(FusedOptim::sgd, 0.1f, 0.9f);
  EXPECT_KILN_ERROR(cpu::fused_optim_step(sgd, DType::f32, DType::f32, ts, 2), "needed when mom != 0");
  sgd.mom = 0;  // plain sgd keeps no momentum: no exp_avg needed
  EXPECT_NO_THROW(cpu::fused_optim_step(sgd, DType::f32, DType::f32, ts, 2));

  FusedTensorArgs h = e.t();
  h.param = e.ph.data();
  EXPECT_KILN_ERROR(cpu::fused_optim_step(adam, DType::f16, DType::f32, &h, 1), "no f32 master buffer");

  FusedTensorArgs neg = e.t();
  neg.n = -1;
  EXPECT_KILN_ERROR(cpu::fused_optim_step(adam, DType::f32, DType::f32, &neg, 1), "negative size");

  // Empty tensors need no buffers.
  FusedTensorArgs empty;
  EXPECT_NO_THROW(cpu::fused_optim_step(adam, DType::f32, DType::f32, &empty, 1));
  EXPECT_NO_THROW(cpu::fused_optim_step(adam, DType::f32, DType::f32, nullptr, 0));
}

TEST(OptimCpuErrors, BadDtypesAreRefused) {
  ErrorSetup e;
  const FusedGroupArgs adam = group(FusedOptim::adam, 1e-3f, 0.9f, 0.99f, 1e-8f);
  FusedTensorArgs t = e.t();
  EXPECT_KILN_ERROR(cpu::fused_optim_step(adam, DType::f64, DType::f32, &t, 1), "parameter dtype f64");
  EXPECT_KILN_ERROR(cpu::fused_optim_step(adam, DType::f32, DType::i32, &t, 1), "gradient dtype i32");
  FusedGroupArgs bad = adam;
  bad.kind = FusedOptim(42);
  EXPECT_KILN_ERROR(cpu::fused_optim_step(bad, DType::f32, DType::f32, &t, 1), "unknown optimizer kind");
  const void* g = e.g.data();
  const int64_t n = 4;
  EXPECT_KILN_ERROR(cpu::any_nonfinite(&g, &n, 1, DType::f64), "gradient dtype f64");
  EXPECT_STREQ(optim_kernels::fused_optim_name(FusedOptim::qhadam), "qhadam");
}

// ---- any_nonfinite
TEST(OptimCpuNonfinite, FindsNanAndInfAnywhere) {
  const std::vector<int64_t> sizes = {5, 0, 4099, 70001};
  const float specials[] = {std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity(),
                            -std::numeric_limits<float>::infinity()};
  for (DType d : {DType::f32, DType::f16, DType::bf16}) {
    std::vector<std::vector<unsigned char>> bufs;
    for (int64_t n : sizes) {
      bufs.emplace_back(size_t(n) * size_t(dtype_size(d)));
      for (int64_t i = 0; i < n; ++i) store_float(d, bufs.back().data(), i, float((i * 37) % 200 - 100) * 0.5f);
    }
    // Large finite values are not flagged (65504 is f16's largest).
    store_float(d, bufs[2].data(), 17, 65504.0f);
    std::vector<const void*> ptrs;
    for (auto& b : bufs) ptrs.push_back(b.empty() ? nullptr : b.data());
    EXPECT_FALSE(cpu::any_nonfinite(ptrs.data(), sizes.data(), int64_t(sizes.size()), d)) << dtype_name(d);
    for (size_t k : {size_t(0), size_t(2), size_t(3)})
      for (int64_t at : {int64_t(0), sizes[k] / 2, sizes[k] - 1})
        for (float sp : specials) {
          const float old = load_float(d, bufs[k].data(), at);
          store_float(d, bufs[k].data(), at, sp);
          EXPECT_TRUE(cpu::any_nonfinite(ptrs.data(), sizes.data(), int64_t(sizes.size()), d))
              << dtype_name(d) << " tensor " << k << " at " << at << " value " << sp;
          store_float(d, bufs[k].data(), at, old);
        }
    EXPECT_FALSE(cpu::any_nonfinite(ptrs.data(), sizes.data(), int64_t(sizes.size()), d));
  }
  EXPECT_FALSE(cpu::any_nonfinite(nullptr, nullptr, 0, DType::f32));
}

}  // namespace
}  // namespace kiln::test
