// Random numbers (tensor/random.h, kernels/philox.h): Philox known answers, the stream layout of
// Note [Philox streams], reproducibility, statistics and misuse.
#include <algorithm>
#include <cmath>
#include <thread>

#include "kiln/kernels/cpu/parallel.h"
#include "kiln/kernels/philox.h"
#include "support/fixtures.h"

namespace kiln {
namespace {
using test::tensors_equal;

// Known-answer vectors of Philox4x32-10 from the Random123 distribution (tests/kat_vectors):
//   philox4x32 10 <counter 4 words> <key 2 words>   <expected 4 words>
//   00000000 00000000 00000000 00000000  00000000 00000000  ->  6627e8d5 e169c58d bc57ac4c 9b00dbd8
//   ffffffff ffffffff ffffffff ffffffff  ffffffff ffffffff  ->  408f276d 41c83b0e a20bc7c6 6d5451fd
//   243f6a88 85a308d3 13198a2e 03707344  a4093822 299f31d0  ->  d16cfe09 94fdcceb 5001e420 24126ea1
// (the last one uses the leading hex digits of pi).
TEST(Philox, KnownAnswerVectors) {
  struct Kat {
    uint32_t c[4], k[2], want[4];
  };
  const Kat kats[] = {
      {{0, 0, 0, 0}, {0, 0}, {0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8}},
      {{0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff}, {0xffffffff, 0xffffffff},
       {0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd}},
      {{0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344}, {0xa4093822, 0x299f31d0},
       {0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1}},
  };
  for (const Kat& k : kats) {
    Philox4 r = philox4x32_10(k.c[0], k.c[1], k.c[2], k.c[3], k.k[0], k.k[1]);
    for (int i = 0; i < 4; ++i) EXPECT_EQ(r.v[i], k.want[i]) << "word " << i << " of KAT with counter " << k.c[0];
  }
}

// The layout promised by Note [Philox streams]: element i of a W-word call reads words
// i*W .. i*W+W-1 of blocks offset, offset+1, ...; counter = (block lo, block hi, 0, 0), key = seed.
TEST(Philox, StreamLayout) {
  const uint64_t seed = 0x123456789abcdefull;
  Generator g(seed);
  g.set_offset(5);
  auto u = rand({10}, DType::f32, &g).to_vector<float>();
  EXPECT_EQ(g.offset(), 5u + 3u);  // ceil(10 / 4) blocks
  for (int i = 0; i < 10; ++i) {
    Philox4 b = philox_block(seed, 5 + uint64_t(i / 4));
    EXPECT_EQ(u[size_t(i)], philox_u24(b.v[i % 4])) << i;
  }
  // The block counter is 64-bit: its high word goes to counter word 1.
  Philox4 hi = philox_block(seed, uint64_t(7) << 32);
  Philox4 direct = philox4x32_10(0, 7, 0, 0, uint32_t(seed), uint32_t(seed >> 32));
  EXPECT_EQ(hi.v[0], direct.v[0]);
  // f64 uniforms use two words each; f32 normals two words; f64 normals four.
  g.set_offset(0);
  auto d = rand({3}, DType::f64, &g).to_vector<double>();
  EXPECT_EQ(g.offset(), 2u);
  Philox4 b0 = philox_block(seed, 0), b1 = philox_block(seed, 1);
  EXPECT_EQ(d[1], philox_u53(b0.v[2], b0.v[3]));
  EXPECT_EQ(d[2], philox_u53(b1.v[0], b1.v[1]));
  randn({10}, DType::f32, &g);
  EXPECT_EQ(g.offset(), 2u + 5u);
  randn({10}, DType::f64, &g);
  EXPECT_EQ(g.offset(), 7u + 10u);
  randperm(6, &g);
  EXPECT_EQ(g.offset(), 17u + 3u);
}

TEST(Random, SameSeedSameValuesDifferentSeedsDiffer) {
  Generator a(42), b(42), c(43);
  EXPECT_TRUE(tensors_equal(rand({1000}, DType::f32, &a), rand({1000}, DType::f32, &b)));
  EXPECT_TRUE(tensors_equal(randn({1000}, DType::f64, &a), randn({1000}, DType::f64, &b)));
  Generator a2(42);
  EXPECT_FALSE(tensors_equal(rand({1000}, DType::f32, &a2), rand({1000}, DType::f32, &c)));
  // The default generator: manual_seed restarts it.
  manual_seed(7);
  Tensor x = randn({100});
  manual_seed(7);
  EXPECT_TRUE(tensors_equal(randn({100}), x));
  EXPECT_EQ(default_generator().seed(), 7u);
}

TEST(Random, GeneratorCopyAndSharing) {
  Generator g(11);
  rand({5}, DType::f32, &g);
  Generator copy = g;  // same seed and offset: continues with the same values
  EXPECT_TRUE(tensors_equal(randn({100}, DType::f32, &g), randn({100}, DType::f32, &copy)));
  // Threads sharing one generator each reserve their own blocks.
  Generator shared(12);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&] {
      for (int i = 0; i < 50; ++i) rand({4}, DType::f32, &shared);
    });
  for (auto& th : threads) th.join();
  EXPECT_EQ(shared.offset(), 200u);
}

TEST(Random, SuccessiveCallsDifferAndSplitCallsMatchOneCall) {
  Generator g(5);
  Tensor a = rand({64}, DType::f32, &g), b = rand({64}, DType::f32, &g);
  EXPECT_FALSE(tensors_equal(a, b));
  // n1 * W is a multiple of 4, so two calls continue the stream exactly.
  Generator one(9), two(9);
  auto whole = rand({20}, DType::f32, &one).to_vector<float>();
  auto p1 = rand({8}, DType::f32, &two).to_vector<float>();
  auto p2 = rand({12}, DType::f32, &two).to_vector<float>();
  p1.insert(p1.end(), p2.begin(), p2.end());
  EXPECT_EQ(p1, whole);
  Generator n1(9), n2(9);
  auto nw = randn({10}, DType::f32, &n1).to_vector<float>();
  auto q1 = randn({6}, DType::f32, &n2).to_vector<float>();  // 12 words = 3 blocks
  auto q2 = randn({4}, DType::f32, &n2).to_vector<float>();
  q1.insert(q1.end(), q2.begin(), q2.end());
  EXPECT_EQ(q1, nw);
  // A call not ending on a block boundary skips the rest of its last block.
  Generator s(9);
  rand({3}, DType::f32, &s);
  EXPECT_EQ(s.offset(), 1u);
}

std::vector<Tensor> draws(uint64_t seed) {
  Generator g(seed);
  return {rand({300001}, DType::f32, &g),        randn({300001}, DType::f32, &g),
          rand({100001}, DType::bf16, &g),       randn({100001}, DType::f64, &g),
          randint(-5, 1000, {200003}, DType::i64, &g), bernoulli(0.3, {200003}, DType::f32, &g),
          dropout_mask({200003}, 0.2, &g),       randperm(100003, &g),
          normal(2, 3, {1001}, DType::f16, &g)};
}

TEST(Random, BitIdenticalAcrossThreadCounts) {
  const int saved = cpu::num_threads();
  cpu::set_num_threads(1);
  auto ref = draws(1234);
  for (int nt : {2, 3}) {
    cpu::set_num_threads(nt);
    auto got = draws(1234);
    for (size_t i = 0; i < ref.size(); ++i) EXPECT_TRUE(tensors_equal(got[i], ref[i])) << i << " threads " << nt;
  }
  cpu::set_num_threads(saved);
}

TEST(Random, UniformStatistics) {
  Generator g(1);
  for (DType d : {DType::f32, DType::f64}) {
    Tensor u = rand({1000000}, d, &g);
    EXPECT_NEAR(mean(u).item<double>(), 0.5, 0.002) << dtype_name(d);
    EXPECT_NEAR(var(u).item<double>(), 1.0 / 12, 0.001) << dtype_name(d);
    EXPECT_GE(amin(u).item<double>(), 0.0);
    EXPECT_LT(amax(u).item<double>(), 1.0);
  }
  for (DType d : {DType::f16, DType::bf16}) {
    Tensor u = rand({100000}, d, &g);
    EXPECT_EQ(u.dtype(), d);
    EXPECT_NEAR(mean(u.to(DType::f64)).item<double>(), 0.5, 0.01);
    EXPECT_LT(amax(u).item<double>(), 1.0);
    EXPECT_GE(amin(u).item<double>(), 0.0);
  }
  Tensor t = zeros({4, 1000}, DType::f64);
  Tensor view = t.slice(1, 0, 1000, 2);  // non-contiguous
  uniform_(view, -2, 3, &g);
  EXPECT_GE(amin(view).item<double>(), -2.0);
  EXPECT_LT(amax(view).item<double>(), 3.0);
  EXPECT_NEAR(mean(view).item<double>(), 0.5, 0.1);
  EXPECT_EQ(amax(t.slice(1, 1, 1000, 2)).item<double>(), 0.0);  // untouched
}

TEST(Random, NormalStatistics) {
  Generator g(2);
  for (DType d : {DType::f32, DType::f64}) {
    Tensor z = randn({1000000}, d, &g);
    EXPECT_NEAR(mean(z).item<double>(), 0.0, 0.005) << dtype_name(d);
    EXPECT_NEAR(var(z).item<double>(), 1.0, 0.01) << dtype_name(d);
    // About 4.55% of a standard normal lies beyond 2 sigma.
    auto v = z.to_vector<double>();
    double beyond = double(std::count_if(v.begin(), v.end(), [](double x) { return std::fabs(x) > 2; }));
    EXPECT_NEAR(beyond / double(v.size()), 0.0455, 0.002) << dtype_name(d);
  }
  Tensor n = normal(3, 0.5, {200000}, DType::f32, &g);
  EXPECT_NEAR(mean(n).item<double>(), 3.0, 0.01);
  EXPECT_NEAR(kiln::std(n).item<double>(), 0.5, 0.01);
  Tensor h = randn({1000}, DType::bf16, &g);
  EXPECT_EQ(h.dtype(), DType::bf16);
  Tensor t = zeros({1000});
  uint64_t v = t.version();
  normal_(t, -1, 2, &g);
  EXPECT_GT(t.version(), v);
  EXPECT_NEAR(mean(t).item<double>(), -1.0, 0.3);
}

TEST(Random, RandintCoversRangeNeverHigh) {
  Generator g(3);
  Tensor r = randint(-3, 4, {20000}, DType::i64, &g);
  EXPECT_EQ(amin(r).item<int64_t>(), -3);
  EXPECT_EQ(amax(r).item<int64_t>(), 3);
  auto v = r.to_vector<int64_t>();
  for (int64_t k = -3; k < 4; ++k) {
    auto c = std::count(v.begin(), v.end(), k);
    EXPECT_NEAR(double(c) / 20000.0, 1.0 / 7, 0.02) << k;
  }
  Tensor big = randint(0, int64_t(1) << 40, {10000}, DType::i64, &g);
  EXPECT_LT(amax(big).item<int64_t>(), int64_t(1) << 40);
  EXPECT_GT(amax(big).item<int64_t>(), int64_t(1) << 38);
  EXPECT_GE(amin(big).item<int64_t>(), 0);
  Tensor u8 = randint(0, 256, {5000}, DType::u8, &g);
  EXPECT_EQ(u8.dtype(), DType::u8);
  EXPECT_EQ(amax(u8).item<int64_t>(), 255);
  EXPECT_EQ(randint(5, 6, {10}, DType::i32, &g).to_vector<int32_t>(), std::vector<int32_t>(10, 5));
}

TEST(Random, RandpermIsAPermutation) {
  Generator g(4);
  for (int64_t n : {0, 1, 2, 17, 10007}) {
    Tensor p = randperm(n, &g);
    EXPECT_EQ(p.dtype(), DType::i64);
    auto v = p.to_vector<int64_t>();
    std::sort(v.begin(), v.end());
    for (int64_t i = 0; i < n; ++i) ASSERT_EQ(v[size_t(i)], i) << n;
  }
  EXPECT_FALSE(tensors_equal(randperm(100, &g), arange(100, DType::i64)));
}

TEST(Random, BernoulliRate) {
  Generator g(5);
  Tensor b = bernoulli(0.3, {1000000}, DType::f32, &g);
  EXPECT_NEAR(mean(b).item<double>(), 0.3, 0.003);
  auto v = b.to_vector<float>();
  EXPECT_TRUE(std::all_of(v.begin(), v.end(), [](float x) { return x == 0.0f || x == 1.0f; }));
  EXPECT_EQ(sum(bernoulli(0.0, {1000}, DType::f32, &g)).item<double>(), 0.0);
  EXPECT_EQ(sum(bernoulli(1.0, {1000}, DType::f32, &g)).item<double>(), 1000.0);
  EXPECT_EQ(bernoulli(0.5, {10}, DType::b8, &g).dtype(), DType::b8);
  // Per-element probabilities: 0 and 1 are exact, 0.5 gives about half.
  std::vector<double> probs(30000);
  for (size_t i = 0; i < probs.size(); ++i) probs[i] = i % 3 == 0 ? 0.0 : i % 3 == 1 ? 1.0 : 0.5;
  Tensor pt = from_vector(probs, {10000, 3});
  Tensor r = bernoulli(pt, &g);
  EXPECT_EQ(r.shape(), pt.shape());
  EXPECT_EQ(r.dtype(), DType::f64);
  Tensor col = mean(r, {0});
  EXPECT_EQ(col.to_vector<double>()[0], 0.0);
  EXPECT_EQ(col.to_vector<double>()[1], 1.0);
  EXPECT_NEAR(col.to_vector<double>()[2], 0.5, 0.03);
  // Non-contiguous probabilities are read in logical order.
  Tensor rt = bernoulli(pt.t(), &g);
  EXPECT_EQ(mean(rt, {1}).to_vector<double>()[1], 1.0);
}

TEST(Random, DropoutMaskRateAndScale) {
  Generator g(6);
  const double p = 0.25;
  Tensor m = dropout_mask({1000, 1000}, p, &g);
  EXPECT_EQ(m.dtype(), DType::f32);
  auto v = m.to_vector<float>();
  const float scale = float(1.0 / (1.0 - p));
  int64_t zeros_n = 0;
  for (float x : v) {
    ASSERT_TRUE(x == 0.0f || x == scale) << x;
    zeros_n += x == 0.0f;
  }
  EXPECT_NEAR(double(zeros_n) / double(v.size()), p, 0.003);
  EXPECT_NEAR(mean(m).item<double>(), 1.0, 0.005);  // expected value kept
  EXPECT_TRUE(tensors_equal(dropout_mask({7, 9}, 0.0, &g), ones({7, 9})));
  Tensor h = dropout_mask({100}, 0.5, &g, DType::bf16);
  EXPECT_EQ(h.dtype(), DType::bf16);
  EXPECT_EQ(amax(h).item<double>(), 2.0);
  // Same seed, same mask.
  Generator a(77), b(77);
  EXPECT_TRUE(tensors_equal(dropout_mask({33, 5}, 0.1, &a), dropout_mask({33, 5}, 0.1, &b)));
}

TEST(Random, Misuse) {
  Generator g(8);
  EXPECT_KILN_ERROR(randint(3, 3, {4}, DType::i64, &g), "low < high");
  EXPECT_KILN_ERROR(randint(5, 1, {4}, DType::i64, &g), "low < high");
  EXPECT_KILN_ERROR(bernoulli(1.5, {4}, DType::f32, &g), "[0, 1]");
  EXPECT_KILN_ERROR(bernoulli(-0.1, {4}, DType::f32, &g), "[0, 1]");
  EXPECT_KILN_ERROR(bernoulli(tensor({0.5, 2.0}), &g), "[0, 1]");
  EXPECT_KILN_ERROR(randperm(-1, &g), "non-negative");
  EXPECT_KILN_ERROR(randint(0, 300, {4}, DType::u8, &g), "does not fit");
  EXPECT_KILN_ERROR(randint(-1, 3, {4}, DType::u8, &g), "does not fit");
  EXPECT_KILN_ERROR(dropout_mask({4}, 1.0, &g), "[0, 1)");
  EXPECT_KILN_ERROR(dropout_mask({4}, -0.1, &g), "[0, 1)");
  EXPECT_KILN_ERROR(rand({4}, DType::i64, &g), "floating");
  EXPECT_KILN_ERROR(randn({4}, DType::i32, &g), "floating");
  EXPECT_KILN_ERROR(normal(0, -1, {4}, DType::f32, &g), "std >= 0");
  EXPECT_KILN_ERROR(rand({-1}, DType::f32, &g), "negative size");
  Tensor e = zeros({3}).expand({2, 3});
  EXPECT_KILN_ERROR(uniform_(e, 0, 1, &g), "expanded view");
  // Failed calls do not advance the generator.
  EXPECT_EQ(g.offset(), 0u);
}

}  // namespace
}  // namespace kiln
