// flip, tril / triu and pad (every mode) on CUDA against the CPU: exact equality (they only move or
// zero elements), every element size (bool / u8, f16 / bf16, f32 / i32, f64 / i64), shapes with 0,
// 1, primes, non-contiguous inputs; guard mode on. Skips without a GPU.
#if KILN_HAVE_CUDA
#include <sstream>

#include "support/cuda_parity.h"

namespace kiln::test {
namespace {

const DType kDtypes[] = {DType::f32, DType::f64, DType::f16, DType::bf16, DType::i64, DType::i32, DType::u8, DType::b8};

// Random values of any dtype (small integers for the integer types, a mix of true / false for bool).
Tensor values(const Shape& shape, DType d, uint64_t seed) { return (random_cpu(shape, DType::f32, seed) * 4).to(d); }

// The same values on the GPU, non-contiguous when asked (a transposed copy transposed back).
Tensor gpu_copy(const Tensor& t, bool noncontiguous) {
  Tensor g = t.to(kCUDA);
  if (!noncontiguous || t.dim() < 2) return noncontiguous ? make_noncontiguous(g) : g;
  return g.transpose(0, t.dim() - 1).contiguous().transpose(0, t.dim() - 1);
}

std::string dims_str(const std::vector<int64_t>& v) {
  std::ostringstream os;
  for (int64_t d : v) os << d << ",";
  return os.str();
}

TEST(ShapeOpsCuda, FlipMatchesCpu) {
  KILN_REQUIRE_GPU();
  GuardScope guard;
  struct Case {
    Shape shape;
    std::vector<int64_t> dims;
  };
  const Case cases[] = {{{0}, {0}},          {{1}, {0}},           {{7}, {0}},           {{3, 5}, {0}},
                        {{3, 5}, {1}},       {{3, 5}, {0, 1}},     {{2, 3, 4}, {-1}},    {{2, 3, 4}, {0, 2}},
                        {{4, 1, 5, 6}, {1}}, {{4, 1, 5, 6}, {3, 0, 2}}, {{2, 0, 3}, {1}}, {{5, 3}, {}},
                        {{2, 3, 5, 7, 3}, {0, 1, 2, 3, 4}}};
  uint64_t seed = 1;
  for (DType d : kDtypes)
    for (const Case& c : cases)
      for (bool nc : {false, true}) {
        SCOPED_TRACE(std::string(dtype_name(d)) + " dims " + dims_str(c.dims) + (nc ? " noncontig" : ""));
        const Tensor x = values(c.shape, d, seed++);
        EXPECT_TRUE(parity_within(flip(gpu_copy(x, nc), c.dims), flip(x, c.dims), {0, 0}));
        ASSERT_TRUE(guards_intact());
      }
}

TEST(ShapeOpsCuda, TriangleMatchesCpu) {
  KILN_REQUIRE_GPU();
  GuardScope guard;
  const Shape shapes[] = {{1, 1}, {5, 7}, {7, 5}, {3, 4, 6}, {2, 0, 3}, {2, 3, 1, 9}, {33, 65}};
  uint64_t seed = 100;
  for (DType d : kDtypes)
    for (const Shape& s : shapes)
      for (int64_t k : {-10, -2, -1, 0, 1, 3, 10})
        for (bool nc : {false, true}) {
          SCOPED_TRACE(std::string(dtype_name(d)) + " k " + std::to_string(k) + (nc ? " noncontig" : ""));
          const Tensor x = values(s, d, seed++);
          const Tensor xg = gpu_copy(x, nc);
          EXPECT_TRUE(parity_within(tril(xg, k), tril(x, k), {0, 0}));
          EXPECT_TRUE(parity_within(triu(xg, k), triu(x, k), {0, 0}));
          ASSERT_TRUE(guards_intact());
        }
}

TEST(ShapeOpsCuda, PadMatchesCpu) {
  KILN_REQUIRE_GPU();
  GuardScope guard;
  struct Case {
    Shape shape;
    std::vector<int64_t> pads;
  };
  // Pads valid for every mode (reflect needs pads < size, circular pads <= size).
  const Case cases[] = {{{1, 7}, {2, 3}},
                        {{2, 3, 5, 7}, {1, 2}},
                        {{2, 3, 5, 7}, {2, 1, 1, 3}},
                        {{2, 3, 5, 7}, {0, 0, 4, 0}},
                        {{3, 4, 5, 6}, {1, 1, 2, 0, 1, 1}},
                        {{1, 1, 2, 2}, {1, 1, 1, 1}},
                        {{0, 3, 4}, {1, 2}},
                        {{4, 9}, {8, 8}},
                        {{2, 2, 2, 2, 3}, {1, 1, 1, 1, 1, 1, 1, 1}}};
  const PadMode modes[] = {PadMode::constant, PadMode::reflect, PadMode::replicate, PadMode::circular};
  uint64_t seed = 200;
  for (PadMode m : modes)
    for (DType d : kDtypes)
      for (const Case& c : cases)
        for (bool nc : {false, true}) {
          const Tensor x = values(c.shape, d, seed++);
          // Skip what the CPU refuses for this mode (reflect pads must be below the size).
          bool ok = true;
          for (size_t j = 0; j < c.pads.size(); ++j)
            if (m == PadMode::reflect && c.pads[j] >= c.shape[c.shape.size() - 1 - int(j / 2)]) ok = false;
          if (!ok) continue;
          SCOPED_TRACE(std::string(dtype_name(d)) + " mode " + std::to_string(int(m)) + " pads " + dims_str(c.pads) +
                       (nc ? " noncontig" : ""));
          EXPECT_TRUE(parity_within(pad(gpu_copy(x, nc), c.pads, m, 1.0), pad(x, c.pads, m, 1.0), {0, 0}));
          ASSERT_TRUE(guards_intact());
        }
}

TEST(ShapeOpsCuda, ConstantPadCropsLikeCpu) {
  KILN_REQUIRE_GPU();
  GuardScope guard;
  const Tensor x = values({2, 3, 6, 5}, DType::f32, 300);
  for (const std::vector<int64_t>& pads : {std::vector<int64_t>{-1, 2}, {1, -2, -3, 2}, {-2, -3}})
    EXPECT_TRUE(
        parity_within(pad(x.to(kCUDA), pads, PadMode::constant, -2.5), pad(x, pads, PadMode::constant, -2.5), {0, 0}));
  EXPECT_TRUE(guards_intact());
}

}  // namespace
}  // namespace kiln::test
#endif  // KILN_HAVE_CUDA
