#include "kiln/kernels/dtype.h"

namespace kiln {
const char* dtype_name(DType d) {
  switch (d) {
    case DType::f32: return "f32";
    case DType::f64: return "f64";
    case DType::f16: return "f16";
    case DType::bf16: return "bf16";
    case DType::i64: return "i64";
    case DType::i32: return "i32";
    case DType::u8: return "u8";
    case DType::b8: return "bool";
  }
  return "?";
}
}  // namespace kiln
