#include "kiln/kernels/cpu/reduce.h"

namespace kiln::cpu {

DType reduce_out_dtype(ReduceKind kind, DType d) {
  switch (kind) {
    case ReduceKind::sum:
    case ReduceKind::prod: return is_floating(d) ? d : DType::i64;
    case ReduceKind::any:
    case ReduceKind::all: return DType::b8;
    default: return d;
  }
}

}  // namespace kiln::cpu
