// CPU-vs-CUDA parity of the indexing ops (tensor/indexing.h): the same inputs on both devices,
// results compared bit for bit. They move values, and the accumulating ops (scatter_add,
// index_add, index_put with accumulate) add in the CPU's order with the CPU's rounding (Note
// [Deterministic CUDA scatter]), so they are bit-exact too; only the float embedding backward
// (Note [Deterministic embedding backward]) is compared with a tolerance. Guard mode is on in every
// test (out-of-bounds writes are caught), and out-of-range indices give the CPU's error text.
// Every test skips without a usable GPU.
#if KILN_HAVE_CUDA
#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "kiln/tensor/ops.h"
#include "support/cuda_parity.h"
#include "support/fixtures.h"

namespace kiln {
namespace {

using test::kAllDTypes;

using test::GuardScope;
using test::parity_bits;

// Random values of a dtype with many ties (small integers, a few NaNs for floats when asked).
Tensor random_values(const Shape& s, DType dt, uint64_t seed, bool nans = false) {
  std::mt19937_64 g(seed);
  std::vector<double> v(size_t(s.numel()));
  for (auto& x : v) {
    x = double(int64_t(g() % 9)) - (dt == DType::u8 || dt == DType::b8 ? 0 : 4);
    if (is_floating(dt)) x += double(g() % 4) * 0.25;
    if (nans && is_floating(dt) && g() % 11 == 0) x = std::nan("");
  }
  return from_vector(v, s).to(dt);
}

// Random indices valid for a dim of size n, with duplicates; in [-n, n) when negative.
Tensor random_index(const Shape& s, int64_t n, uint64_t seed, bool negative = true) {
  std::mt19937_64 g(seed);
  std::vector<int64_t> v(size_t(s.numel()));
  for (auto& x : v) {
    x = n > 0 ? int64_t(g() % uint64_t(n)) : 0;
    if (negative && (g() & 1)) x -= n;
  }
  return from_vector(v, s);
}

// The error message of stmt, or "" when it does not throw.
template <class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(IndexingCuda, IndexSelectAllDTypes) {
  KILN_REQUIRE_GPU();
  GuardScope guard;
  for (DType dt : kAllDTypes)
    for (int d = 0; d < 3; ++d)
      for (int64_t m : {0, 1, 17}) {
        Tensor x = random_values({7, 13, 5}, dt, 11 + d);
        Tensor idx = random_index({m}, x.size(d), 5 + m);
        Tensor cpu = index_select(x, d, idx);
        EXPECT_TRUE(parity_bits(index_select(x.to(kCUDA), d, idx.to(kCUDA)), cpu)) << dtype_name(dt) << " d=" << d;
        // Non-contiguous x and an i32 index.
        Tensor xt = x.transpose(0, 2);
        Tensor i32 = random_index({m}, xt.size(d), 9, false).to(DType::i32);
        EXPECT_TRUE(parity_bits(index_select(xt.to(kCUDA), d, i32.to(kCUDA)), index_select(xt, d, i32)));
      }
  EXPECT_TRUE(test::guards_intact());
}

TEST(IndexingCuda, GatherAndTakeAlongDim) {
  KILN_REQUIRE_GPU();
  GuardScope guard;
  for (DType dt : kAllDTypes)
    for (int d = 0; d < 3; ++d) {
      Tensor x = random_values({5, 11, 3}, dt, 21 + d);
      Shape is{4, 10, 2};
      is[d] = 19;
      Tensor idx = random_index(is, x.size(d), 3 + d);
      EXPECT_TRUE(parity_bits(gather(x.to(kCUDA), d, idx.to(kCUDA)), gather(x, d, idx))) << dtype_name(dt);
      Tensor xt = x.transpose(0, 1).contiguous().transpose(0, 1);  // same shape, other strides
      EXPECT_TRUE(parity_bits(gather(xt.to(kCUDA), d, idx.to(kCUDA)), gather(xt, d, idx)));
    }
  Tensor x = random_values({6, 7}, DType::f32, 1);
  Tensor idx = random_index({6, 1}, 7, 2, false);
  EXPECT_TRUE(parity_bits(take_along_dim(x.to(kCUDA), idx.to(kCUDA), 1), take_along_dim(x, idx, 1)));
  Tensor e = random_index({0, 7}, 6, 3);
  EXPECT_TRUE(parity_bits(gather(x.to(kCUDA), 0, e.to(kCUDA)), gather(x, 0, e)));
  EXPECT_TRUE(test::guards_intact());
}

TEST(IndexingCuda, ScatterDuplicatesKeepTheLastWrite) {
  KILN_REQUIRE_GPU();
  GuardScope guard;
  for (DType dt : kAllDTypes)
    for (int d = 0; d < 2; ++d) {
      Tensor x = random_values({6, 9}, dt, 31);
      Shape is{6, 9};
      is[d] = 40;  // many more sources than destinations: every destination is hit several times
      Tensor idx = random_index(is, x.size(d), 7 + d);
      Tensor src = random_values(is, dt, 41 + d);
      EXPECT_TRUE(parity_bits(scatter(x.to(kCUDA), d, idx.to(kCUDA), src.to(kCUDA)), scatter(x, d, idx, src)))
          << dtype_name(dt) << " d=" << d;
      EXPECT_TRUE(parity_bits(scatter(x.to(kCUDA), d, idx.to(kCUDA), Scalar(1)), scatter(x, d, idx, Scalar(1))));
    }
  // In place into a non-contiguous view.
  Tensor base = random_values({9, 6}, DType::f32, 5);
  Tensor gb = base.to(kCUDA);
  Tensor idx = random_index({6, 20}, 9, 8);
  Tensor src = random_values({6, 20}, DType::f32, 9);
  scatter_(base.transpose(0, 1), 1, idx, src);
  scatter_(gb.transpose(0, 1), 1, idx.to(kCUDA), src.to(kCUDA));
  EXPECT_TRUE(parity_bits(gb, base));
  EXPECT_TRUE(test::guards_intact());
}

TEST(IndexingCuda, ScatterAddIsBitExact) {
  KILN_REQUIRE_GPU();
  GuardScope guard;
  for (DType dt : kAllDTypes)
    for (int d = 0; d < 3; ++d) {
      Tensor x = random_values({4, 5, 3}, dt, 51);
      Shape is{4, 5, 3};
      is[d] = 37;
      Tensor idx = random_index(is, x.size(d), 13 + d);
      Tensor src = is_floating(dt) ? randn(is).to(dt) : random_values(is, dt, 61);
      EXPECT_TRUE(parity_bits(scatter_add(x.to(kCUDA), d, idx.to(kCUDA), src.to(kCUDA)), scatter_add(x, d, idx, src)))
          << dtype_name(dt) << " d=" << d;
    }
  // One destination hit by every source (a long serial segment), and an empty index.
  Tensor x = zeros({3});
  Tensor idx = zeros({100003}, DType::i64);
  Tensor src = randn({100003});
  EXPECT_TRUE(parity_bits(scatter_add(x.to(kCUDA), 0, idx.to(kCUDA), src.to(kCUDA)), scatter_add(x, 0, idx, src)));
  Tensor e = zeros({0}, DType::i64);
  EXPECT_TRUE(parity_bits(scatter_add(x.to(kCUDA), 0, e.to(kCUDA), src.to(kCUDA)), x));
  EXPECT_TRUE(test::guards_intact());
}

TEST(IndexingCuda, IndexAddIsBitExact) {
  KILN_REQUIRE_GPU();
  GuardScope guard;
  for (DType dt : kAllDTypes)
    for (int d = 0; d < 3; ++d)
      for (int64_t m : {0, 1, 29}) {
        Tensor x = random_values({6, 7, 5}, dt, 71);
        Shape ss{6, 7, 5};
        ss[d] = m;
        Tensor src = is_floating(dt) ? randn(ss).to(dt) : random_values(ss, dt, 81);
        Tensor idx = random_index({m}, x.size(d), 17 + m);
        Scalar alpha = is_floating(dt) ? Scalar(0.7) : Scalar(int64_t(dt == DType::b8 ? 1 : 3));
        EXPECT_TRUE(parity_bits(index_add(x.to(kCUDA), d, idx.to(kCUDA), src.to(kCUDA), alpha),
                                index_add(x, d, idx, src, alpha)))
            << dtype_name(dt) << " d=" << d << " m=" << m;
        EXPECT_TRUE(parity_bits(index_add(x.to(kCUDA), d, idx.to(kCUDA), src.to(kCUDA)), index_add(x, d, idx, src)));
      }
  // Into a non-contiguous destination (updated through a contiguous copy).
  Tensor base = randn({5, 8});
  Tensor gb = base.to(kCUDA);
  Tensor idx = random_index({12}, 8, 4);
  Tensor src = randn({5, 12});
  index_add_(base.transpose(0, 1), 0, idx, src.transpose(0, 1));
  index_add_(gb.transpose(0, 1), 0, idx.to(kCUDA), src.to(kCUDA).transpose(0, 1));
  EXPECT_TRUE(parity_bits(gb, base));
  EXPECT_TRUE(test::guards_intact());
}

TEST(IndexingCuda, IndexAndIndexPut) {
  KILN_REQUIRE_GPU();
  GuardScope guard;
  for (DType dt : kAllDTypes) {
    Tensor x = random_values({8, 5, 3}, dt, 91);
    Tensor i0 = random_index({10}, 8, 1), i1 = random_index({10}, 5, 2);
    std::vector<Tensor> ci{i0, i1}, gi{i0.to(kCUDA), i1.to(kCUDA)};
    EXPECT_TRUE(parity_bits(index(x.to(kCUDA), gi), index(x, ci))) << dtype_name(dt);
    Tensor v = is_floating(dt) ? randn({10, 3}).to(dt) : random_values({10, 3}, dt, 92);
    for (bool acc : {false, true})
      EXPECT_TRUE(parity_bits(index_put(x.to(kCUDA), gi, v.to(kCUDA), acc), index_put(x, ci, v, acc)))
          << dtype_name(dt) << " accumulate=" << acc;
    // Broadcast indices and a broadcast value.
    Tensor b0 = random_index({4, 1}, 8, 3), b1 = random_index({1, 6}, 5, 4);
    std::vector<Tensor> cb{b0, b1}, gb{b0.to(kCUDA), b1.to(kCUDA)};
    Tensor sv = random_values({3}, dt, 93);
    for (bool acc : {false, true})
      EXPECT_TRUE(parity_bits(index_put(x.to(kCUDA), gb, sv.to(kCUDA), acc), index_put(x, cb, sv, acc)));
    // A boolean mask index.
    Tensor mask = random_values({8, 5}, DType::b8, 94);
    EXPECT_TRUE(parity_bits(index(x.to(kCUDA), {mask.to(kCUDA)}), index(x, {mask})));
    EXPECT_TRUE(parity_bits(index_put(x.to(kCUDA), {mask.to(kCUDA)}, sv.to(kCUDA)), index_put(x, {mask}, sv)));
    // An empty index.
    Tensor e = zeros({0}, DType::i64);
    EXPECT_TRUE(parity_bits(index(x.to(kCUDA), {e.to(kCUDA)}), index(x, {e})));
  }
  EXPECT_TRUE(test::guards_intact());
}

TEST(IndexingCuda, EmbeddingForwardAndBackward) {
  KILN_REQUIRE_GPU();
  GuardScope guard;
  for (DType dt : kAllDTypes) {
    Tensor w = random_values({50, 16}, dt, 101);
    Tensor idx = random_index({7, 9}, 50, 102, false);
    EXPECT_TRUE(parity_bits(embedding(w.to(kCUDA), idx.to(kCUDA)), embedding(w, idx))) << dtype_name(dt);
  }
  for (DType dt : {DType::f32, DType::f64, DType::f16, DType::bf16, DType::i64, DType::i32}) {
    Tensor idx = random_index({7, 40}, 23, 103, false);  // ~12 repeats of every index
    Tensor dout = is_floating(dt) ? randn({7, 40, 16}).to(dt) : random_values({7, 40, 16}, dt, 104);
    for (int64_t pad : {int64_t(-1), int64_t(3)}) {
      Tensor cpu = embedding_backward(dout, idx, 23, pad);
      Tensor gpu = embedding_backward(dout.to(kCUDA), idx.to(kCUDA), 23, pad);
      if (is_floating(dt)) {
        // Summed in pieces of 32 (Note [Deterministic embedding backward]): agrees to rounding...
        test::Tol t = test::default_tol(dt);
        EXPECT_TRUE(test::tensors_close(gpu.cpu(), cpu, t.rtol, t.atol * 10)) << dtype_name(dt);
        // ...and is bit-identical from run to run.
        EXPECT_TRUE(parity_bits(embedding_backward(dout.to(kCUDA), idx.to(kCUDA), 23, pad), gpu.cpu()));
      } else {
        EXPECT_TRUE(parity_bits(gpu, cpu)) << dtype_name(dt);
      }
    }
  }
  EXPECT_TRUE(test::guards_intact());
}

TEST(IndexingCuda, MaskedFillSelectNonzero) {
  KILN_REQUIRE_GPU();
  GuardScope guard;
  for (DType dt : kAllDTypes)
    for (const Shape& s : {Shape{0}, Shape{1}, Shape{13}, Shape{7, 31}, Shape{3, 5, 67}}) {
      Tensor x = random_values(s, dt, 111);
      Tensor mask = random_values(s, DType::b8, 112);
      EXPECT_TRUE(parity_bits(masked_fill(x.to(kCUDA), mask.to(kCUDA), Scalar(2)), masked_fill(x, mask, Scalar(2))))
          << dtype_name(dt) << " " << s;
      EXPECT_TRUE(parity_bits(masked_select(x.to(kCUDA), mask.to(kCUDA)), masked_select(x, mask)));
      EXPECT_TRUE(parity_bits(nonzero(x.to(kCUDA)), nonzero(x)));
    }
  // Broadcast masks, a non-contiguous destination, a 0-d input, and a long input.
  Tensor x = randn({6, 1, 9});
  Tensor mask = random_values({5, 1}, DType::b8, 113);
  EXPECT_TRUE(parity_bits(masked_fill(x.to(kCUDA), mask.to(kCUDA), Scalar(-1.5)), masked_fill(x, mask, Scalar(-1.5))));
  EXPECT_TRUE(parity_bits(masked_select(x.to(kCUDA), mask.to(kCUDA)), masked_select(x, mask)));
  Tensor y = randn({9, 6});
  Tensor gy = y.to(kCUDA);
  Tensor m2 = random_values({6, 9}, DType::b8, 114);
  masked_fill_(y.transpose(0, 1), m2, Scalar(7));
  masked_fill_(gy.transpose(0, 1), m2.to(kCUDA), Scalar(7));
  EXPECT_TRUE(parity_bits(gy, y));
  Tensor z = scalar_tensor(3.0, DType::f32);
  EXPECT_TRUE(parity_bits(nonzero(z.to(kCUDA)), nonzero(z)));
  Tensor big = random_values({(1 << 20) + 3}, DType::f32, 115);
  EXPECT_TRUE(parity_bits(nonzero(big.to(kCUDA)), nonzero(big)));
  EXPECT_TRUE(test::guards_intact());
}

TEST(IndexingCuda, OneHot) {
  KILN_REQUIRE_GPU();
  GuardScope guard;
  Tensor idx = random_index({4, 7}, 9, 121, false);
  EXPECT_TRUE(parity_bits(one_hot(idx.to(kCUDA)), one_hot(idx)));
  EXPECT_TRUE(parity_bits(one_hot(idx.to(kCUDA), 12), one_hot(idx, 12)));
  Tensor e = zeros({0}, DType::i64);
  EXPECT_TRUE(parity_bits(one_hot(e.to(kCUDA), 3), one_hot(e, 3)));
  EXPECT_TRUE(test::guards_intact());
}

TEST(IndexingCuda, OutOfRangeIndexGivesTheCpuError) {
  KILN_REQUIRE_GPU();
  GuardScope guard;
  Tensor x = randn({5, 4});
  Tensor gx = x.to(kCUDA);
  Tensor bad = tensor({1, 0, 7, 2, -9}, DType::i64), pos = tensor({1, 0, 7, 2, 9}, DType::i64);
  Tensor gbad = bad.to(kCUDA), gpos = pos.to(kCUDA);
  const std::vector<std::pair<std::string, std::string>> pairs = {
      {error_of([&] { index_select(x, 0, bad); }), error_of([&] { index_select(gx, 0, gbad); })},
      {error_of([&] {
         gather(x, 0, bad.reshape({5, 1}));
       }),
       error_of([&] {
         gather(gx, 0, gbad.reshape({5, 1}));
       })},
      {error_of([&] {
         scatter_add(x, 0, bad.reshape({5, 1}), x);
       }),
       error_of([&] {
         scatter_add(gx, 0, gbad.reshape({5, 1}), gx);
       })},
      {error_of([&] {
         index_add(x, 0, bad, randn({5, 4}));
       }),
       error_of([&] {
         index_add(gx, 0, gbad, randn({5, 4}).to(kCUDA));
       })},
      {error_of([&] { index(x, {bad}); }), error_of([&] { index(gx, {gbad}); })},
      {error_of([&] { embedding(x, pos); }), error_of([&] { embedding(gx, gpos); })},
      {error_of([&] { one_hot(pos, 6); }), error_of([&] { one_hot(gpos, 6); })},
      {error_of([&] {
         embedding_backward(randn({5, 4}), pos, 5);
       }),
       error_of([&] {
         embedding_backward(randn({5, 4}).to(kCUDA), gpos, 5);
       })},
  };
  for (const auto& [cpu, gpu] : pairs) {
    EXPECT_NE(cpu.find("index 7 at position [2"), std::string::npos) << cpu;
    EXPECT_EQ(gpu, cpu);
  }
  // The destination is untouched by a refused scatter.
  EXPECT_TRUE(parity_bits(gx, x));
  EXPECT_TRUE(test::guards_intact());
}

}  // namespace
}  // namespace kiln
#endif  // KILN_HAVE_CUDA
