#pragma once
// Tensor creation (deterministic). Random creation is in random.h.
#include <initializer_list>
#include <vector>

#include "kiln/tensor/tensor.h"

namespace kiln {

Tensor empty(const Shape& shape, DType dtype = DType::f32, Device device = kCPU);
Tensor zeros(const Shape& shape, DType dtype = DType::f32, Device device = kCPU);
Tensor ones(const Shape& shape, DType dtype = DType::f32, Device device = kCPU);
Tensor full(const Shape& shape, Scalar value, DType dtype = DType::f32, Device device = kCPU);
Tensor empty_like(const Tensor& t);
Tensor zeros_like(const Tensor& t);
Tensor ones_like(const Tensor& t);
Tensor full_like(const Tensor& t, Scalar value);
// 0-d tensor holding value (dtype defaults to the scalar's default dtype: f32, i64 or bool).
Tensor scalar_tensor(Scalar value, DType dtype, Device device = kCPU);
Tensor scalar_tensor(Scalar value);

// Copies host values into a new tensor of the given shape (numel must match; dtype from T).
template <class T>
Tensor from_vector(const std::vector<T>& values, const Shape& shape, Device device = kCPU);
// Copies n values of dtype `dtype` from host memory.
Tensor from_blob(const void* data, const Shape& shape, DType dtype, Device device = kCPU);
// Literals: tensor({1, 2, 3}) and tensor({{1, 2}, {3, 4}}), as f32 unless a dtype is given.
Tensor tensor(std::initializer_list<double> values, DType dtype = DType::f32);
Tensor tensor(std::initializer_list<std::initializer_list<double>> rows, DType dtype = DType::f32);

// [start, end) with step (non-zero); integral dtypes use exact integer steps.
Tensor arange(Scalar start, Scalar end, Scalar step = 1, DType dtype = DType::f32, Device device = kCPU);
Tensor arange(Scalar end, DType dtype = DType::f32, Device device = kCPU);
// steps values from start to end inclusive.
Tensor linspace(double start, double end, int64_t steps, DType dtype = DType::f32, Device device = kCPU);
// n x m identity (m = n when negative).
Tensor eye(int64_t n, int64_t m = -1, DType dtype = DType::f32, Device device = kCPU);

}  // namespace kiln
