// CPU vs CUDA bit-equality of the random samplers (kernels/cuda/random.cu against
// kernels/cpu/random.cpp, Note [Bit-identical samplers]): the same generator state gives the same
// bits on both devices for every sampler and dtype, several (seed, offset) pairs and sizes 1, 3,
// 4097, 1000003; the offsets advance the same way. Skipped without a GPU.
#include <cstring>
#include <string>
#include <vector>

#include "kiln/tensor/random.h"
#include "support/fixtures.h"

#if KILN_HAVE_CUDA
#include "support/cuda_parity.h"

namespace kiln {
namespace {

using test::GuardScope;

const std::vector<DType> kFloat = {DType::f32, DType::f16, DType::bf16, DType::f64};
const std::vector<int64_t> kSizes = {1, 3, 4097, 1000003};
const std::vector<std::pair<uint64_t, uint64_t>> kStates = {{0, 0}, {42, 7}, {0x0123456789abcdefull, 0xffffffffull},
                                                            {7, 0xfffffffffffffff0ull}};

// Runs make(gen, device) from the same generator state on both devices and compares bits (or, for
// f64 normals, values within one ulp or so) and the generators' offsets afterwards.
template <class F>
void check_sampler(const std::string& name, F&& make, bool exact = true) {
  for (auto [seed, offset] : kStates) {
    for (int64_t n : kSizes) {
      Generator gc(seed), gg(seed);
      gc.set_offset(offset);
      gg.set_offset(offset);
      Tensor c = make(gc, n, kCPU), g = make(gg, n, kCUDA);
      const std::string what = name + " seed=" + std::to_string(seed) + " offset=" + std::to_string(offset) +
                               " n=" + std::to_string(n);
      if (exact)
        EXPECT_TRUE(test::parity_bits(g, c)) << what;
      else EXPECT_TRUE(test::tensors_close(g.to(kCPU), c, 1e-14, 1e-300)) << what;
      EXPECT_EQ(gc.offset(), gg.offset()) << what;
    }
  }
}

TEST(RandomCuda, UniformBitIdentical) {
  KILN_REQUIRE_GPU();
  GuardScope guard;
  for (DType d : kFloat) {
    check_sampler(std::string("rand ") + dtype_name(d),
                  [&](Generator& g, int64_t n, Device dev) { return rand({n}, d, &g, dev); });
    check_sampler(std::string("uniform_(-2, 5) ") + dtype_name(d), [&](Generator& g, int64_t n, Device dev) {
      Tensor t = empty({n}, d, dev);
      return uniform_(t, -2.0, 5.0, &g);
    });
  }
  EXPECT_TRUE(cuda::check_guards());
}

TEST(RandomCuda, NormalBitIdentical) {
  KILN_REQUIRE_GPU();
  GuardScope guard;
  for (DType d : kFloat) {
    const bool exact = d != DType::f64;  // f64 normals: each device's double log / cos
    check_sampler(std::string("randn ") + dtype_name(d),
                  [&](Generator& g, int64_t n, Device dev) { return randn({n}, d, &g, dev); }, exact);
    check_sampler(std::string("normal(3, 0.5) ") + dtype_name(d),
                  [&](Generator& g, int64_t n, Device dev) { return normal(3, 0.5, {n}, d, &g, dev); }, exact);
  }
  EXPECT_TRUE(cuda::check_guards());
}

TEST(RandomCuda, BernoulliDropoutRandintBitIdentical) {
  KILN_REQUIRE_GPU();
  GuardScope guard;
  for (DType d : {DType::f32, DType::f16, DType::bf16, DType::f64, DType::i64, DType::i32, DType::u8, DType::b8}) {
    check_sampler(std::string("bernoulli(0.3) ") + dtype_name(d),
                  [&](Generator& g, int64_t n, Device dev) { return bernoulli(0.3, {n}, d, &g, dev); });
  }
  for (DType d : kFloat) {
    for (double p : {0.0, 0.1, 0.5}) {
      check_sampler(std::string("dropout_mask ") + std::to_string(p) + " " + dtype_name(d),
                    [&](Generator& g, int64_t n, Device dev) { return dropout_mask({n}, p, &g, d, dev); });
    }
  }
  for (DType d : {DType::i64, DType::i32, DType::u8, DType::f32, DType::f64}) {
    const int64_t hi = d == DType::u8 ? 200 : 1000;
    check_sampler(std::string("randint ") + dtype_name(d),
                  [&](Generator& g, int64_t n, Device dev) { return randint(-5 * (d != DType::u8), hi, {n}, d, &g, dev); });
  }
  // A range above 2^32 takes two words per element.
  check_sampler("randint wide", [&](Generator& g, int64_t n, Device dev) {
    return randint(-(int64_t(1) << 40), int64_t(1) << 41, {n}, DType::i64, &g, dev);
  });
  check_sampler("randperm", [&](Generator& g, int64_t n, Device dev) { return randperm(n, &g, dev); });
  EXPECT_TRUE(cuda::check_guards());
}

TEST(RandomCuda, BernoulliTensor) {
  KILN_REQUIRE_GPU();
  GuardScope guard;
  for (DType d : {DType::f32, DType::f16, DType::bf16, DType::f64}) {
    for (int64_t n : kSizes) {
      Tensor probs = rand({n}, d);
      Generator gc(11), gg(11);
      EXPECT_TRUE(test::parity_bits(bernoulli(probs.to(kCUDA), &gg), bernoulli(probs, &gc)))
          << std::string("bernoulli(probs) ") + dtype_name(d) + " n=" + std::to_string(n);
      EXPECT_EQ(gc.offset(), gg.offset());
    }
  }
  // Non-contiguous probabilities are made contiguous first, on both devices alike.
  Tensor p2 = rand({33, 17});
  Generator gc(5), gg(5);
  EXPECT_TRUE(test::parity_bits(bernoulli(p2.to(kCUDA).t(), &gg), bernoulli(p2.t(), &gc))) << "bernoulli(probs.t())";
  // Out-of-range probabilities are not checked on CUDA: they act as 0 and 1.
  Tensor odd = from_vector(std::vector<float>{-1.0f, 2.0f, -1.0f, 2.0f}, {4}).to(kCUDA);
  Tensor r = bernoulli(odd, &gg).to(kCPU);
  EXPECT_TRUE(test::tensors_equal(r, from_vector(std::vector<float>{0, 1, 0, 1}, {4})));
  EXPECT_TRUE(cuda::check_guards());
}

// Non-contiguous targets of uniform_ / normal_ are filled through a contiguous temporary, as on
// the CPU, so the values land at the same logical positions.
TEST(RandomCuda, InPlaceOnViews) {
  KILN_REQUIRE_GPU();
  GuardScope guard;
  Generator gc(3), gg(3);
  Tensor c = zeros({40, 30}), g = zeros({40, 30}, DType::f32, kCUDA);
  Tensor cv = c.t(), gv = g.t();
  uniform_(cv, -1, 1, &gc);
  uniform_(gv, -1, 1, &gg);
  EXPECT_TRUE(test::parity_bits(g, c)) << "uniform_ on a transposed view";
  normal_(cv, 0, 2, &gc);
  normal_(gv, 0, 2, &gg);
  EXPECT_TRUE(test::parity_bits(g, c)) << "normal_ on a transposed view";
  EXPECT_TRUE(cuda::check_guards());
}

}  // namespace
}  // namespace kiln

#endif  // KILN_HAVE_CUDA
