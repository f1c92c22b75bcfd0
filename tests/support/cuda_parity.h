#pragma once
// CPU-vs-CUDA parity helpers shared by every CUDA test (include only under #if KILN_HAVE_CUDA):
// guard mode for a scope and the guard check, the per-dtype bounds of issue 3, the comparison of a
// CUDA result with the CPU result of the same op (within tolerances, or bit for bit), bit equality
// of two runs, and seeded inputs made on the CPU and copied to the GPU.
//
// Note [Parity tolerances]
// A CUDA result is compared with the CPU result of the same op on the same inputs:
//   integers and bools: exactly, always;
//   elementwise results: per element, |gpu - cpu| <= atol + rtol |cpu| with default_tol(dtype)
//     (PyTorch's defaults: f32 1.3e-6 / 1e-5, f16 1e-3 / 1e-5, bf16 1.6e-2 / 1e-5, f64 1e-7);
//   accumulated results (reductions, GEMM, convolutions, normalisation, backward passes that sum,
//     computed in another order on the two devices): the normalised squared error
//     sum((gpu - cpu)^2) / sum(cpu^2) <= nse_bound(dtype), the absolute sum of squares where the
//     CPU result is all zero (tests/support/fixtures.h).
// NaN must meet NaN and an infinity the same infinity in both checks. A test that needs another
// bound passes it explicitly (parity_within, parity_nse) and says why at the call site.
#include <gtest/gtest.h>

#include <cstring>
#include <string>

#include "kiln/kernels/cuda/allocator.h"
#include "kiln/tensor/ops.h"
#include "support/cuda_test.h"
#include "support/fixtures.h"

namespace kiln::test {

// Guard mode for a scope: every CUDA allocation made while it lives gets 256-byte guard regions
// (Note [Caching allocator]); the previous setting comes back at its end.
class GuardScope {
 public:
  GuardScope() : previous_(cuda::guard_bytes()) { cuda::set_guard_bytes(256); }
  ~GuardScope() { cuda::set_guard_bytes(previous_); }
  GuardScope(const GuardScope&) = delete;
  GuardScope& operator=(const GuardScope&) = delete;

 private:
  size_t previous_;
};

// Success when no guard region was overwritten; the allocator's report otherwise.
inline ::testing::AssertionResult guards_intact() {
  std::string report;
  if (cuda::check_guards(&report)) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "a CUDA kernel wrote outside its buffer: " << report;
}

// The normalised squared error bound of accumulated results; 0 (exact) for integers and bools.
inline double nse_bound(DType d) {
  switch (d) {
    case DType::f64: return 1e-20;
    case DType::f32: return 1e-7;
    case DType::f16: return 1e-5;
    case DType::bf16: return 1e-4;
    default: return 0;
  }
}

// The checks every comparison starts with: the result is on the GPU, of the CPU result's dtype.
inline ::testing::AssertionResult same_kind(const Tensor& gpu, const Tensor& cpu) {
  if (!gpu.defined() || !cpu.defined()) return ::testing::AssertionFailure() << "undefined tensor";
  if (!gpu.device().is_cuda())
    return ::testing::AssertionFailure() << "the result is on " << gpu.device() << ", not CUDA";
  if (gpu.dtype() != cpu.dtype())
    return ::testing::AssertionFailure() << "dtype " << dtype_name(gpu.dtype()) << " on CUDA, "
                                         << dtype_name(cpu.dtype()) << " on the CPU";
  return ::testing::AssertionSuccess();
}

// Per element within an explicit tolerance (Tol{0, 0}: equal values); also shape, dtype, device.
inline ::testing::AssertionResult parity_within(const Tensor& gpu, const Tensor& cpu, Tol tol) {
  ::testing::AssertionResult kind = same_kind(gpu, cpu);
  if (!kind) return kind;
  if (!is_floating(cpu.dtype())) tol = {0, 0};
  return tensors_close(gpu.cpu(), cpu, tol.rtol, tol.atol);
}

// Normalised squared error within an explicit bound (integers and bools exactly).
inline ::testing::AssertionResult parity_nse(const Tensor& gpu, const Tensor& cpu, double max_nse) {
  ::testing::AssertionResult kind = same_kind(gpu, cpu);
  if (!kind) return kind;
  if (!is_floating(cpu.dtype())) return tensors_equal(gpu.cpu(), cpu);
  return tensors_nse_close(gpu.cpu(), cpu, max_nse);
}

// The CUDA result `gpu` against the CPU result `cpu` by Note [Parity tolerances].
inline ::testing::AssertionResult parity(const Tensor& gpu, const Tensor& cpu, bool accumulated) {
  if (accumulated) return parity_nse(gpu, cpu, nse_bound(cpu.dtype()));
  return parity_within(gpu, cpu, default_tol(cpu.dtype()));
}

// The same shape, dtype and bytes, element by element, NaN payloads and -0.0 included (two runs of
// an op that must be deterministic; either tensor may be on either device). A failure names the
// first element that differs.
inline ::testing::AssertionResult bit_identical(const Tensor& a, const Tensor& b) {
  if (a.shape() != b.shape() || a.dtype() != b.dtype())
    return ::testing::AssertionFailure() << "shape / dtype differ: " << a.shape() << " " << dtype_name(a.dtype())
                                         << " vs " << b.shape() << " " << dtype_name(b.dtype());
  const Tensor x = a.cpu().contiguous(), y = b.cpu().contiguous();
  const auto* px = static_cast<const unsigned char*>(x.data_ptr());
  const auto* py = static_cast<const unsigned char*>(y.data_ptr());
  const size_t es = size_t(x.element_size());
  for (int64_t i = 0; i < x.numel(); ++i)
    if (std::memcmp(px + size_t(i) * es, py + size_t(i) * es, es) != 0)
      return ::testing::AssertionFailure() << "element " << i << " of " << x.numel()
                                           << " differs in its bits: " << x.reshape({-1}).select(0, i).item<double>()
                                           << " vs " << y.reshape({-1}).select(0, i).item<double>();
  return ::testing::AssertionSuccess();
}

// The CUDA result bit for bit equal to the CPU result (ops that only move values, or that
// accumulate in the CPU's order).
inline ::testing::AssertionResult parity_bits(const Tensor& gpu, const Tensor& cpu) {
  ::testing::AssertionResult kind = same_kind(gpu, cpu);
  if (!kind) return kind;
  return bit_identical(gpu, cpu);
}

// Inputs: seeded random values made on the CPU (normal, drawn in f32 then cast; uniform in
// [lo, hi)), and a copy on the GPU, optionally non-contiguous (an undefined tensor stays undefined).
inline Tensor random_cpu(const Shape& shape, DType dtype, uint64_t seed) {
  Generator g(seed);
  return randn(shape, DType::f32, &g).to(dtype);
}
inline Tensor uniform_cpu(const Shape& shape, DType dtype, double lo, double hi, uint64_t seed) {
  Generator g(seed);
  return (rand(shape, DType::f32, &g) * Scalar(hi - lo) + Scalar(lo)).to(dtype);
}
inline Tensor on_gpu(const Tensor& t, bool noncontiguous = false) {
  if (!t.defined()) return Tensor();
  Tensor g = t.to(kCUDA);
  return noncontiguous ? make_noncontiguous(g) : g;
}

}  // namespace kiln::test
