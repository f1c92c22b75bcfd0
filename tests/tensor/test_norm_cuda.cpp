// CPU-vs-CUDA parity of layer norm, group norm and batch norm (tensor/norm.h), forward and
// backward, in f32, f64, f16 and bf16, on odd shapes (N = 1, C = 3, 7x7, 1x1 spatial, primes over
// the block size, empty batches) and a large 8x64x56x56 batch; running statistics after several
// training steps; bit-identical backward over two runs; guard regions checked after every op.
// Every test skips without a usable GPU.
#if KILN_HAVE_CUDA
#include <gtest/gtest.h>

#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include "kiln/tensor/norm.h"
#include "support/cuda_parity.h"
#include "support/op_table.h"

namespace kiln::test {
namespace {

const std::vector<DType> kDtypes = {DType::f32, DType::f64, DType::f16, DType::bf16};

std::string label(const char* op, DType d, const Shape& s, const char* part) {
  std::ostringstream os;
  os << op << " " << dtype_name(d) << " " << s << " " << part;
  return os.str();
}

// Outputs of reductions (statistics, normalised values, gradients): per element within
// reduction_tol and by normalised squared error. Both bounds are this test's own, kept as they
// were: the per-element check is looser than default_tol (values that went through a reduction
// in another order: f32 1e-4 / 1e-5, f64 1e-9 / 1e-11, f16 2e-3 / 1e-4, bf16 1.6e-2 / 1e-3) and
// the normalised squared error is the tight check, at nse_bound except bf16, which keeps this
// test's 3e-4 (1e-4 in nse_bound): statistics and outputs are rounded to bf16 more than once.
Tol reduction_tol(DType d) {
  switch (d) {
    case DType::f64: return {1e-9, 1e-11};
    case DType::f16: return {2e-3, 1e-4};
    case DType::bf16: return {1.6e-2, 1e-3};
    default: return {1e-4, 1e-5};
  }
}
void expect_reduced_close(const Tensor& ref, const Tensor& got, const std::string& what) {
  EXPECT_TRUE(parity_within(got, ref, reduction_tol(ref.dtype()))) << what;
  EXPECT_TRUE(parity_nse(got, ref, ref.dtype() == DType::bf16 ? 3e-4 : nse_bound(ref.dtype()))) << what;
}

// Parameters follow the input's dtype, as a module would keep them.
Tensor param(int64_t n, DType d, uint64_t seed, bool positive = false) {
  return random_tensor({n}, d, positive ? Domain::positive : Domain::any, seed);
}

void check_grads(const NormGrads& ref, const NormGrads& got, const std::string& what) {
  expect_reduced_close(ref.dx, got.dx, what + " dx");
  expect_reduced_close(ref.dweight, got.dweight, what + " dweight");
  expect_reduced_close(ref.dbias, got.dbias, what + " dbias");
}

struct LnCase {
  Shape x;
  Shape normalized;
};

TEST(NormCuda, LayerNormForwardBackward) {
  KILN_REQUIRE_GPU();
  GuardScope guards;
  const std::vector<LnCase> cases = {{{1, 1}, {1}},         {{3, 7}, {7}},          {{2, 3, 7, 7}, {7, 7}},
                                     {{0, 5}, {5}},         {{4, 1}, {1}},          {{13, 1031}, {1031}},
                                     {{5, 3, 4097}, {4097}}, {{2, 3, 5}, {3, 5}},   {{1, 769}, {769}},
                                     // Few long rows: split over several blocks (Note [Few long rows]).
                                     {{3, 20000}, {20000}},  {{2, 3, 70, 90}, {3, 70, 90}}};
  for (DType d : kDtypes)
    for (const LnCase& c : cases)
      for (bool affine : {true, false}) {
        const std::string what = label("layer_norm", d, c.x, affine ? "affine" : "plain");
        const Tensor x = random_tensor(c.x, d, Domain::any, 1);
        const Tensor dy = random_tensor(c.x, d, Domain::any, 2);
        Tensor w = affine ? random_tensor(c.normalized, d, Domain::positive, 3) : Tensor();
        Tensor b = affine ? random_tensor(c.normalized, d, Domain::any, 4) : Tensor();
        const LayerNormResult ref = layer_norm(x, c.normalized, w, b);
        const LayerNormResult got = layer_norm(on_gpu(x), c.normalized, on_gpu(w), on_gpu(b));
        expect_reduced_close(ref.y, got.y, what + " y");
        expect_reduced_close(ref.mean, got.mean, what + " mean");
        expect_reduced_close(ref.rstd, got.rstd, what + " rstd");
        EXPECT_TRUE(guards_intact()) << what + " forward";
        const NormGrads gref = layer_norm_backward(dy, x, ref.mean, ref.rstd, w);
        const NormGrads ggot = layer_norm_backward(on_gpu(dy), on_gpu(x), got.mean, got.rstd, on_gpu(w));
        check_grads(gref, ggot, what);
        EXPECT_TRUE(guards_intact()) << what + " backward";
      }
}

TEST(NormCuda, LayerNormNonContiguousAndOffset) {
  KILN_REQUIRE_GPU();
  GuardScope guards;
  // A transposed input, and a large common offset (the shifted sums must not cancel).
  const Tensor base = random_tensor({9, 6}, DType::f32, Domain::any, 5);
  const Tensor x = base.transpose(0, 1);  // [6, 9], not contiguous
  const Tensor w = param(9, DType::f32, 6, true), b = param(9, DType::f32, 7);
  const LayerNormResult ref = layer_norm(x, {9}, w, b);
  const LayerNormResult got = layer_norm(on_gpu(x), {9}, on_gpu(w), on_gpu(b));
  expect_reduced_close(ref.y, got.y, "layer_norm transposed y");
  const Tensor shifted = add(random_tensor({4, 300}, DType::f32, Domain::any, 8), Scalar(1000.0));
  const LayerNormResult r2 = layer_norm(shifted, {300});
  const LayerNormResult g2 = layer_norm(on_gpu(shifted), {300});
  // The mean (about 1000) may round to a neighbouring f32 on either device: 6e-5 * rstd apart.
  EXPECT_TRUE(parity_within(g2.y, r2.y, {1e-4, 1e-4})) << "layer_norm offset y";
  EXPECT_TRUE(parity(g2.y, r2.y, true)) << "layer_norm offset y";
  expect_reduced_close(r2.rstd, g2.rstd, "layer_norm offset rstd");
  const Tensor dy = random_tensor({9, 6}, DType::f32, Domain::any, 9).transpose(0, 1);
  check_grads(layer_norm_backward(dy, x, ref.mean, ref.rstd, w),
              layer_norm_backward(on_gpu(dy), on_gpu(x), got.mean, got.rstd, on_gpu(w)), "layer_norm transposed");
  EXPECT_TRUE(guards_intact()) << "layer_norm non-contiguous";
}

struct GnCase {
  Shape x;
  int64_t groups;
};

TEST(NormCuda, GroupNormForwardBackward) {
  KILN_REQUIRE_GPU();
  GuardScope guards;
  const std::vector<GnCase> cases = {{{1, 3, 7, 7}, 1}, {{1, 3, 7, 7}, 3}, {{2, 6, 5}, 2},    {{4, 8, 1, 1}, 4},
                                     {{0, 4, 3}, 2},    {{3, 4}, 2},       {{2, 6, 37, 29}, 3},
                                     {{1, 4, 100, 100}, 2}, {{2, 3, 130, 129}, 1}};
  for (DType d : kDtypes)
    for (const GnCase& c : cases)
      for (bool affine : {true, false}) {
        const std::string what = label("group_norm", d, c.x, affine ? "affine" : "plain");
        const Tensor x = random_tensor(c.x, d, Domain::any, 11);
        const Tensor dy = random_tensor(c.x, d, Domain::any, 12);
        const int64_t C = c.x[1];
        Tensor w = affine ? param(C, d, 13, true) : Tensor();
        Tensor b = affine ? param(C, d, 14) : Tensor();
        const GroupNormResult ref = group_norm(x, c.groups, w, b);
        const GroupNormResult got = group_norm(on_gpu(x), c.groups, on_gpu(w), on_gpu(b));
        expect_reduced_close(ref.y, got.y, what + " y");
        expect_reduced_close(ref.mean, got.mean, what + " mean");
        expect_reduced_close(ref.rstd, got.rstd, what + " rstd");
        EXPECT_TRUE(guards_intact()) << what + " forward";
        check_grads(group_norm_backward(dy, x, ref.mean, ref.rstd, c.groups, w),
                    group_norm_backward(on_gpu(dy), on_gpu(x), got.mean, got.rstd, c.groups, on_gpu(w)), what);
        EXPECT_TRUE(guards_intact()) << what + " backward";
      }
}

TEST(NormCuda, BatchNormTrainEvalForwardBackward) {
  KILN_REQUIRE_GPU();
  GuardScope guards;
  const std::vector<Shape> shapes = {{4, 3}, {1, 3, 7, 7}, {2, 5, 1, 1}, {3, 7, 11}, {2, 3, 37, 29}};
  for (DType d : kDtypes)
    for (const Shape& s : shapes)
      for (bool affine : {true, false}) {
        const int64_t C = s[1];
        const std::string what = label("batch_norm", d, s, affine ? "affine" : "plain");
        const Tensor x = random_tensor(s, d, Domain::any, 21);
        const Tensor dy = random_tensor(s, d, Domain::any, 22);
        Tensor w = affine ? param(C, d, 23, true) : Tensor();
        Tensor b = affine ? param(C, d, 24) : Tensor();
        // Training, with running statistics of the input's dtype (as a module's buffers).
        Tensor rm = param(C, d, 25), rv = param(C, d, 26, true);
        Tensor rm_g = on_gpu(rm).clone(), rv_g = on_gpu(rv).clone();
        const BatchNormResult ref = batch_norm_forward(x, w, b, rm, rv, true, 0.1, 1e-5);
        const BatchNormResult got = batch_norm_forward(on_gpu(x), on_gpu(w), on_gpu(b), rm_g, rv_g, true, 0.1, 1e-5);
        expect_reduced_close(ref.y, got.y, what + " train y");
        expect_reduced_close(ref.save_mean, got.save_mean, what + " save_mean");
        expect_reduced_close(ref.save_invstd, got.save_invstd, what + " save_invstd");
        expect_reduced_close(rm, rm_g, what + " running_mean");
        expect_reduced_close(rv, rv_g, what + " running_var");
        EXPECT_TRUE(guards_intact()) << what + " train forward";
        check_grads(batch_norm_backward(dy, x, w, ref.save_mean, ref.save_invstd, true),
                    batch_norm_backward(on_gpu(dy), on_gpu(x), on_gpu(w), got.save_mean, got.save_invstd, true),
                    what + " train");
        // Eval with the updated running statistics.
        const BatchNormResult eref = batch_norm_forward(x, w, b, rm, rv, false);
        const BatchNormResult egot = batch_norm_forward(on_gpu(x), on_gpu(w), on_gpu(b), rm_g, rv_g, false);
        expect_reduced_close(eref.y, egot.y, what + " eval y");
        check_grads(batch_norm_backward(dy, x, w, eref.save_mean, eref.save_invstd, false),
                    batch_norm_backward(on_gpu(dy), on_gpu(x), on_gpu(w), egot.save_mean, egot.save_invstd, false),
                    what + " eval");
        EXPECT_TRUE(guards_intact()) << what + " eval";
      }
}

// Batch norm + relu / leaky_relu in one op (kernels/cuda/bn_act.cu through batch_norm_forward's act)
// against the CPU's vector kernels, training and eval.
TEST(NormCuda, BatchNormWithActivation) {
  KILN_REQUIRE_GPU();
  GuardScope guards;
  const std::vector<Shape> shapes = {{6, 3}, {2, 5, 9, 7}, {3, 4, 37}};
  for (DType d : kDtypes)
    for (const Shape& s : shapes)
      for (BnActivation act : {BnActivation::relu, BnActivation::leaky_relu}) {
        const int64_t C = s[1];
        const std::string what = label("batch_norm_act", d, s, bn_activation_name(act));
        const Tensor x = random_tensor(s, d, Domain::any, 31);
        const Tensor dy = random_tensor(s, d, Domain::any, 32);
        const Tensor w = param(C, d, 33, true), b = param(C, d, 34);
        Tensor rm = param(C, d, 35), rv = param(C, d, 36, true);
        Tensor rm_g = on_gpu(rm).clone(), rv_g = on_gpu(rv).clone();
        for (bool training : {true, false}) {
          const std::string mode = what + (training ? " train" : " eval");
          const BatchNormResult ref = batch_norm_forward(x, w, b, rm, rv, training, 0.1, 1e-5, act, 0.2);
          const BatchNormResult got =
              batch_norm_forward(on_gpu(x), on_gpu(w), on_gpu(b), rm_g, rv_g, training, 0.1, 1e-5, act, 0.2);
          expect_reduced_close(ref.y, got.y, mode + " y");
          expect_reduced_close(rm, rm_g, mode + " running_mean");
          EXPECT_TRUE(guards_intact()) << mode + " forward";
          check_grads(batch_norm_backward(dy, x, w, ref.save_mean, ref.save_invstd, training, b, act, 0.2),
                      batch_norm_backward(on_gpu(dy), on_gpu(x), on_gpu(w), got.save_mean, got.save_invstd, training,
                                          on_gpu(b), act, 0.2),
                      mode);
          EXPECT_TRUE(guards_intact()) << mode + " backward";
        }
      }
}

TEST(NormCuda, BatchNormRunningStatsAfterSteps) {
  KILN_REQUIRE_GPU();
  GuardScope guards;
  // Five training steps on different batches; f16 activations with f32 buffers and a
  // non-contiguous running_var (updated through a copy).
  for (DType d : {DType::f32, DType::f16}) {
    const int64_t C = 6;
    Tensor rm = zeros({C}), rv = ones({C});
    Tensor rm_g = zeros({C}, DType::f32, kCUDA);
    Tensor rv_store = ones({C, 2}, DType::f32, kCUDA);
    Tensor rv_g = rv_store.select(1, 0);  // stride 2
    for (int step = 0; step < 5; ++step) {
      const Tensor x = random_tensor({3, C, 5, 4}, d, Domain::any, uint64_t(100 + step));
      batch_norm_forward(x, {}, {}, rm, rv, true, 0.2, 1e-5);
      batch_norm_forward(on_gpu(x), {}, {}, rm_g, rv_g, true, 0.2, 1e-5);
    }
    expect_reduced_close(rm, rm_g, std::string("running_mean after 5 steps ") + dtype_name(d));
    expect_reduced_close(rv, rv_g.contiguous(), std::string("running_var after 5 steps ") + dtype_name(d));
    // The other column of the strided storage is untouched.
    EXPECT_TRUE(parity_within(rv_store.select(1, 1).contiguous(), ones({C}), default_tol(DType::f32)))
        << "running_var neighbours";
    EXPECT_TRUE(guards_intact()) << "running stats";
  }
}

TEST(NormCuda, LargeBatchF32) {
  KILN_REQUIRE_GPU();
  GuardScope guards;
  const Shape s = {8, 64, 56, 56};
  const Tensor x = random_tensor(s, DType::f32, Domain::any, 31);
  const Tensor dy = random_tensor(s, DType::f32, Domain::any, 32);
  const Tensor w = param(64, DType::f32, 33, true), b = param(64, DType::f32, 34);
  Tensor rm = zeros({64}), rv = ones({64});
  Tensor rm_g = zeros({64}, DType::f32, kCUDA), rv_g = ones({64}, DType::f32, kCUDA);
  const BatchNormResult bref = batch_norm_forward(x, w, b, rm, rv, true);
  const BatchNormResult bgot = batch_norm_forward(on_gpu(x), on_gpu(w), on_gpu(b), rm_g, rv_g, true);
  expect_reduced_close(bref.y, bgot.y, "batch_norm large y");
  expect_reduced_close(rv, rv_g, "batch_norm large running_var");
  check_grads(batch_norm_backward(dy, x, w, bref.save_mean, bref.save_invstd, true),
              batch_norm_backward(on_gpu(dy), on_gpu(x), on_gpu(w), bgot.save_mean, bgot.save_invstd, true),
              "batch_norm large");
  const GroupNormResult gref = group_norm(x, 32, w, b);
  const GroupNormResult ggot = group_norm(on_gpu(x), 32, on_gpu(w), on_gpu(b));
  expect_reduced_close(gref.y, ggot.y, "group_norm large y");
  check_grads(group_norm_backward(dy, x, gref.mean, gref.rstd, 32, w),
              group_norm_backward(on_gpu(dy), on_gpu(x), ggot.mean, ggot.rstd, 32, on_gpu(w)), "group_norm large");
  const Tensor w2 = param(56, DType::f32, 35, true);
  const LayerNormResult lref = layer_norm(x, {56}, w2);
  const LayerNormResult lgot = layer_norm(on_gpu(x), {56}, on_gpu(w2));
  expect_reduced_close(lref.y, lgot.y, "layer_norm large y");
  check_grads(layer_norm_backward(dy, x, lref.mean, lref.rstd, w2),
              layer_norm_backward(on_gpu(dy), on_gpu(x), lgot.mean, lgot.rstd, on_gpu(w2)), "layer_norm large");
  EXPECT_TRUE(guards_intact()) << "large batch";
}

TEST(NormCuda, BackwardIsBitIdenticalOverRuns) {
  KILN_REQUIRE_GPU();
  GuardScope guards;
  for (DType d : {DType::f32, DType::bf16}) {
    const Shape s = {16, 12, 33, 31};
    const Tensor x = on_gpu(random_tensor(s, d, Domain::any, 41));
    const Tensor dy = on_gpu(random_tensor(s, d, Domain::any, 42));
    const Tensor w = on_gpu(param(12, d, 43, true));
    const std::string dn = dtype_name(d);
    const BatchNormResult bn = batch_norm_forward(x, w, {}, {}, {}, true);
    const NormGrads b1 = batch_norm_backward(dy, x, w, bn.save_mean, bn.save_invstd, true);
    const NormGrads b2 = batch_norm_backward(dy, x, w, bn.save_mean, bn.save_invstd, true);
    for (auto [a, b, n] : {std::tuple{b1.dx, b2.dx, "dx"}, std::tuple{b1.dweight, b2.dweight, "dweight"},
                           std::tuple{b1.dbias, b2.dbias, "dbias"}})
      EXPECT_TRUE(bit_identical(a, b)) << "batch_norm_backward " + dn + " " + n;
    const GroupNormResult gn = group_norm(x, 4, w);
    const NormGrads g1 = group_norm_backward(dy, x, gn.mean, gn.rstd, 4, w);
    const NormGrads g2 = group_norm_backward(dy, x, gn.mean, gn.rstd, 4, w);
    for (auto [a, b, n] : {std::tuple{g1.dx, g2.dx, "dx"}, std::tuple{g1.dweight, g2.dweight, "dweight"},
                           std::tuple{g1.dbias, g2.dbias, "dbias"}})
      EXPECT_TRUE(bit_identical(a, b)) << "group_norm_backward " + dn + " " + n;
    const Tensor w2 = on_gpu(param(31, d, 44, true));
    const LayerNormResult ln = layer_norm(x, {31}, w2);
    const NormGrads l1 = layer_norm_backward(dy, x, ln.mean, ln.rstd, w2);
    const NormGrads l2 = layer_norm_backward(dy, x, ln.mean, ln.rstd, w2);
    for (auto [a, b, n] : {std::tuple{l1.dx, l2.dx, "dx"}, std::tuple{l1.dweight, l2.dweight, "dweight"},
                           std::tuple{l1.dbias, l2.dbias, "dbias"}})
      EXPECT_TRUE(bit_identical(a, b)) << "layer_norm_backward " + dn + " " + n;
    EXPECT_TRUE(guards_intact()) << "bit identical " + dn;
  }
}

TEST(NormCuda, MixedDevicesAreRefused) {
  KILN_REQUIRE_GPU();
  const Tensor x = random_tensor({2, 3, 4}, DType::f32, Domain::any, 51);
  const Tensor w = param(3, DType::f32, 52);
  EXPECT_THROW(group_norm(on_gpu(x), 3, w), Error);
  EXPECT_THROW(batch_norm_forward(on_gpu(x), w, {}, {}, {}, true), Error);
  EXPECT_THROW(layer_norm(on_gpu(x), {4}, param(4, DType::f32, 53)), Error);
}

}  // namespace
}  // namespace kiln::test
#endif  // KILN_HAVE_CUDA
