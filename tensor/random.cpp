// Random tensors: validation, offset bookkeeping and the device switch. The samplers are in
// kernels/cpu/random.cpp (Note [Philox streams] in kernels/philox.h).
#include "kiln/tensor/random.h"

#include <climits>
#include <cmath>
#include <cstdint>

#include "kiln/kernels/cpu/random.h"
#include "kiln/kernels/cuda/stream.h"
#include "kiln/kernels/philox.h"
#include "kiln/tensor/creation.h"
#include "kiln/tensor/iterator.h"
#if KILN_HAVE_CUDA
#include "kiln/kernels/cuda/random.h"
#include "kiln/kernels/cuda/runtime.h"
#endif

namespace kiln {
namespace {

Generator& gen_or_default(Generator* g) { return g ? *g : default_generator(); }

void check_floating_dtype(DType d, const char* op) {
  KILN_CHECK(is_floating(d), op, ": expects a floating dtype, got ", dtype_name(d));
}

// Reserves the blocks of a call of n elements with w words each; returns (seed, start offset).
struct Stream {
  uint64_t seed, offset;
};
Stream reserve(Generator* g, int64_t n, uint32_t words) {
  Generator& gen = gen_or_default(g);
  uint64_t seed = gen.seed();
  return {seed, gen.advance(philox_blocks(uint64_t(n), words))};
}

// Fills a contiguous tensor t (of any device) with a sampler over n elements: cpu_fill(ptr) on the
// CPU, cuda_fill(ptr, stream) on CUDA.
template <class F, class G>
void fill_random(Tensor& t, const char* op, F&& cpu_fill, G&& cuda_fill) {
  switch (t.device().type) {
    case DeviceType::CPU: cpu_fill(t.data_ptr()); break;
    case DeviceType::CUDA:
#if KILN_HAVE_CUDA
      cuda_fill(t.data_ptr(), cuda::prepare(t.device().index));
      break;
#else
      (void)cuda_fill;
#endif
      unsupported_device(op, t.device());
  }
}

// Writes a freshly sampled contiguous tensor into t (t may be a non-contiguous view).
Tensor& write_into(Tensor& t, const Tensor& values) {
  if (values.is_same(t)) return t;
  t.copy_(values);
  return t;
}

}  // namespace

Generator& default_generator() {
  static Generator g;
  return g;
}

void manual_seed(uint64_t seed) { default_generator().manual_seed(seed); }

Tensor rand(const Shape& shape, DType dtype, Generator* gen, Device device) {
  check_floating_dtype(dtype, "rand");
  Tensor t = empty(shape, dtype, device);
  return uniform_(t, 0.0, 1.0, gen);
}

Tensor randn(const Shape& shape, DType dtype, Generator* gen, Device device) {
  check_floating_dtype(dtype, "randn");
  Tensor t = empty(shape, dtype, device);
  return normal_(t, 0.0, 1.0, gen);
}

Tensor normal(double mean, double std, const Shape& shape, DType dtype, Generator* gen, Device device) {
  check_floating_dtype(dtype, "normal");
  Tensor t = empty(shape, dtype, device);
  return normal_(t, mean, std, gen);
}

Tensor& uniform_(Tensor& t, double lo, double hi, Generator* gen) {
  check_defined(t, "uniform_", "t");
  check_floating_dtype(t.dtype(), "uniform_");
  KILN_CHECK(std::isfinite(lo) && std::isfinite(hi) && lo <= hi, "uniform_: needs finite lo <= hi, got lo ", lo,
             ", hi ", hi);
  check_writable(t, "uniform_");
  Tensor dst = t.is_contiguous() ? t : empty(t.shape(), t.dtype(), t.device());
  const int64_t n = t.numel();
  Stream s = reserve(gen, n, cpu::uniform_words(t.dtype()));
  fill_random(
      dst, "uniform_", [&](void* p) { cpu::random_uniform(t.dtype(), p, n, s.seed, s.offset, lo, hi); },
      [&](void* p, cuda::Stream cs) {
#if KILN_HAVE_CUDA
        cuda::random_uniform(t.dtype(), p, n, s.seed, s.offset, lo, hi, cs);
#endif
      });
  write_into(t, dst);
  t.bump_version();
  return t;
}

Tensor& normal_(Tensor& t, double mean, double std, Generator* gen) {
  check_defined(t, "normal_", "t");
  check_floating_dtype(t.dtype(), "normal_");
  KILN_CHECK(std::isfinite(mean) && std::isfinite(std) && std >= 0, "normal_: needs finite mean and std >= 0, got mean ",
             mean, ", std ", std);
  check_writable(t, "normal_");
  Tensor dst = t.is_contiguous() ? t : empty(t.shape(), t.dtype(), t.device());
  const int64_t n = t.numel();
  Stream s = reserve(gen, n, cpu::normal_words(t.dtype()));
  fill_random(
      dst, "normal_", [&](void* p) { cpu::random_normal(t.dtype(), p, n, s.seed, s.offset, mean, std); },
      [&](void* p, cuda::Stream cs) {
#if KILN_HAVE_CUDA
        cuda::random_normal(t.dtype(), p, n, s.seed, s.offset, mean, std, cs);
#endif
      });
  write_into(t, dst);
  t.bump_version();
  return t;
}

Tensor randint(int64_t low, int64_t high, const Shape& shape, DType dtype, Generator* gen, Device device) {
  KILN_CHECK(low < high, "randint: needs low < high, got low ", low, ", high ", high);
  KILN_CHECK(dtype != DType::b8, "randint: bool dtype is not supported");
  if (dtype == DType::u8 || dtype == DType::i32) {
    const int64_t lo = dtype == DType::u8 ? 0 : INT32_MIN, hi = dtype == DType::u8 ? 255 : INT32_MAX;
    KILN_CHECK(low >= lo && high - 1 <= hi, "randint: range [", low, ", ", high, ") does not fit dtype ",
               dtype_name(dtype));
  }
  Tensor t = empty(shape, dtype, device);
  const int64_t n = t.numel();
  const uint64_t range = uint64_t(high) - uint64_t(low);
  Stream s = reserve(gen, n, cpu::randint_words(range));
  fill_random(
      t, "randint", [&](void* p) { cpu::random_int(dtype, p, n, s.seed, s.offset, low, range); },
      [&](void* p, cuda::Stream cs) {
#if KILN_HAVE_CUDA
        cuda::random_int(dtype, p, n, s.seed, s.offset, low, range, cs);
#endif
      });
  return t;
}

Tensor randperm(int64_t n, Generator* gen, Device device) {
  KILN_CHECK(n >= 0, "randperm: n must be non-negative, got ", n);
  // On the CPU on every device (a sort of n 64-bit keys), then copied.
  Tensor t = empty({n}, DType::i64);
  Stream s = reserve(gen, n, cpu::kRandpermWords);
  cpu::random_perm(t.data<int64_t>(), n, s.seed, s.offset);
  return device.is_cpu() ? t : t.to(device);
}

Tensor bernoulli(Scalar p, const Shape& shape, DType dtype, Generator* gen, Device device) {
  double pv = p.to_double();
  KILN_CHECK(pv >= 0 && pv <= 1, "bernoulli: p must be in [0, 1], got ", pv);
  Tensor t = empty(shape, dtype, device);
  const int64_t n = t.numel();
  Stream s = reserve(gen, n, cpu::kBernoulliWords);
  fill_random(
      t, "bernoulli", [&](void* ptr) { cpu::random_threshold(dtype, ptr, n, s.seed, s.offset, pv, 1.0, 0.0); },
      [&](void* ptr, cuda::Stream cs) {
#if KILN_HAVE_CUDA
        cuda::random_threshold(dtype, ptr, n, s.seed, s.offset, pv, 1.0, 0.0, cs);
#endif
      });
  return t;
}

Tensor bernoulli(const Tensor& probs, Generator* gen) {
  check_defined(probs, "bernoulli", "probs");
  Tensor pr = probs.contiguous();
  const int64_t n = pr.numel();
  if (pr.device().is_cpu() && n > 0) {
    Tensor pd = pr.to(DType::f64);
    const double* v = pd.data<double>();
    for (int64_t i = 0; i < n; ++i)
      KILN_CHECK(v[i] >= 0 && v[i] <= 1, "bernoulli: probabilities must be in [0, 1], got ", v[i], " at flat index ", i);
  }
  Tensor t = empty(pr.shape(), pr.dtype(), pr.device());
  Stream s = reserve(gen, n, cpu::kBernoulliWords);
  fill_random(
      t, "bernoulli",
      [&](void* ptr) { cpu::random_bernoulli_tensor(t.dtype(), ptr, pr.dtype(), pr.data_ptr(), n, s.seed, s.offset); },
      [&](void* ptr, cuda::Stream cs) {
#if KILN_HAVE_CUDA
        // Not checked on the device (see random.h): a check would cost a host synchronisation.
        cuda::random_bernoulli_tensor(t.dtype(), ptr, pr.data_ptr(), n, s.seed, s.offset, cs);
#endif
      });
  return t;
}

Tensor dropout_mask(const Shape& shape, double p, Generator* gen, DType dtype, Device device) {
  KILN_CHECK(p >= 0 && p < 1, "dropout_mask: p must be in [0, 1), got ", p);
  check_floating_dtype(dtype, "dropout_mask");
  Tensor t = empty(shape, dtype, device);
  const int64_t n = t.numel();
  Stream s = reserve(gen, n, cpu::kBernoulliWords);
  const double scale = 1.0 / (1.0 - p);
  fill_random(
      t, "dropout_mask", [&](void* ptr) { cpu::random_threshold(dtype, ptr, n, s.seed, s.offset, p, 0.0, scale); },
      [&](void* ptr, cuda::Stream cs) {
#if KILN_HAVE_CUDA
        cuda::random_threshold(dtype, ptr, n, s.seed, s.offset, p, 0.0, scale, cs);
#endif
      });
  return t;
}

}  // namespace kiln
