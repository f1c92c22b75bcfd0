#pragma once
// CPU-vs-CUDA comparison helpers of test_norm_cuda.cpp and test_pool_cuda.cpp: guard mode for the
// duration of a test, closeness per dtype (elementwise rtol / atol, and the normalised squared
// error for results that come out of reductions), and bit equality of two runs. Include only under
// #if KILN_HAVE_CUDA.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <sstream>
#include <string>
#include <vector>

#include "kiln/kernels/cuda/allocator.h"
#include "kiln/tensor/ops.h"
#include "support/cuda_test.h"
#include "support/op_table.h"

// In their own namespace: other CUDA test files of the binary may define helpers of the same names.
namespace kiln::test::norm_pool {

// Guard regions around every CUDA allocation made while it lives (Note [Caching allocator]).
struct GuardScope {
  GuardScope() { cuda::set_guard_bytes(256); }
  ~GuardScope() { cuda::set_guard_bytes(0); }
};

inline void expect_guards_intact(const std::string& what) {
  std::string report;
  EXPECT_TRUE(cuda::check_guards(&report)) << what << ": " << report;
}

struct ParityTol {
  double rtol, atol;
};
// PyTorch's default comparison tolerances per dtype (f32 as the elementwise ops).
inline ParityTol elementwise_tol(DType d) {
  switch (d) {
    case DType::f64: return {1e-12, 1e-14};
    case DType::f16: return {1e-3, 1e-5};
    case DType::bf16: return {1.6e-2, 1e-5};
    default: return {1.3e-6, 1e-5};
  }
}
// Results computed through reductions in another order: the elementwise check is loosened for
// f32 / f64 (the normalised squared error, expect_nse, is the tight check there).
inline ParityTol reduction_tol(DType d) {
  switch (d) {
    case DType::f64: return {1e-9, 1e-11};
    case DType::f16: return {2e-3, 1e-4};
    case DType::bf16: return {1.6e-2, 1e-3};
    default: return {1e-4, 1e-5};
  }
}
inline double nse_bound(DType d) {
  switch (d) {
    case DType::f64: return 1e-20;
    case DType::f16: return 1e-5;
    case DType::bf16: return 3e-4;
    default: return 1e-7;
  }
}

// got (a CUDA tensor) against ref (the CPU result): same shape and dtype, NaN where ref has NaN,
// |got - ref| <= atol + rtol |ref| elsewhere (the first few failures are printed).
inline void expect_close(const Tensor& ref, const Tensor& got, ParityTol tol, const std::string& what) {
  ASSERT_TRUE(got.device().is_cuda()) << what << ": result is on " << got.device();
  ASSERT_EQ(got.shape(), ref.shape()) << what;
  ASSERT_EQ(got.dtype(), ref.dtype()) << what;
  const std::vector<double> r = ref.to_vector<double>(), g = got.cpu().to_vector<double>();
  int bad = 0;
  for (size_t i = 0; i < r.size(); ++i) {
    const bool ok = std::isnan(r[i]) ? std::isnan(g[i]) : std::abs(g[i] - r[i]) <= tol.atol + tol.rtol * std::abs(r[i]);
    if (!ok && ++bad <= 5) ADD_FAILURE() << what << ": element " << i << " cuda " << g[i] << " cpu " << r[i];
  }
  EXPECT_EQ(bad, 0) << what << ": " << bad << " of " << r.size() << " elements differ";
}

// sum (got - ref)^2 / sum ref^2 <= bound (NaN-free inputs).
inline void expect_nse(const Tensor& ref, const Tensor& got, double bound, const std::string& what) {
  ASSERT_EQ(got.shape(), ref.shape()) << what;
  const std::vector<double> r = ref.to_vector<double>(), g = got.cpu().to_vector<double>();
  double num = 0, den = 0;
  for (size_t i = 0; i < r.size(); ++i) {
    num += (g[i] - r[i]) * (g[i] - r[i]);
    den += r[i] * r[i];
  }
  if (den == 0) den = 1;
  EXPECT_LE(num / den, bound) << what;
}

// Both checks, for outputs of reductions.
inline void expect_reduced_close(const Tensor& ref, const Tensor& got, const std::string& what) {
  expect_close(ref, got, reduction_tol(ref.dtype()), what);
  expect_nse(ref, got, nse_bound(ref.dtype()), what);
}

// Same bytes (two runs of a deterministic op).
inline void expect_bit_equal(const Tensor& a, const Tensor& b, const std::string& what) {
  const Tensor x = a.cpu().contiguous(), y = b.cpu().contiguous();
  ASSERT_EQ(x.shape(), y.shape()) << what;
  ASSERT_EQ(x.dtype(), y.dtype()) << what;
  EXPECT_EQ(std::memcmp(x.data_ptr(), y.data_ptr(), size_t(x.nbytes())), 0) << what << ": runs differ";
}

inline Tensor to_cuda(const Tensor& t) { return t.defined() ? t.to(kCUDA) : Tensor(); }

inline std::string shape_str(const Shape& s) {
  std::ostringstream os;
  os << s;
  return os.str();
}

}  // namespace kiln::test::norm_pool
