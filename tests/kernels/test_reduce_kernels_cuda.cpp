// CPU-vs-CUDA parity of the reduction, arg-reduction, scan and softmax kernels themselves
// (kernels/cuda/reduce.h, softmax.h against kernels/cpu/reduce.h, softmax.h) on raw device buffers
// with guard regions (tests/support/cuda_test.h), so that a kernel fault is told apart from a fault
// of the tensor layer. Layouts: row, column, split, single-chunk and two-pass. Skips without a GPU.
#if KILN_HAVE_CUDA
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "kiln/kernels/cpu/reduce.h"
#include "kiln/kernels/cpu/softmax.h"
#include "kiln/kernels/cuda/reduce.h"
#include "kiln/kernels/cuda/softmax.h"
#include "support/cuda_test.h"

namespace kiln::test {
namespace {

using Bytes = std::vector<unsigned char>;

// n random elements of dtype d: floats uniform in (lo, hi), integers in [-5, 5] (u8: [0, 10]), bools.
Bytes random_bytes(DType d, size_t n, uint64_t seed, double lo = -3, double hi = 3) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> u(lo, hi);
  std::uniform_int_distribution<int> k(-5, 5);
  Bytes b(n * size_t(dtype_size(d)));
  dispatch_dtype(d, [&](auto tag) {
    using T = decltype(tag);
    T* p = reinterpret_cast<T*>(b.data());
    for (size_t i = 0; i < n; ++i) {
      if constexpr (std::is_same_v<T, bool>)
        p[i] = k(rng) > 0;
      else if constexpr (std::is_same_v<T, uint8_t>)
        p[i] = uint8_t(k(rng) + 5);
      else if constexpr (std::is_integral_v<T>)
        p[i] = T(k(rng));
      else
        p[i] = T(compute_t<T>(u(rng)));
    }
  });
  return b;
}

std::vector<double> doubles(const Bytes& b, DType d) {
  std::vector<double> v(b.size() / size_t(dtype_size(d)));
  dispatch_dtype(d, [&](auto tag) {
    using T = decltype(tag);
    const T* p = reinterpret_cast<const T*>(b.data());
    for (size_t i = 0; i < v.size(); ++i) v[i] = double(compute_t<T>(p[i]));
  });
  return v;
}

// Normalised squared error, non-finite values matched exactly; tol 0 means bit-equal values.
::testing::AssertionResult close(const std::vector<double>& got, const std::vector<double>& want, double tol) {
  if (got.size() != want.size()) return ::testing::AssertionFailure() << "sizes " << got.size() << " " << want.size();
  double num = 0, den = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    if (!std::isfinite(want[i]) || !std::isfinite(got[i])) {
      if (!((std::isnan(got[i]) && std::isnan(want[i])) || got[i] == want[i]))
        return ::testing::AssertionFailure() << "element " << i << ": got " << got[i] << " want " << want[i];
      continue;
    }
    num += (got[i] - want[i]) * (got[i] - want[i]);
    den += want[i] * want[i];
  }
  const double err = den > 0 ? num / den : num;
  if (err <= tol) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "normalised squared error " << err << " > " << tol;
}

double tol_of(DType d) {
  return d == DType::f32 ? 1e-7 : d == DType::f64 ? 1e-20 : d == DType::f16 ? 1e-5 : d == DType::bf16 ? 1e-4 : 0;
}

DeviceBuffer<unsigned char> upload(const Bytes& b) { return DeviceBuffer<unsigned char>(b); }

using cpu::ReduceKind;

struct KindCase {
  ReduceKind kind;
  double p;
  double correction;
  bool floating_only;
};
const std::vector<KindCase> kKinds = {
    {ReduceKind::sum, 2, 1, false},   {ReduceKind::mean, 2, 1, true},     {ReduceKind::max, 2, 1, false},
    {ReduceKind::min, 2, 1, false},   {ReduceKind::any, 2, 1, false},     {ReduceKind::all, 2, 1, false},
    {ReduceKind::norm, 2, 1, true},   {ReduceKind::norm, 1, 1, true},     {ReduceKind::norm, INFINITY, 1, true},
    {ReduceKind::norm, 3, 1, true},   {ReduceKind::logsumexp, 2, 1, true}, {ReduceKind::var, 2, 1, true},
    {ReduceKind::std, 2, 0, true},    {ReduceKind::prod, 2, 1, false},
};

// One reduce (or reduce_split) on both devices; also checks aux (the mean) for var/std.
void check_reduce(const KindCase& k, DType dt, bool split, int64_t n0, int64_t n1, int64_t n2, uint64_t seed) {
  SCOPED_TRACE(::testing::Message() << "kind " << int(k.kind) << " p " << k.p << " " << dtype_name(dt)
                                    << (split ? " split " : " ") << n0 << "x" << n1 << "x" << n2);
  const size_t n = size_t(n0 * n1 * n2);
  const bool is_prod = k.kind == ReduceKind::prod;
  const Bytes x = is_prod && is_floating(dt) ? random_bytes(dt, n, seed, 0.95, 1.05) : random_bytes(dt, n, seed);
  const int64_t outputs = split ? n1 : n0 * n2;
  const DType od = cpu::reduce_out_dtype(k.kind, dt);
  Bytes y(size_t(outputs * dtype_size(od))), aux(size_t(outputs * dtype_size(dt)));
  cpu::ReduceParams params;
  params.p = k.p;
  params.correction = k.correction;
  const bool want_aux = k.kind == ReduceKind::var || k.kind == ReduceKind::std;
  if (split)
    cpu::reduce_split(k.kind, dt, x.data(), n0, n1, n2, y.data(), want_aux ? aux.data() : nullptr, params);
  else
    cpu::reduce(k.kind, dt, x.data(), n0, n1, n2, y.data(), want_aux ? aux.data() : nullptr, params);
  auto xd = upload(x);
  DeviceBuffer<unsigned char> yd(y.size()), auxd(aux.size());
  if (split)
    cuda::reduce_split(k.kind, dt, xd.data(), n0, n1, n2, yd.data(), want_aux ? auxd.data() : nullptr, params, nullptr);
  else
    cuda::reduce(k.kind, dt, xd.data(), n0, n1, n2, yd.data(), want_aux ? auxd.data() : nullptr, params, nullptr);
  EXPECT_TRUE(close(doubles(yd.download(), od), doubles(y, od), tol_of(od)));
  if (want_aux) EXPECT_TRUE(close(doubles(auxd.download(), dt), doubles(aux, dt), tol_of(dt)));
  EXPECT_TRUE(xd.guards_intact());
  EXPECT_TRUE(yd.guards_intact());
  EXPECT_TRUE(auxd.guards_intact());
}

struct Shape3 {
  int64_t n0, n1, n2;
};

TEST(ReduceKernelsCuda, RowsColumnsSplit) {
  KILN_REQUIRE_GPU();
  const std::vector<Shape3> layouts = {{1, 1, 1},     {3, 7, 1},       {2, 0, 3},     {257, 513, 1}, {513, 257, 3},
                                       {1, 1000003, 1}, {1, 1000003, 3}, {2, 70001, 1}, {3, 4099, 1},  {5, 7, 11},
                                       {3, 2000, 5},  {1000, 1, 1}};
  const std::vector<Shape3> splits = {{5, 7, 11}, {300, 2, 3000}, {64, 40, 30}, {1000, 3, 1}, {0, 3, 4}};
  uint64_t seed = 1;
  for (DType dt : {DType::f32, DType::f64, DType::f16, DType::bf16, DType::i32, DType::i64, DType::u8, DType::b8}) {
    for (const KindCase& k : kKinds) {
      if (k.floating_only && !is_floating(dt)) continue;
      for (const Shape3& s : layouts) {
        if ((k.kind == ReduceKind::max || k.kind == ReduceKind::min) && s.n1 == 0) continue;  // no identity
        if (k.kind == ReduceKind::prod && !is_floating(dt) && s.n0 * s.n1 * s.n2 > 4096) continue;
        check_reduce(k, dt, false, s.n0, s.n1, s.n2, seed++);
      }
      for (const Shape3& s : splits) {
        if ((k.kind == ReduceKind::max || k.kind == ReduceKind::min) && s.n0 * s.n2 == 0) continue;
        if (k.kind == ReduceKind::prod && !is_floating(dt) && s.n0 * s.n1 * s.n2 > 4096) continue;
        check_reduce(k, dt, true, s.n0, s.n1, s.n2, seed++);
      }
    }
  }
}

TEST(ReduceKernelsCuda, ArgReduce) {
  KILN_REQUIRE_GPU();
  const std::vector<Shape3> layouts = {{1, 1, 1}, {3, 7, 1}, {257, 513, 1}, {1, 300007, 1}, {1, 1000003, 3}, {5, 7, 11}};
  uint64_t seed = 50;
  for (DType dt : {DType::f32, DType::f64, DType::f16, DType::bf16, DType::i32, DType::i64, DType::u8, DType::b8}) {
    for (const Shape3& s : layouts) {
      Bytes x = random_bytes(dt, size_t(s.n0 * s.n1 * s.n2), seed++, -2, 2);
      if (is_floating(dt)) {
        // Few distinct values (ties) and a few NaNs.
        dispatch_dtype(dt, [&](auto tag) {
          using T = decltype(tag);
          if constexpr (std::is_floating_point_v<compute_t<T>>) {
            T* p = reinterpret_cast<T*>(x.data());
            const size_t n = x.size() / sizeof(T);
            for (size_t i = 0; i < n; ++i) p[i] = T(compute_t<T>(std::round(double(compute_t<T>(p[i])))));
            if (n > 100) p[n / 3] = p[n / 2] = T(compute_t<T>(NAN));
          }
        });
      }
      for (bool is_max : {true, false}) {
        SCOPED_TRACE(::testing::Message() << dtype_name(dt) << " " << s.n0 << "x" << s.n1 << "x" << s.n2 << " max "
                                          << is_max);
        const size_t outputs = size_t(s.n0 * s.n2);
        Bytes v(outputs * size_t(dtype_size(dt)));
        std::vector<int64_t> idx(outputs);
        cpu::reduce_arg(is_max, dt, x.data(), s.n0, s.n1, s.n2, v.data(), idx.data());
        auto xd = upload(x);
        DeviceBuffer<unsigned char> vd(v.size());
        DeviceBuffer<int64_t> idxd(outputs);
        cuda::reduce_arg(is_max, dt, xd.data(), s.n0, s.n1, s.n2, vd.data(), idxd.data(), nullptr);
        EXPECT_EQ(idxd.download(), idx);
        EXPECT_TRUE(close(doubles(vd.download(), dt), doubles(v, dt), 0));
        EXPECT_TRUE(vd.guards_intact());
        EXPECT_TRUE(idxd.guards_intact());
      }
    }
  }
}

TEST(ReduceKernelsCuda, Scan) {
  KILN_REQUIRE_GPU();
  const std::vector<Shape3> layouts = {{1, 1, 1},   {3, 7, 1},      {1, 1048579, 1}, {2, 8193, 1},
                                       {257, 513, 1}, {1, 1000003, 3}, {5, 7, 11},      {4, 5000, 2}};
  uint64_t seed = 80;
  for (DType dt : {DType::f32, DType::f64, DType::f16, DType::bf16, DType::i32, DType::i64, DType::u8, DType::b8}) {
    for (const Shape3& s : layouts) {
      for (bool prod : {false, true}) {
        const size_t n = size_t(s.n0 * s.n1 * s.n2);
        if (prod && n > 300000) continue;
        SCOPED_TRACE(::testing::Message() << dtype_name(dt) << " " << s.n0 << "x" << s.n1 << "x" << s.n2 << " prod "
                                          << prod);
        const Bytes x = prod && is_floating(dt) ? random_bytes(dt, n, seed++, 0.99, 1.01) : random_bytes(dt, n, seed++);
        const DType od = is_floating(dt) ? dt : DType::i64;
        Bytes y(n * size_t(dtype_size(od)));
        cpu::scan(prod, dt, x.data(), s.n0, s.n1, s.n2, y.data());
        auto xd = upload(x);
        DeviceBuffer<unsigned char> yd(y.size());
        cuda::scan(prod, dt, xd.data(), s.n0, s.n1, s.n2, yd.data(), nullptr);
        EXPECT_TRUE(close(doubles(yd.download(), od), doubles(y, od), tol_of(od)));
        EXPECT_TRUE(yd.guards_intact());
      }
    }
  }
}

TEST(ReduceKernelsCuda, Softmax) {
  KILN_REQUIRE_GPU();
  const std::vector<Shape3> layouts = {{5, 1, 1},   {3, 7, 1},   {33, 1024, 1}, {4, 4097, 1},
                                       {2, 100000, 1}, {3, 7, 5}, {4, 4097, 3},   {2, 1000, 33}};
  uint64_t seed = 120;
  for (DType dt : {DType::f32, DType::f64}) {
    for (const Shape3& s : layouts) {
      for (bool log : {false, true}) {
        SCOPED_TRACE(::testing::Message() << dtype_name(dt) << " " << s.n0 << "x" << s.n1 << "x" << s.n2 << " log "
                                          << log);
        const size_t n = size_t(s.n0 * s.n1 * s.n2);
        const Bytes x = random_bytes(dt, n, seed++, -8, 8), dy = random_bytes(dt, n, seed++);
        Bytes y(x.size()), dx(x.size());
        cpu::softmax_forward(dt, x.data(), y.data(), s.n0, s.n1, s.n2, log);
        cpu::softmax_backward(dt, dy.data(), y.data(), dx.data(), s.n0, s.n1, s.n2, log);
        auto xd = upload(x), dyd = upload(dy), yin = upload(y);
        DeviceBuffer<unsigned char> yd(y.size()), dxd(dx.size());
        cuda::softmax_forward(dt, xd.data(), yd.data(), s.n0, s.n1, s.n2, log, nullptr);
        cuda::softmax_backward(dt, dyd.data(), yin.data(), dxd.data(), s.n0, s.n1, s.n2, log, nullptr);
        EXPECT_TRUE(close(doubles(yd.download(), dt), doubles(y, dt), dt == DType::f32 ? 1e-12 : 1e-24));
        EXPECT_TRUE(close(doubles(dxd.download(), dt), doubles(dx, dt), tol_of(dt)));
        EXPECT_TRUE(yd.guards_intact());
        EXPECT_TRUE(dxd.guards_intact());
      }
    }
  }
}

}  // namespace
}  // namespace kiln::test
#endif  // KILN_HAVE_CUDA
