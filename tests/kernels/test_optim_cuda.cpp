// The multi-tensor CUDA fused optimizer kernels (kernels/cuda/optim.h) against the CPU kernels
// (kernels/cpu/optim.h, themselves tested against a float64 reference in test_optim_kernels.cpp):
// every kind and option, every parameter / gradient dtype pair, sizes 0, 1, primes and
// non-multiples of 4, pointers misaligned by one element, more tensors than one launch's parameter
// block holds, tensors spanning many chunks and more than one launch; guard regions; found_inf;
// nonfinite_check; run-to-run determinism of lamb / larc.
//
// Tolerance: f32 rtol 1e-5 / atol 1e-6 per step (both sides start each step from the same state).
// The two sides differ only in rounding: nvcc contracts a * b + c into FMAs, and the lamb / larc
// norms are summed in a different (fixed) order.
#if KILN_HAVE_CUDA

#include <gtest/gtest.h>

#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "kiln/kernels/cpu/optim.h"
#include "kiln/kernels/cuda/optim.h"
#include "optim_test_state.h"
#include "support/cuda_test.h"
#include "support/fixtures.h"

namespace kiln::test {
namespace {

constexpr double kRtol = 1e-5, kAtol = 1e-6;

// `bytes` bytes on the device, `off` bytes after the start of a guarded buffer (to misalign the
// pointer); the padding keeps the guard byte pattern, and intact() checks it too.
struct DevArray {
  DeviceBuffer<unsigned char> buf;
  size_t off = 0, bytes = 0;
  bool allocated = false;
  DevArray() = default;
  DevArray(size_t bytes_, size_t off_) : buf(bytes_ + off_), off(off_), bytes(bytes_), allocated(true) {}
  void* ptr() const { return bytes ? buf.data() + off : nullptr; }
  void upload(const void* host) const {
    if (bytes) KILN_CUDA_CHECK(cudaMemcpy(ptr(), host, bytes, cudaMemcpyHostToDevice));
  }
  void download(void* host) const {
    if (bytes) KILN_CUDA_CHECK(cudaMemcpy(host, ptr(), bytes, cudaMemcpyDeviceToHost));
  }
  bool intact() const {
    if (!allocated) return true;
    if (!buf.guards_intact()) return false;
    std::vector<unsigned char> pad(off);
    if (off) KILN_CUDA_CHECK(cudaMemcpy(pad.data(), buf.data(), off, cudaMemcpyDeviceToHost));
    for (unsigned char b : pad)
      if (b != kGuardByte) return false;
    return true;
  }
};

// The device copy of a GroupState. misalign[k % size] != 0 shifts every pointer of tensor k by
// one element.
struct DeviceGroup {
  struct Tensor {
    DevArray param, grad, master, m, v;
  };
  std::vector<Tensor> t;

  DeviceGroup(const GroupState& st, const std::vector<int>& misalign) {
    const size_t ps = size_t(dtype_size(st.pd)), gs = size_t(dtype_size(st.gd));
    for (size_t k = 0; k < st.t.size(); ++k) {
      const size_t n = size_t(st.t[k].n);
      const bool mis = !misalign.empty() && misalign[k % misalign.size()] != 0;
      Tensor d;
      d.param = DevArray(n * ps, mis ? ps : 0);
      d.grad = DevArray(n * gs, mis ? gs : 0);
      if (st.master) d.master = DevArray(n * 4, mis ? 4 : 0);
      if (st.has_m) d.m = DevArray(n * 4, mis ? 4 : 0);
      if (st.has_v) d.v = DevArray(n * 4, mis ? 4 : 0);
      t.push_back(std::move(d));
    }
    upload_state(st);
    upload_grads(st);
  }
  void upload_state(const GroupState& st) {
    for (size_t k = 0; k < t.size(); ++k) {
      t[k].param.upload(st.t[k].param.data());
      if (st.master) t[k].master.upload(st.t[k].master.data());
      if (st.has_m) t[k].m.upload(st.t[k].m.data());
      if (st.has_v) t[k].v.upload(st.t[k].v.data());
    }
  }
  void upload_grads(const GroupState& st) {
    for (size_t k = 0; k < t.size(); ++k) t[k].grad.upload(st.t[k].grad.data());
  }
  // A copy of `like` holding the device state.
  GroupState download_state(const GroupState& like) const {
    GroupState out = like;
    for (size_t k = 0; k < t.size(); ++k) {
      t[k].param.download(out.t[k].param.data());
      if (out.master) t[k].master.download(out.t[k].master.data());
      if (out.has_m) t[k].m.download(out.t[k].m.data());
      if (out.has_v) t[k].v.download(out.t[k].v.data());
    }
    return out;
  }
  // host_args with the device pointers.
  std::vector<FusedTensorArgs> args(std::vector<FusedTensorArgs> a) const {
    for (size_t k = 0; k < t.size(); ++k) {
      a[k].param = t[k].param.ptr();
      a[k].grad = t[k].grad.ptr();
      a[k].master = static_cast<float*>(t[k].master.ptr());
      a[k].exp_avg = static_cast<float*>(t[k].m.ptr());
      a[k].exp_avg_sq = static_cast<float*>(t[k].v.ptr());
    }
    return a;
  }
  bool intact() const {
    for (const Tensor& d : t)
      if (!d.param.intact() || !d.grad.intact() || !d.master.intact() || !d.m.intact() || !d.v.intact()) return false;
    return true;
  }
};

std::vector<double> as_double(const std::vector<float>& x) { return std::vector<double>(x.begin(), x.end()); }

// Device state `got` against CPU state `want`: weights, averages within the tolerance; 16-bit
// parameters exactly the rounding of the device's own master weights.
::testing::AssertionResult states_close(const GroupState& got, const GroupState& want) {
  for (size_t k = 0; k < got.t.size(); ++k) {
    const TensorState& g = got.t[k];
    const TensorState& w = want.t[k];
    std::vector<float> gw(size_t(g.n));
    std::vector<double> ww(size_t(g.n));
    for (int64_t i = 0; i < g.n; ++i) {
      gw[size_t(i)] = got.weight(k, i);
      ww[size_t(i)] = want.weight(k, i);
    }
    auto r = all_close(gw.data(), ww.data(), gw.size(), kRtol, kAtol);
    if (!r) return r << " (weights of tensor " << k << ", n = " << g.n << ")";
    if (got.has_m) {
      r = all_close(g.m.data(), as_double(w.m).data(), g.m.size(), kRtol, kAtol);
      if (!r) return r << " (exp_avg of tensor " << k << ", n = " << g.n << ")";
    }
    if (got.has_v) {
      r = all_close(g.v.data(), as_double(w.v).data(), g.v.size(), kRtol, kAtol);
      if (!r) return r << " (exp_avg_sq of tensor " << k << ", n = " << g.n << ")";
    }
    if (got.master) {
      const size_t ps = size_t(dtype_size(got.pd));
      std::vector<unsigned char> one(ps);
      for (int64_t i = 0; i < g.n; ++i) {
        store_float(got.pd, one.data(), 0, g.master[size_t(i)]);
        if (std::memcmp(one.data(), g.param.data() + size_t(i) * ps, ps) != 0)
          return ::testing::AssertionFailure() << "param of tensor " << k << " at " << i
                                               << " is not its rounded master weight";
      }
    }
  }
  return ::testing::AssertionSuccess();
}

bool same_bytes(const GroupState& a, const GroupState& b) {
  for (size_t k = 0; k < a.t.size(); ++k) {
    const TensorState &x = a.t[k], &y = b.t[k];
    if (x.param != y.param || x.master != y.master || x.m != y.m || x.v != y.v) return false;
  }
  return true;
}

struct StepArgs {
  float d1, d2;
  std::vector<float> rect;
};
StepArgs step_args(const OptCase& c, int step) {
  StepArgs s;
  s.d1 = float(1.0 - std::pow(double(c.g.mom), step));
  s.d2 = float(1.0 - std::pow(double(c.g.sqr_mom), step));
  if (!c.rect.empty()) s.rect = c.rect[size_t(step - 1) % c.rect.size()];
  return s;
}

// `steps` steps of case c on both devices, compared after each; the device then restarts from the
// CPU state so that each step is compared from equal inputs.
void run_against_cpu(const OptCase& c, DType pd, DType gd, const std::vector<int64_t>& sizes,
                     const std::vector<int>& misalign, int steps, cudaStream_t stream = nullptr) {
  GroupState cpu(pd, gd, sizes, c.w_scale, c.wd, pd != DType::f32, kind_needs_m(c.g), kind_needs_v(c.g), 4321);
  DeviceGroup dev(cpu, misalign);
  const std::string label = c.name + " param " + dtype_name(pd) + " grad " + dtype_name(gd);
  for (int step = 1; step <= steps; ++step) {
    cpu.random_grads(uint32_t(200 + step), c.grad_scale);
    dev.upload_grads(cpu);
    const StepArgs sa = step_args(c, step);
    std::vector<FusedTensorArgs> hargs = cpu.args(sa.d1, sa.d2, sa.rect);
    std::vector<FusedTensorArgs> dargs = dev.args(hargs);
    cuda::fused_optim_step(c.g, pd, gd, dargs.data(), int64_t(dargs.size()), nullptr, stream);
    KILN_CUDA_CHECK(cudaStreamSynchronize(stream));
    cpu::fused_optim_step(c.g, pd, gd, hargs.data(), int64_t(hargs.size()));
    const GroupState got = dev.download_state(cpu);
    ASSERT_TRUE(states_close(got, cpu)) << label << ", step " << step;
    ASSERT_TRUE(dev.intact()) << "a guard region was overwritten: " << label << ", step " << step;
    dev.upload_state(cpu);
  }
}

const std::vector<int64_t> kSmallSizes = {0, 1, 3, 4, 5, 7, 13, 4099, 65537};

class OptimCuda : public ::testing::TestWithParam<std::string> {};

TEST_P(OptimCuda, MatchesCpuForEveryDtypePair) {
  KILN_REQUIRE_GPU();
  for (DType pd : {DType::f32, DType::f16, DType::bf16})
    for (DType gd : {DType::f32, DType::f16, DType::bf16}) {
      run_against_cpu(find_case(GetParam()), pd, gd, kSmallSizes, {0, 1}, 2);
      if (HasFatalFailure()) return;
    }
}

TEST_P(OptimCuda, MatchesCpuOnMultiChunkTensors) {
  KILN_REQUIRE_GPU();
  cudaStream_t stream = nullptr;
  KILN_CUDA_CHECK(cudaStreamCreate(&stream));
  run_against_cpu(find_case(GetParam()), DType::f32, DType::f32, {(1 << 17) + 3, 5 * 65536 + 1, 65536, 1}, {0, 1, 0},
                  3, stream);
  KILN_CUDA_CHECK(cudaStreamDestroy(stream));
}

INSTANTIATE_TEST_SUITE_P(AllKinds, OptimCuda, ::testing::ValuesIn(all_case_names()));

// 300 tensors: more than one launch's parameter block holds (Note [Multi-tensor launches]); radam
// also mixes rect == 0 and rect > 0 tensors in one call.
TEST(OptimCudaLaunches, ManyTinyTensors) {
  KILN_REQUIRE_GPU();
  std::vector<int64_t> sizes;
  for (int i = 0; i < 300; ++i) sizes.push_back((i * 7) % 23 + (i % 50 == 0 ? 0 : 1));
  for (const char* name : {"sgd_nesterov", "adam", "radam", "qhadam", "lamb", "larc_clip", "larc_mom0"}) {
    OptCase c = find_case(name);
    if (c.g.kind == FusedOptim::radam) c.rect = {{0.0f, 0.6f, 0.0f, 0.9f}, {0.7f, 0.0f}};
    run_against_cpu(c, DType::f32, DType::f32, sizes, {0, 1, 0}, 2);
    run_against_cpu(c, DType::bf16, DType::f16, sizes, {1, 0}, 1);
    if (HasFatalFailure()) return;
  }
}

// One tensor of more than kMaxBlocks chunks, so it is carried over into a second launch, between
// small ones (lamb / larc: partial sums of a tensor written by two launches).
TEST(OptimCudaLaunches, TensorSpanningTwoLaunches) {
  KILN_REQUIRE_GPU();
  const std::vector<int64_t> sizes = {5, 256 * 65536 + 70001, 9};
  for (const char* name : {"adam", "lamb", "larc_clip"}) {
    run_against_cpu(find_case(name), DType::f32, DType::f32, sizes, {0}, 1);
    if (HasFatalFailure()) return;
  }
}

// found_inf set: nothing changes, for every kind (lamb / larc phases included).
TEST(OptimCudaFoundInf, SetFlagSkipsTheStep) {
  KILN_REQUIRE_GPU();
  DeviceBuffer<int> flag(std::vector<int>{1});
  for (const char* name : {"sgd", "sgd_mom", "adam", "radam", "radam_softplus", "qhadam", "lamb", "larc_clip",
                           "larc_mom0"}) {
    for (DType pd : {DType::f32, DType::f16}) {
      const OptCase& c = find_case(name);
      GroupState st(pd, DType::f32, {7, 4099, 65537}, c.w_scale, c.wd, pd != DType::f32, kind_needs_m(c.g),
                    kind_needs_v(c.g), 11);
      st.random_grads(3, 0.1f);
      DeviceGroup dev(st, {0, 1});
      const StepArgs sa = step_args(c, 2);
      std::vector<FusedTensorArgs> dargs = dev.args(st.args(sa.d1, sa.d2, sa.rect));
      flag.upload({1});
      cuda::fused_optim_step(c.g, pd, DType::f32, dargs.data(), int64_t(dargs.size()), flag.data(), nullptr);
      KILN_CUDA_CHECK(cudaDeviceSynchronize());
      EXPECT_TRUE(same_bytes(dev.download_state(st), st)) << name << " changed state with found_inf set";
      EXPECT_TRUE(dev.intact()) << name;
      // Cleared flag: the step happens.
      flag.upload({0});
      cuda::fused_optim_step(c.g, pd, DType::f32, dargs.data(), int64_t(dargs.size()), flag.data(), nullptr);
      KILN_CUDA_CHECK(cudaDeviceSynchronize());
      EXPECT_FALSE(same_bytes(dev.download_state(st), st)) << name << " did not step with found_inf clear";
    }
  }
}

TEST(OptimCudaNonfinite, FindsOneBadValueAmongManyTensors) {
  KILN_REQUIRE_GPU();
  std::vector<int64_t> sizes;
  for (int i = 0; i < 300; ++i) sizes.push_back(i == 150 ? 200003 : (i * 13) % 37 + (i % 40 == 0 ? 0 : 2));
  const float specials[] = {std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity(),
                            -std::numeric_limits<float>::infinity()};
  DeviceBuffer<int> flag(std::vector<int>{0});
  for (DType d : {DType::f32, DType::f16, DType::bf16}) {
    const size_t es = size_t(dtype_size(d));
    std::vector<std::vector<unsigned char>> host;
    std::vector<DevArray> dev;
    std::vector<const void*> ptrs;
    for (size_t k = 0; k < sizes.size(); ++k) {
      host.emplace_back(size_t(sizes[k]) * es);
      for (int64_t i = 0; i < sizes[k]; ++i) store_float(d, host.back().data(), i, float((i * 31 + int64_t(k)) % 97) - 48.0f);
      dev.emplace_back(host.back().size(), k % 3 == 1 ? es : 0);
      dev.back().upload(host.back().data());
      ptrs.push_back(dev.back().ptr());
    }
    auto check = [&] {
      flag.upload({0});
      cuda::nonfinite_check(ptrs.data(), sizes.data(), int64_t(sizes.size()), d, flag.data(), nullptr);
      return flag.download()[0];
    };
    EXPECT_EQ(check(), 0) << dtype_name(d);
    for (size_t k : {size_t(1), size_t(150), size_t(299)})
      for (int64_t at : {int64_t(0), sizes[k] / 2, sizes[k] - 1})
        for (float sp : specials) {
          std::vector<unsigned char> bad = host[k];
          store_float(d, bad.data(), at, sp);
          dev[k].upload(bad.data());
          EXPECT_EQ(check(), 1) << dtype_name(d) << " tensor " << k << " at " << at << " value " << sp;
          dev[k].upload(host[k].data());
        }
    EXPECT_EQ(check(), 0) << dtype_name(d);
    // The check never clears the flag.
    flag.upload({1});
    cuda::nonfinite_check(ptrs.data(), sizes.data(), int64_t(sizes.size()), d, flag.data(), nullptr);
    EXPECT_EQ(flag.download()[0], 1);
    for (const DevArray& a : dev) EXPECT_TRUE(a.intact());
  }
}

// lamb / larc: no atomics, fixed reduction orders: the same inputs give the same bits.
TEST(OptimCudaDeterminism, LambAndLarcRunTwiceBitIdentical) {
  KILN_REQUIRE_GPU();
  for (const char* name : {"lamb", "larc_clip"}) {
    const OptCase& c = find_case(name);
    GroupState st(DType::f32, DType::f32, {(1 << 17) + 3, 5 * 65536 + 7, 1000}, c.w_scale, c.wd, false,
                  kind_needs_m(c.g), kind_needs_v(c.g), 5);
    st.random_grads(9, 0.1f);
    std::vector<GroupState> results;
    for (int run = 0; run < 2; ++run) {
      DeviceGroup dev(st, {0, 1});
      std::vector<FusedTensorArgs> dargs = dev.args(st.args(0.1f, 0.01f, {}));
      cuda::fused_optim_step(c.g, DType::f32, DType::f32, dargs.data(), int64_t(dargs.size()), nullptr, nullptr);
      KILN_CUDA_CHECK(cudaDeviceSynchronize());
      results.push_back(dev.download_state(st));
    }
    EXPECT_TRUE(same_bytes(results[0], results[1])) << name;
    EXPECT_FALSE(same_bytes(results[0], st)) << name << " did not step";
  }
}

TEST(OptimCudaErrors, BadArgumentsAreRefused) {
  KILN_REQUIRE_GPU();
  const OptCase& c = find_case("adam");
  GroupState st(DType::f32, DType::f32, {8}, {1.0f}, {0.0f}, false, true, true, 1);
  DeviceGroup dev(st, {0});
  std::vector<FusedTensorArgs> dargs = dev.args(st.args(0.1f, 0.01f, {}));
  dargs[0].exp_avg_sq = nullptr;
  EXPECT_KILN_ERROR(cuda::fused_optim_step(c.g, DType::f32, DType::f32, dargs.data(), 1, nullptr, nullptr),
                    "tensor 0 has no exp_avg_sq buffer");
  dargs = dev.args(st.args(0.1f, 0.01f, {}));
  EXPECT_KILN_ERROR(cuda::fused_optim_step(c.g, DType::f64, DType::f32, dargs.data(), 1, nullptr, nullptr),
                    "parameter dtype f64");
  EXPECT_KILN_ERROR(cuda::fused_optim_step(c.g, DType::f16, DType::f32, dargs.data(), 1, nullptr, nullptr),
                    "no f32 master buffer");
  const void* g = dargs[0].grad;
  const int64_t n = 8;
  EXPECT_KILN_ERROR(cuda::nonfinite_check(&g, &n, 1, DType::f32, nullptr, nullptr), "found_inf is null");
  DeviceBuffer<int> flag(std::vector<int>{0});
  EXPECT_KILN_ERROR(cuda::nonfinite_check(&g, &n, 1, DType::i64, flag.data(), nullptr), "gradient dtype i64");
  // Nothing to do is not an error.
  EXPECT_NO_THROW(cuda::fused_optim_step(c.g, DType::f32, DType::f32, nullptr, 0, nullptr, nullptr));
  EXPECT_NO_THROW(cuda::nonfinite_check(nullptr, nullptr, 0, DType::f32, flag.data(), nullptr));
  EXPECT_TRUE(dev.intact());
}

}  // namespace
}  // namespace kiln::test

#endif  // KILN_HAVE_CUDA
