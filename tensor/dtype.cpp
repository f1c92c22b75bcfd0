#include "kiln/tensor/dtype.h"

namespace kiln {
namespace {
// Rank within the promotion lattice; f16 and bf16 share a rank and meet at f32.
int rank(DType d) {
  switch (d) {
    case DType::b8: return 0;
    case DType::u8: return 1;
    case DType::i32: return 2;
    case DType::i64: return 3;
    case DType::f16: return 4;
    case DType::bf16: return 4;
    case DType::f32: return 5;
    case DType::f64: return 6;
  }
  return 0;
}
int category(DType d) { return d == DType::b8 ? 0 : is_floating(d) ? 2 : 1; }
}  // namespace

DType promote_types(DType a, DType b) {
  if (a == b) return a;
  if ((a == DType::f16 && b == DType::bf16) || (a == DType::bf16 && b == DType::f16)) return DType::f32;
  return rank(a) >= rank(b) ? a : b;
}

DType promote_with_scalar(DType t, const Scalar& s) {
  int sc = s.is_floating() ? 2 : s.is_integral() ? 1 : 0;
  if (sc <= category(t)) return t;
  return s.default_dtype();
}

}  // namespace kiln
