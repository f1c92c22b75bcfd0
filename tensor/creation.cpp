#include "kiln/tensor/creation.h"

#include <cmath>

#include "kiln/kernels/convert.h"
#include "kiln/kernels/cpu/copy.h"
#if KILN_HAVE_CUDA
#include "kiln/kernels/cuda/elementwise.h"
#include "kiln/kernels/cuda/runtime.h"
#endif

namespace kiln {
namespace {

void check_shape(const Shape& shape, const char* op) {
  for (int64_t s : shape) KILN_CHECK(s >= 0, op, ": negative size ", s, " in shape ", shape);
}

void fill_tensor(Tensor& t, Scalar v, const char* op) {
  if (t.numel() == 0) return;
  if (t.device().is_cpu()) {
    cpu::fill(t.dtype(), t.data_ptr(), t.numel(), v.to_double(), v.to_int());
    return;
  }
#if KILN_HAVE_CUDA
  if (t.device().type == DeviceType::CUDA) {
    cuda::fill(t.dtype(), t.data_ptr(), t.numel(), v.to_double(), v.to_int(), cuda::prepare(t.device().index));
    return;
  }
#endif
  unsupported_device(op, t.device());
}

}  // namespace

Tensor empty(const Shape& shape, DType dtype, Device device) {
  check_shape(shape, "empty");
  auto st = std::make_shared<Storage>(size_t(shape.numel()) * dtype_size(dtype), device);
  return Tensor(std::move(st), shape, contiguous_strides(shape), 0, dtype);
}

Tensor full(const Shape& shape, Scalar value, DType dtype, Device device) {
  Tensor t = empty(shape, dtype, device);
  fill_tensor(t, value, "full");
  return t;
}
Tensor zeros(const Shape& shape, DType dtype, Device device) { return full(shape, Scalar(int64_t(0)), dtype, device); }
Tensor ones(const Shape& shape, DType dtype, Device device) { return full(shape, Scalar(int64_t(1)), dtype, device); }
Tensor empty_like(const Tensor& t) { return empty(t.shape(), t.dtype(), t.device()); }
Tensor zeros_like(const Tensor& t) { return zeros(t.shape(), t.dtype(), t.device()); }
Tensor ones_like(const Tensor& t) { return ones(t.shape(), t.dtype(), t.device()); }
Tensor full_like(const Tensor& t, Scalar v) { return full(t.shape(), v, t.dtype(), t.device()); }
Tensor scalar_tensor(Scalar v, DType dtype, Device device) { return full(Shape{}, v, dtype, device); }
Tensor scalar_tensor(Scalar v) { return scalar_tensor(v, v.default_dtype()); }

Tensor from_blob(const void* data, const Shape& shape, DType dtype, Device device) {
  check_shape(shape, "from_blob");
  Tensor cpu_t = empty(shape, dtype, kCPU);
  if (cpu_t.numel() > 0) {
    KILN_CHECK(data != nullptr, "from_blob: null data pointer for ", cpu_t.numel(), " elements");
    std::memcpy(cpu_t.data_ptr(), data, size_t(cpu_t.nbytes()));
  }
  return cpu_t.to(device);
}

template <class T>
Tensor from_vector(const std::vector<T>& values, const Shape& shape, Device device) {
  KILN_CHECK(int64_t(values.size()) == shape.numel(), "from_vector: ", values.size(), " values for shape ", shape,
             " (", shape.numel(), " elements)");
  if constexpr (std::is_same_v<T, bool>) {
    std::vector<uint8_t> bytes(values.begin(), values.end());
    return from_blob(bytes.data(), shape, DType::b8, device);
  } else {
    return from_blob(values.data(), shape, dtype_of<T>(), device);
  }
}
template Tensor from_vector<float>(const std::vector<float>&, const Shape&, Device);
template Tensor from_vector<double>(const std::vector<double>&, const Shape&, Device);
template Tensor from_vector<Half>(const std::vector<Half>&, const Shape&, Device);
template Tensor from_vector<BFloat16>(const std::vector<BFloat16>&, const Shape&, Device);
template Tensor from_vector<int64_t>(const std::vector<int64_t>&, const Shape&, Device);
template Tensor from_vector<int32_t>(const std::vector<int32_t>&, const Shape&, Device);
template Tensor from_vector<uint8_t>(const std::vector<uint8_t>&, const Shape&, Device);
template Tensor from_vector<bool>(const std::vector<bool>&, const Shape&, Device);

Tensor tensor(std::initializer_list<double> values, DType dtype) {
  std::vector<double> v(values);
  return from_vector(v, Shape{int64_t(v.size())}).to(dtype);
}

Tensor tensor(std::initializer_list<std::initializer_list<double>> rows, DType dtype) {
  std::vector<double> v;
  int64_t cols = rows.size() ? int64_t(rows.begin()->size()) : 0;
  for (auto& r : rows) {
    KILN_CHECK(int64_t(r.size()) == cols, "tensor: ragged rows (", r.size(), " values in a row, expected ", cols, ")");
    v.insert(v.end(), r.begin(), r.end());
  }
  return from_vector(v, Shape{int64_t(rows.size()), cols}).to(dtype);
}

Tensor arange(Scalar start, Scalar end, Scalar step, DType dtype, Device device) {
  double s = start.to_double(), e = end.to_double(), st = step.to_double();
  KILN_CHECK(st != 0, "arange: step must be non-zero");
  KILN_CHECK(std::isfinite(s) && std::isfinite(e) && std::isfinite(st), "arange: start ", s, ", end ", e,
             " and step ", st, " must be finite");
  KILN_CHECK((st > 0 && e >= s) || (st < 0 && e <= s), "arange: end ", e, " cannot be reached from start ", s,
             " with step ", st);
  int64_t n;
  bool integral = start.is_integral() && end.is_integral() && step.is_integral();
  if (integral) {
    int64_t a = start.to_int(), b = end.to_int(), c = step.to_int();
    n = c > 0 ? (b - a + c - 1) / c : (a - b - c - 1) / (-c);
  } else {
    n = int64_t(std::ceil((e - s) / st));
  }
  Tensor t = empty({n}, dtype, kCPU);
  dispatch_dtype(dtype, [&](auto tag) {
    using T = decltype(tag);
    T* p = t.data<T>();
    for (int64_t i = 0; i < n; ++i) {
      if (integral)
        p[i] = convert<T>(start.to_int() + i * step.to_int());
      else
        p[i] = convert<T>(s + double(i) * st);
    }
  });
  return t.to(device);
}

Tensor arange(Scalar end, DType dtype, Device device) { return arange(Scalar(int64_t(0)), end, Scalar(int64_t(1)), dtype, device); }

Tensor linspace(double start, double end, int64_t steps, DType dtype, Device device) {
  KILN_CHECK(steps >= 0, "linspace: steps must be non-negative, got ", steps);
  Tensor t = empty({steps}, dtype, kCPU);
  double step = steps > 1 ? (end - start) / double(steps - 1) : 0.0;
  int64_t half = steps / 2;
  dispatch_dtype(dtype, [&](auto tag) {
    using T = decltype(tag);
    T* p = t.data<T>();
    // Symmetric evaluation (from both ends) so the last value is exactly `end`.
    for (int64_t i = 0; i < steps; ++i)
      p[i] = convert<T>(i < half ? start + step * double(i) : end - step * double(steps - 1 - i));
  });
  return t.to(device);
}

Tensor eye(int64_t n, int64_t m, DType dtype, Device device) {
  if (m < 0) m = n;
  KILN_CHECK(n >= 0, "eye: n must be non-negative, got ", n);
  Tensor t = zeros({n, m}, dtype, kCPU);
  dispatch_dtype(dtype, [&](auto tag) {
    using T = decltype(tag);
    T* p = t.data<T>();
    for (int64_t i = 0; i < std::min(n, m); ++i) p[i * m + i] = convert<T>(1);
  });
  return t.to(device);
}

}  // namespace kiln
