#pragma once
// Shared by the CPU-vs-CUDA parity tests of the reductions and softmax
// (test_reduce_cuda.cpp, test_softmax_cuda.cpp). Include only under #if KILN_HAVE_CUDA.
#include <cmath>
#include <cstring>
#include <string>

#include "kiln/kernels/cuda/allocator.h"
#include "support/cuda_test.h"
#include "support/op_table.h"

// In their own namespace: other CUDA test files of the binary may define helpers of the same names.
namespace kiln::test::reduce_cuda {

// Guard mode for the scope of a test: every CUDA allocation gets 256 guard bytes on both sides.
struct GuardScope {
  GuardScope() { cuda::set_guard_bytes(256); }
  ~GuardScope() { cuda::set_guard_bytes(0); }
};

inline ::testing::AssertionResult guards_ok() {
  std::string why;
  if (cuda::check_guards(&why)) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "guard region overwritten: " << why;
}

// Normalised squared error sum (got - want)^2 / sum want^2 (absolute when want is all zero);
// non-finite expected values must be matched exactly (NaN by NaN, inf by the same inf).
inline ::testing::AssertionResult close_nse(const Tensor& got_dev, const Tensor& want, double tol) {
  const Tensor got = got_dev.cpu();
  if (got.shape() != want.shape())
    return ::testing::AssertionFailure() << "shape " << got.shape() << " != " << want.shape();
  if (got.dtype() != want.dtype())
    return ::testing::AssertionFailure() << "dtype " << dtype_name(got.dtype()) << " != " << dtype_name(want.dtype());
  const auto a = got.to_vector<double>();
  const auto e = want.to_vector<double>();
  double num = 0, den = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    if (!std::isfinite(e[i]) || !std::isfinite(a[i])) {
      const bool same = (std::isnan(a[i]) && std::isnan(e[i])) || a[i] == e[i];
      if (!same) return ::testing::AssertionFailure() << "element " << i << ": got " << a[i] << ", want " << e[i];
      continue;
    }
    num += (a[i] - e[i]) * (a[i] - e[i]);
    den += e[i] * e[i];
  }
  const double err = den > 0 ? num / den : num;
  if (err <= tol) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "normalised squared error " << err << " > " << tol;
}

// Reduction tolerance per dtype (normalised squared error); integers and bool exact.
inline double reduce_tol(DType d) {
  switch (d) {
    case DType::f32: return 1e-7;
    case DType::f64: return 1e-20;
    case DType::f16: return 1e-5;
    case DType::bf16: return 1e-4;
    default: return 0;
  }
}

// Elementwise tolerance per dtype (PyTorch's defaults); integers and bool exact.
inline Tol elementwise_tol(DType d) {
  switch (d) {
    case DType::f32: return {1.3e-6, 1e-5};
    case DType::f64: return {1e-7, 1e-7};
    case DType::f16: return {1e-3, 1e-5};
    case DType::bf16: return {1.6e-2, 1e-5};
    default: return {0, 0};
  }
}

inline ::testing::AssertionResult close_elementwise(const Tensor& got_dev, const Tensor& want) {
  const Tensor got = got_dev.cpu();
  if (got.dtype() != want.dtype())
    return ::testing::AssertionFailure() << "dtype " << dtype_name(got.dtype()) << " != " << dtype_name(want.dtype());
  const Tol t = elementwise_tol(want.dtype());
  return tensors_close(got, want, t.rtol, t.atol);
}

// Bit equality of two results (run-twice determinism).
inline bool same_bits(const Tensor& a_dev, const Tensor& b_dev) {
  const Tensor a = a_dev.cpu().contiguous(), b = b_dev.cpu().contiguous();
  return a.shape() == b.shape() && a.dtype() == b.dtype() &&
         std::memcmp(a.data_ptr(), b.data_ptr(), size_t(a.nbytes())) == 0;
}

}  // namespace kiln::test::reduce_cuda
