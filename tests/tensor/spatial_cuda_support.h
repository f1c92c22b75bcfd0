#pragma once
// Shared helpers of the CPU-vs-CUDA tests of the spatial ops (test_interpolate_cuda.cpp,
// test_grid_sample_cuda.cpp, test_shape_ops_cuda.cpp). Include only under #if KILN_HAVE_CUDA.
//
// Tolerances (common rules of issue 3): elementwise results per element with PyTorch's defaults
// (default_tol: f32 1.3e-6 / 1e-5, f16 1e-3 / 1e-5, bf16 1.6e-2 / 1e-5); accumulated results
// (backward passes, which sum many products) by normalised squared error
// sum((gpu - cpu)^2) / sum(cpu^2) <= 1e-7 (f32), 1e-5 (f16), 1e-4 (bf16), 1e-20 (f64).
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "kiln/kernels/cuda/allocator.h"
#include "kiln/tensor/ops.h"
#include "support/cuda_test.h"
#include "support/fixtures.h"

namespace kiln::test::spatial {

// Guard mode for one test's lifetime: every CUDA allocation gets 256-byte guards.
class GuardScope {
 public:
  GuardScope() : previous_(cuda::guard_bytes()) { cuda::set_guard_bytes(256); }
  ~GuardScope() { cuda::set_guard_bytes(previous_); }
  GuardScope(const GuardScope&) = delete;
  GuardScope& operator=(const GuardScope&) = delete;

 private:
  size_t previous_;
};

inline ::testing::AssertionResult guards_intact() {
  std::string report;
  if (cuda::check_guards(&report)) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "a CUDA kernel wrote outside its buffer: " << report;
}

// Random values on the CPU (normal, f32 drawn then cast), seeded so every run sees the same data.
inline Tensor random_cpu(const Shape& shape, DType dtype, uint64_t seed) {
  Generator g(seed);
  return randn(shape, DType::f32, &g).to(dtype);
}

// Uniform values in [lo, hi) on the CPU.
inline Tensor uniform_cpu(const Shape& shape, DType dtype, double lo, double hi, uint64_t seed) {
  Generator g(seed);
  return (rand(shape, DType::f32, &g) * Scalar(hi - lo) + Scalar(lo)).to(dtype);
}

// t copied to the GPU, optionally in a non-contiguous layout.
inline Tensor on_gpu(const Tensor& t, bool noncontiguous) {
  Tensor g = t.to(kCUDA);
  return noncontiguous ? make_noncontiguous(g) : g;
}

inline double max_nse(DType d) {
  switch (d) {
    case DType::f64: return 1e-20;
    case DType::f16: return 1e-5;
    case DType::bf16: return 1e-4;
    default: return 1e-7;
  }
}

// Per-element parity (elementwise) or normalised squared error (accumulated) of a CUDA result
// against the CPU's; also checks device, dtype and shape.
inline ::testing::AssertionResult parity(const Tensor& gpu, const Tensor& cpu, bool accumulated) {
  if (!gpu.device().is_cuda()) return ::testing::AssertionFailure() << "result is on " << gpu.device();
  if (gpu.dtype() != cpu.dtype())
    return ::testing::AssertionFailure() << "dtype " << dtype_name(gpu.dtype()) << " vs " << dtype_name(cpu.dtype());
  if (gpu.shape() != cpu.shape())
    return ::testing::AssertionFailure() << "shape " << gpu.shape() << " vs " << cpu.shape();
  const Tensor host = gpu.cpu();
  if (!accumulated) {
    const Tol tol = default_tol(cpu.dtype());
    return tensors_close(host, cpu, tol.rtol, tol.atol);
  }
  const std::vector<double> a = host.to_vector<double>(), b = cpu.to_vector<double>();
  double err = 0, ref = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::isnan(a[i]) != std::isnan(b[i]))
      return ::testing::AssertionFailure() << "NaN mismatch at flat index " << i << ": " << a[i] << " vs " << b[i];
    if (std::isnan(b[i])) continue;
    err += (a[i] - b[i]) * (a[i] - b[i]);
    ref += b[i] * b[i];
  }
  const double nse = ref > 0 ? err / ref : err;
  if (nse <= max_nse(cpu.dtype())) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "normalised squared error " << nse << " above " << max_nse(cpu.dtype())
                                       << " (" << a.size() << " elements)";
}

// Bit-for-bit equality of two results (run-to-run determinism).
inline ::testing::AssertionResult bit_equal(const Tensor& a, const Tensor& b) {
  if (a.shape() != b.shape() || a.dtype() != b.dtype()) return ::testing::AssertionFailure() << "shape/dtype differ";
  const Tensor x = a.cpu().contiguous(), y = b.cpu().contiguous();
  if (x.nbytes() == 0) return ::testing::AssertionSuccess();
  if (std::memcmp(x.data_ptr(), y.data_ptr(), size_t(x.nbytes())) == 0) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "two runs differ in their bits";
}

}  // namespace kiln::test::spatial
