#pragma once
// Helpers of the CPU-vs-CUDA tests of the vendor-backed ops (test_linalg_cuda.cpp,
// test_conv_cuda.cpp): guard mode for the scope of a test, the normalised squared error of a CUDA
// result against the CPU one, and per-dtype bounds for it. Include only under #if KILN_HAVE_CUDA.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "kiln/kernels/cuda/allocator.h"
#include "kiln/tensor/ops.h"
#include "support/cuda_test.h"
#include "support/op_table.h"

namespace kiln::test {

// Guard regions around every CUDA allocation made in the scope (Note [Caching allocator]).
struct GuardScope {
  GuardScope() { cuda::set_guard_bytes(256); }
  ~GuardScope() { cuda::set_guard_bytes(0); }
};

inline ::testing::AssertionResult guards_ok() {
  std::string report;
  if (cuda::check_guards(&report)) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "CUDA guard region overwritten: " << report;
}

// sum((got - want)^2) / max(sum(want^2), tiny): 0 for equal tensors (both empty included).
inline double normalised_sq_error(const Tensor& got, const Tensor& want) {
  const std::vector<double> g = got.to_vector<double>(), w = want.to_vector<double>();
  double num = 0, den = 0;
  for (size_t i = 0; i < g.size() && i < w.size(); ++i) {
    num += (g[i] - w[i]) * (g[i] - w[i]);
    den += w[i] * w[i];
  }
  return num / std::max(den, 1e-30);
}

// Bounds for products and convolutions computed in a different order on the two devices: f32 as
// the issue states (TF32 off), 16-bit types a few units of their last place squared.
inline double nse_bound(DType d) {
  switch (d) {
    case DType::f64: return 1e-20;
    case DType::f32: return 1e-7;
    case DType::f16: return 1e-5;
    case DType::bf16: return 3e-4;
    default: return 0;  // integers: exact
  }
}

// The CUDA result matches the CPU one: same shape, dtype, and within nse_bound (exact for integers).
inline ::testing::AssertionResult parity(const Tensor& cuda_out, const Tensor& cpu_out, const std::string& what) {
  if (!cuda_out.device().is_cuda())
    return ::testing::AssertionFailure() << what << ": result is not on the GPU";
  if (cuda_out.shape() != cpu_out.shape())
    return ::testing::AssertionFailure() << what << ": shape " << cuda_out.shape() << " vs CPU " << cpu_out.shape();
  if (cuda_out.dtype() != cpu_out.dtype())
    return ::testing::AssertionFailure() << what << ": dtype " << dtype_name(cuda_out.dtype()) << " vs CPU "
                                         << dtype_name(cpu_out.dtype());
  const Tensor got = cuda_out.cpu();
  if (!is_floating(cpu_out.dtype())) {
    const std::vector<int64_t> g = got.to_vector<int64_t>(), w = cpu_out.to_vector<int64_t>();
    for (size_t i = 0; i < g.size(); ++i)
      if (g[i] != w[i]) return ::testing::AssertionFailure() << what << "[" << i << "]: " << g[i] << " vs CPU " << w[i];
    return ::testing::AssertionSuccess();
  }
  const double e = normalised_sq_error(got, cpu_out);
  if (e <= nse_bound(cpu_out.dtype())) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << what << " (" << dtype_name(cpu_out.dtype())
                                       << "): normalised squared error " << e << " > " << nse_bound(cpu_out.dtype());
}

// Bit-identical (two runs of the same op on the GPU).
inline bool bit_identical(const Tensor& a, const Tensor& b) {
  const Tensor x = a.cpu().contiguous(), y = b.cpu().contiguous();
  return x.nbytes() == y.nbytes() && std::memcmp(x.data_ptr(), y.data_ptr(), size_t(x.nbytes())) == 0;
}

}  // namespace kiln::test
