// CPU-vs-CUDA parity of the fused layer kernels: batch norm + activation, the LSTM cell, embedding
// backward and cross entropy, on raw device buffers with guard regions (tests/support/cuda_test.h).
// Every test skips without a usable GPU. Besides parity: guards intact after every launch, and
// bit-identical results from two runs of the kernels that reduce (Note [Deterministic block
// reduction], Note [Deterministic embedding backward]).
#if KILN_HAVE_CUDA
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "kiln/kernels/cpu/bn_act.h"
#include "kiln/kernels/cpu/cross_entropy.h"
#include "kiln/kernels/cpu/lstm_cell.h"
#include "kiln/kernels/cuda/bn_act.h"
#include "kiln/kernels/cuda/cross_entropy.h"
#include "kiln/kernels/cuda/embedding_backward.h"
#include "kiln/kernels/cuda/lstm_cell.h"
#include "kiln/tensor/ops.h"
#include "support/cuda_test.h"
#include "support/fixtures.h"

namespace kiln::test {
namespace {

template <class T>
double as_double(T v) {
  return double(compute_t<T>(v));
}

template <class T>
std::vector<T> random_values(size_t n, double lo, double hi, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> u(lo, hi);
  std::vector<T> v(n);
  for (auto& x : v) x = T(compute_t<T>(u(rng)));
  return v;
}

// Tolerance of one dtype for values computed in a different order / with FMA contraction: a few
// units in the last place of the stored type.
struct ParityTol {
  double rtol, atol;
};
template <class T>
ParityTol parity_tol() {
  if constexpr (std::is_same_v<T, double>)
    return {1e-10, 1e-12};
  else if constexpr (std::is_same_v<T, float>)
    return {2e-5, 1e-6};
  else if constexpr (std::is_same_v<T, Half>)
    return {4e-3, 1e-4};
  else
    return {3e-2, 1e-3};
}

template <class T>
::testing::AssertionResult all_close(const std::vector<T>& got, const std::vector<T>& want, ParityTol t,
                                     const char* what) {
  if (got.size() != want.size())
    return ::testing::AssertionFailure() << what << ": size " << got.size() << " vs " << want.size();
  for (size_t i = 0; i < got.size(); ++i) {
    const double a = as_double(got[i]), b = as_double(want[i]);
    if (std::isnan(a) && std::isnan(b)) continue;
    if (a == b) continue;  // equal infinities too
    if (!(std::fabs(a - b) <= t.atol + t.rtol * std::fabs(b)))
      return ::testing::AssertionFailure() << what << "[" << i << "]: cuda " << a << " vs cpu " << b;
  }
  return ::testing::AssertionSuccess();
}

template <class T>
::testing::AssertionResult bit_equal(const std::vector<T>& a, const std::vector<T>& b, const char* what) {
  if (a.size() != b.size() || (a.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(T)) != 0))
    return ::testing::AssertionFailure() << what << ": two runs differ";
  return ::testing::AssertionSuccess();
}

void sync() { KILN_CUDA_CHECK(cudaDeviceSynchronize()); }

template <class F>
void for_each_dtype(F&& f) {
  f(float{});
  f(double{});
  f(Half{});
  f(BFloat16{});
}

// ---------------------------------------------------------------- batch norm + activation
struct BnCase {
  int64_t N, C, S;
};

template <class T>
void bn_parity(const BnCase& sz, BnActivation act, bool training, bool affine) {
  using P = compute_t<T>;
  SCOPED_TRACE(std::string(dtype_name(dtype_of<T>())) + " N=" + std::to_string(sz.N) + " C=" + std::to_string(sz.C) +
               " S=" + std::to_string(sz.S) + " act=" + bn_activation_name(act) + (training ? " train" : " eval") +
               (affine ? " affine" : ""));
  const DType dt = dtype_of<T>();
  const size_t n = size_t(sz.N * sz.C * sz.S), C = size_t(sz.C);
  std::vector<T> x = random_values<T>(n, 1.0, 4.0, 1 + n), dy = random_values<T>(n, -1.0, 1.0, 2 + n);
  std::vector<P> w = random_values<P>(C, 0.5, 1.5, 3), b = random_values<P>(C, -1.0, 1.0, 4);
  std::vector<P> rm = random_values<P>(C, -1.0, 1.0, 5), rv = random_values<P>(C, 0.5, 2.0, 6);
  BnActParams p;
  p.act = act;
  p.slope = 0.15;
  p.training = training;
  p.momentum = 0.2;
  p.eps = 1e-3;

  // CPU reference.
  std::vector<T> y_ref(n), dx_ref(n);
  std::vector<P> rm_ref = rm, rv_ref = rv, mean_ref(C), invstd_ref(C), dw_ref(C), db_ref(C);
  cpu::bn_act_forward(dt, x.data(), y_ref.data(), affine ? w.data() : nullptr, affine ? b.data() : nullptr,
                      rm_ref.data(), rv_ref.data(), mean_ref.data(), invstd_ref.data(), sz.N, sz.C, sz.S, p);
  cpu::bn_act_backward(dt, dy.data(), x.data(), affine ? w.data() : nullptr, affine ? b.data() : nullptr,
                       mean_ref.data(), invstd_ref.data(), dx_ref.data(), dw_ref.data(), db_ref.data(), sz.N, sz.C,
                       sz.S, p);

  DeviceBuffer<T> dx_in(x), ddy(dy), dyo(n), ddx(n);
  DeviceBuffer<P> dw(w), db(b), dmean(C), dinvstd(C), ddw(C), ddb(C);
  DeviceBuffer<unsigned char> ws(cuda::bn_act_workspace_size(dt, sz.N, sz.C, sz.S));
  std::vector<T> y_first, dx_first;
  std::vector<P> mean_first, dw_first, db_first;
  for (int run = 0; run < 2; ++run) {
    DeviceBuffer<P> drm(rm), drv(rv);  // fresh running statistics per run
    cuda::bn_act_forward(dt, dx_in.data(), dyo.data(), affine ? dw.data() : nullptr, affine ? db.data() : nullptr,
                         drm.data(), drv.data(), dmean.data(), dinvstd.data(), sz.N, sz.C, sz.S, p, ws.data(),
                         ws.size(), nullptr);
    cuda::bn_act_backward(dt, ddy.data(), dx_in.data(), affine ? dw.data() : nullptr, affine ? db.data() : nullptr,
                          dmean.data(), dinvstd.data(), ddx.data(), ddw.data(), ddb.data(), sz.N, sz.C, sz.S, p,
                          ws.data(), ws.size(), nullptr);
    sync();
    const ParityTol t = parity_tol<T>(), tp = parity_tol<P>();
    std::vector<T> y = dyo.download(), dxv = ddx.download();
    std::vector<P> mean = dmean.download(), dwv = ddw.download(), dbv = ddb.download();
    if (C > 0) {
      EXPECT_TRUE(all_close(y, y_ref, t, "y"));
      EXPECT_TRUE(all_close(mean, mean_ref, tp, "save_mean"));
      EXPECT_TRUE(all_close(dinvstd.download(), invstd_ref, tp, "save_invstd"));
      EXPECT_TRUE(all_close(drm.download(), rm_ref, tp, "running_mean"));
      EXPECT_TRUE(all_close(drv.download(), rv_ref, tp, "running_var"));
      EXPECT_TRUE(all_close(dxv, dx_ref, t, "dx"));
      // Sums of N * S terms: absolute slack grows with their count.
      const ParityTol ts{tp.rtol, tp.atol * double(std::max<int64_t>(1, sz.N * sz.S))};
      EXPECT_TRUE(all_close(dwv, dw_ref, ts, "dweight"));
      EXPECT_TRUE(all_close(dbv, db_ref, ts, "dbias"));
    }
    for (auto* g : {&dyo, &ddx}) EXPECT_TRUE(g->guards_intact());
    for (auto* g : {&dmean, &dinvstd, &ddw, &ddb, &drm, &drv}) EXPECT_TRUE(g->guards_intact());
    EXPECT_TRUE(ws.guards_intact());
    if (run == 0) {
      y_first = y, dx_first = dxv, mean_first = mean, dw_first = dwv, db_first = dbv;
    } else {
      EXPECT_TRUE(bit_equal(y, y_first, "y"));
      EXPECT_TRUE(bit_equal(mean, mean_first, "save_mean"));
      EXPECT_TRUE(bit_equal(dxv, dx_first, "dx"));
      EXPECT_TRUE(bit_equal(dwv, dw_first, "dweight"));
      EXPECT_TRUE(bit_equal(dbv, db_first, "dbias"));
    }
  }
}

// S = 1 ([N, C] inputs), S above one block, primes, and N * S above one chunk (several partials).
const std::vector<BnCase> kBnTrain = {{2, 1, 1},   {1, 1, 2},    {3, 5, 7},    {67, 3, 1},
                                      {2, 4, 300}, {33, 2, 257}, {4099, 2, 5}, {601, 3, 1009}};
const std::vector<BnCase> kBnEval = {{1, 1, 1}, {0, 3, 4}, {3, 0, 2}, {5, 2, 0}, {7, 3, 11}, {130, 2, 3}};
const BnActivation kActs[] = {BnActivation::none, BnActivation::relu, BnActivation::leaky_relu, BnActivation::silu};

TEST(FusedLayersCuda, BnActTrainingMatchesCpu) {
  KILN_REQUIRE_GPU();
  for_each_dtype([](auto tag) {
    using T = decltype(tag);
    for (BnActivation a : kActs)
      for (const BnCase& s : kBnTrain) bn_parity<T>(s, a, true, a != BnActivation::relu);
  });
}

TEST(FusedLayersCuda, BnActEvalMatchesCpu) {
  KILN_REQUIRE_GPU();
  for_each_dtype([](auto tag) {
    using T = decltype(tag);
    for (BnActivation a : kActs)
      for (const BnCase& s : kBnEval) bn_parity<T>(s, a, false, a != BnActivation::silu);
  });
}

TEST(FusedLayersCuda, BnActRejectsBadArguments) {
  KILN_REQUIRE_GPU();
  DeviceBuffer<float> x(8), y(8), m(2), v(2);
  DeviceBuffer<unsigned char> ws(cuda::bn_act_workspace_size(DType::f32, 4, 2, 1));
  BnActParams p;
  EXPECT_KILN_ERROR(cuda::bn_act_forward(DType::f32, x.data(), y.data(), nullptr, nullptr, nullptr, nullptr, m.data(),
                                         v.data(), 4, 2, 1, p, ws.data(), 16, nullptr),
                    "workspace");
  EXPECT_KILN_ERROR(cuda::bn_act_forward(DType::f32, x.data(), y.data(), nullptr, nullptr, nullptr, nullptr, m.data(),
                                         v.data(), 1, 2, 1, p, ws.data(), ws.size(), nullptr),
                    "more than 1 value per channel");
}

// ---------------------------------------------------------------- LSTM cell
template <class T>
void lstm_parity(int64_t B, int64_t H) {
  SCOPED_TRACE(std::string(dtype_name(dtype_of<T>())) + " B=" + std::to_string(B) + " H=" + std::to_string(H));
  const DType dt = dtype_of<T>();
  const size_t nh = size_t(B * H), ng = 4 * nh;
  std::vector<T> gates = random_values<T>(ng, -4.0, 4.0, 10 + ng), c0 = random_values<T>(nh, -2.0, 2.0, 11);
  std::vector<T> dh = random_values<T>(nh, -1.0, 1.0, 12), dc = random_values<T>(nh, -1.0, 1.0, 13);
  std::vector<T> h_ref(nh), c_ref(nh);
  cpu::lstm_cell_forward(dt, gates.data(), c0.data(), h_ref.data(), c_ref.data(), B, H);
  DeviceBuffer<T> dg(gates), dc0(c0), ddh(dh), ddc(dc), dhout(nh), dcout(nh), ddg(ng), ddcp(nh);
  cuda::lstm_cell_forward(dt, dg.data(), dc0.data(), dhout.data(), dcout.data(), B, H, nullptr);
  sync();
  const ParityTol t = parity_tol<T>();
  EXPECT_TRUE(all_close(dhout.download(), h_ref, t, "h"));
  EXPECT_TRUE(all_close(dcout.download(), c_ref, t, "c"));
  for (int which = 0; which < 3; ++which) {  // both gradients, dh only, dc only
    const T* hp = which == 2 ? nullptr : dh.data();
    const T* cp = which == 1 ? nullptr : dc.data();
    std::vector<T> dg_ref(ng), dcp_ref(nh);
    cpu::lstm_cell_backward(dt, gates.data(), c0.data(), hp, cp, dg_ref.data(), dcp_ref.data(), B, H);
    cuda::lstm_cell_backward(dt, dg.data(), dc0.data(), which == 2 ? nullptr : ddh.data(),
                             which == 1 ? nullptr : ddc.data(), ddg.data(), ddcp.data(), B, H, nullptr);
    sync();
    EXPECT_TRUE(all_close(ddg.download(), dg_ref, t, "dgates")) << "case " << which;
    EXPECT_TRUE(all_close(ddcp.download(), dcp_ref, t, "dc_prev")) << "case " << which;
  }
  for (auto* g : {&dhout, &dcout, &ddg, &ddcp}) EXPECT_TRUE(g->guards_intact());
}

TEST(FusedLayersCuda, LstmCellMatchesCpu) {
  KILN_REQUIRE_GPU();
  for_each_dtype([](auto tag) {
    using T = decltype(tag);
    for (auto [B, H] : std::vector<std::pair<int64_t, int64_t>>{{1, 1}, {0, 5}, {5, 0}, {3, 7}, {257, 13}, {2, 1031}})
      lstm_parity<T>(B, H);
  });
}

// ---------------------------------------------------------------- embedding backward
struct EmbCase {
  int64_t M, D, V, padding_idx;
  int64_t distinct;  // ids drawn from [0, distinct): small values repeat ids many times
};

template <class T>
void embedding_parity(const EmbCase& e) {
  SCOPED_TRACE(std::string(dtype_name(dtype_of<T>())) + " M=" + std::to_string(e.M) + " D=" + std::to_string(e.D) +
               " V=" + std::to_string(e.V) + " pad=" + std::to_string(e.padding_idx) +
               " distinct=" + std::to_string(e.distinct));
  const DType dt = dtype_of<T>();
  std::mt19937_64 rng(e.M * 31 + e.V);
  std::vector<int64_t> ids(size_t(e.M));
  std::vector<int> count(size_t(e.V), 0);
  for (auto& i : ids) {
    i = int64_t(rng() % uint64_t(e.distinct));
    ++count[size_t(i)];
  }
  std::vector<T> dout = random_values<T>(size_t(e.M * e.D), -1.0, 1.0, 20 + size_t(e.M));
  // CPU reference: the tensor layer's embedding_backward (kernels/cpu index_add_rows).
  std::vector<double> dout_d(dout.size());
  for (size_t i = 0; i < dout.size(); ++i) dout_d[i] = as_double(dout[i]);
  Tensor g = kiln::from_vector(dout_d, {e.M, e.D}).to(dt);
  Tensor idx = kiln::from_vector(ids, {e.M});
  std::vector<T> want = kiln::embedding_backward(g, idx, e.V, e.padding_idx).contiguous().template to_vector<T>();

  DeviceBuffer<T> dg(dout), dw(size_t(e.V * e.D));
  DeviceBuffer<int64_t> did(ids);
  DeviceBuffer<unsigned char> ws(cuda::embedding_backward_workspace_size(dt, e.M, e.D, e.V));
  std::vector<T> first;
  for (int run = 0; run < 2; ++run) {
    cuda::embedding_backward(dt, dg.data(), did.data(), e.M, e.D, e.V, e.padding_idx, dw.data(), ws.data(), ws.size(),
                             nullptr);
    sync();
    std::vector<T> got = dw.download();
    EXPECT_TRUE(all_close(got, want, parity_tol<T>(), "dweight"));
    bool at_most_two = true;
    for (int c : count) at_most_two &= c <= 2;
    // Pieces of one id are added in position order: with at most two rows per id the grouping is
    // the CPU's running sum, so the values are identical.
    if (at_most_two) {
      EXPECT_TRUE(bit_equal(got, want, "dweight vs cpu"));
    }
    if (e.padding_idx >= 0) {
      for (int64_t d = 0; d < e.D; ++d) EXPECT_EQ(as_double(got[size_t(e.padding_idx * e.D + d)]), 0.0);
    }
    EXPECT_TRUE(dw.guards_intact());
    EXPECT_TRUE(ws.guards_intact());
    if (run == 0) {
      first = got;
    } else {
      EXPECT_TRUE(bit_equal(got, first, "dweight"));
    }
  }
}

TEST(FusedLayersCuda, EmbeddingBackwardDeterministicAndMatchesCpu) {
  KILN_REQUIRE_GPU();
  const std::vector<EmbCase> cases = {
      {1, 1, 1, -1, 1},         {0, 3, 7, -1, 7},     {4, 0, 5, -1, 5},       {5, 3, 11, -1, 11},
      {100, 17, 13, 3, 13},     {5000, 64, 3, -1, 3}, {37, 5, 1000, 0, 1000}, {2053, 129, 50, 7, 8},
      {997, 300, 401, -1, 401}, {70000, 2, 5, 2, 5},
  };
  for_each_dtype([&](auto tag) {
    for (const EmbCase& e : cases) embedding_parity<decltype(tag)>(e);
  });
}

// ---------------------------------------------------------------- cross entropy
struct CeCase {
  int64_t N, C;
  bool weighted;
  int64_t ignore_index;  // rows with this target are ignored; some rows get it
  double eps;
  CeReduction reduction;
};

template <class T>
void ce_parity(const CeCase& c) {
  using P = compute_t<T>;
  SCOPED_TRACE(std::string(dtype_name(dtype_of<T>())) + " N=" + std::to_string(c.N) + " C=" + std::to_string(c.C) +
               (c.weighted ? " weighted" : "") + " ignore=" + std::to_string(c.ignore_index) +
               " eps=" + std::to_string(c.eps) + " reduction=" + std::to_string(int(c.reduction)));
  const DType dt = dtype_of<T>();
  const size_t nx = size_t(c.N * c.C);
  std::vector<T> x = random_values<T>(nx, -6.0, 6.0, 30 + nx);
  std::vector<int64_t> target(size_t(c.N));
  std::mt19937_64 rng(31 + c.N);
  for (auto& t : target) t = rng() % 4 == 0 ? c.ignore_index : int64_t(rng() % uint64_t(c.C));
  std::vector<P> w = random_values<P>(size_t(c.C), 0.2, 2.0, 32);
  const size_t nl = c.reduction == CeReduction::none ? size_t(c.N) : 1;
  std::vector<T> dloss = random_values<T>(nl, -2.0, 2.0, 33);
  CrossEntropyParams p;
  p.ignore_index = c.ignore_index;
  p.label_smoothing = c.eps;
  p.reduction = c.reduction;
  const P* wp = c.weighted ? w.data() : nullptr;
  std::vector<T> loss_ref(nl), dx_ref(nx);
  std::vector<P> lse_ref(size_t(c.N)), denom_ref(1);
  cpu::cross_entropy_forward(dt, x.data(), target.data(), wp, c.N, c.C, p, loss_ref.data(), lse_ref.data(),
                             denom_ref.data());
  cpu::cross_entropy_backward(dt, dloss.data(), x.data(), target.data(), wp, lse_ref.data(), denom_ref.data(), c.N, c.C,
                              p, dx_ref.data());

  DeviceBuffer<T> dxin(x), ddl(dloss), dloss_out(nl), ddx(nx);
  DeviceBuffer<int64_t> dt_(target);
  DeviceBuffer<P> dw(w), dlse(size_t(c.N)), ddenom(1);
  DeviceBuffer<unsigned char> ws(cuda::cross_entropy_workspace_size(dt, c.N));
  std::vector<T> loss_first, dx_first;
  for (int run = 0; run < 2; ++run) {
    cuda::cross_entropy_forward(dt, dxin.data(), dt_.data(), c.weighted ? dw.data() : nullptr, c.N, c.C, p,
                                dloss_out.data(), dlse.data(), ddenom.data(), ws.data(), ws.size(), nullptr);
    cuda::cross_entropy_backward(dt, ddl.data(), dxin.data(), dt_.data(), c.weighted ? dw.data() : nullptr, dlse.data(),
                                 ddenom.data(), c.N, c.C, p, ddx.data(), nullptr);
    sync();
    const ParityTol t = parity_tol<T>(), tp = parity_tol<P>();
    std::vector<T> loss = dloss_out.download(), dxv = ddx.download();
    // A reduced loss sums N rows: absolute slack grows with N.
    const ParityTol tl{t.rtol, t.atol * double(c.reduction == CeReduction::none ? 1 : std::max<int64_t>(1, c.N))};
    EXPECT_TRUE(all_close(loss, loss_ref, tl, "loss"));
    EXPECT_TRUE(all_close(dlse.download(), lse_ref, tp, "lse"));
    EXPECT_TRUE(all_close(ddenom.download(), denom_ref, tp, "denom"));
    EXPECT_TRUE(all_close(dxv, dx_ref, t, "dlogits"));
    for (auto* g : {&dloss_out, &ddx}) EXPECT_TRUE(g->guards_intact());
    EXPECT_TRUE(dlse.guards_intact() && ddenom.guards_intact() && ws.guards_intact());
    if (run == 0) {
      loss_first = loss, dx_first = dxv;
    } else {
      EXPECT_TRUE(bit_equal(loss, loss_first, "loss"));
      EXPECT_TRUE(bit_equal(dxv, dx_first, "dlogits"));
    }
  }
}

TEST(FusedLayersCuda, CrossEntropyMatchesCpuForEveryOption) {
  KILN_REQUIRE_GPU();
  const std::vector<std::pair<int64_t, int64_t>> sizes = {{1, 1},    {0, 4},    {7, 2},    {13, 31},
                                                          {3, 1000}, {1031, 5}, {5, 32003}};
  for_each_dtype([&](auto tag) {
    using T = decltype(tag);
    for (auto [N, C] : sizes)
      for (bool weighted : {false, true})
        for (int64_t ignore : {int64_t(-100), int64_t(0)})
          for (double eps : {0.0, 0.1})
            for (CeReduction r : {CeReduction::none, CeReduction::sum, CeReduction::mean})
              ce_parity<T>({N, C, weighted, ignore, eps, r});
  });
}

TEST(FusedLayersCuda, CrossEntropyBadTargetGivesNaNRow) {
  KILN_REQUIRE_GPU();
  std::vector<float> x = random_values<float>(6, -1.0, 1.0, 40);
  std::vector<int64_t> target = {1, 7};  // row 1 out of range [0, 3)
  DeviceBuffer<float> dx(x), loss(2), lse(2), denom(1), grad(6), dl(std::vector<float>{1.0f, 1.0f});
  DeviceBuffer<int64_t> dtg(target);
  DeviceBuffer<unsigned char> ws(cuda::cross_entropy_workspace_size(DType::f32, 2));
  CrossEntropyParams p;
  p.reduction = CeReduction::none;
  cuda::cross_entropy_forward(DType::f32, dx.data(), dtg.data(), nullptr, 2, 3, p, loss.data(), lse.data(),
                              denom.data(), ws.data(), ws.size(), nullptr);
  cuda::cross_entropy_backward(DType::f32, dl.data(), dx.data(), dtg.data(), nullptr, lse.data(), denom.data(), 2, 3, p,
                               grad.data(), nullptr);
  sync();
  std::vector<float> l = loss.download(), g = grad.download();
  EXPECT_TRUE(std::isfinite(l[0]));
  EXPECT_TRUE(std::isnan(l[1]));
  for (int c = 0; c < 3; ++c) {
    EXPECT_TRUE(std::isfinite(g[size_t(c)]));
    EXPECT_TRUE(std::isnan(g[size_t(3 + c)]));
  }
  EXPECT_TRUE(loss.guards_intact() && grad.guards_intact());
}

}  // namespace
}  // namespace kiln::test
#endif  // KILN_HAVE_CUDA
