#pragma once
// dtype facts the tensor layer adds to kernels/dtype.h: type promotion (written once, here).
#include "kiln/kernels/dtype.h"
#include "kiln/kernels/error.h"

namespace kiln {

// The dtype of a binary op's result, as PyTorch: bool < u8 < i32 < i64 < (f16, bf16) < f32 < f64,
// with f16 + bf16 -> f32.
DType promote_types(DType a, DType b);

// A Python-like scalar: an op between a tensor and a scalar keeps the tensor's dtype unless the
// scalar is of a higher category (bool < integer < floating), then it takes that category's
// default (i64, f32).
struct Scalar {
  enum class Kind : uint8_t { b, i, f } kind = Kind::f;
  double f = 0;
  int64_t i = 0;
  Scalar() = default;
  Scalar(double v) : kind(Kind::f), f(v), i(int64_t(v)) {}
  Scalar(float v) : Scalar(double(v)) {}
  Scalar(int64_t v) : kind(Kind::i), f(double(v)), i(v) {}
  Scalar(int v) : Scalar(int64_t(v)) {}
  Scalar(bool v) : kind(Kind::b), f(v ? 1.0 : 0.0), i(v ? 1 : 0) {}
  bool is_floating() const { return kind == Kind::f; }
  bool is_integral() const { return kind == Kind::i; }
  bool is_bool() const { return kind == Kind::b; }
  double to_double() const { return f; }
  int64_t to_int() const { return i; }
  // The dtype a 0-dim tensor made from this scalar has by default.
  DType default_dtype() const { return kind == Kind::f ? DType::f32 : kind == Kind::i ? DType::i64 : DType::b8; }
};

DType promote_with_scalar(DType t, const Scalar& s);

}  // namespace kiln
