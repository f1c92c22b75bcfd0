#pragma once
// Builds the kernels' Loop for an elementwise op from tensors (DESIGN.md section 3: the tensor
// layer checks shapes and hands kernels raw pointers + a Loop).
#include <initializer_list>

#include "kiln/kernels/loop.h"
#include "kiln/tensor/tensor.h"

namespace kiln {

// Loop over `shape` for the operands (operand 0 is the output, whose shape must equal `shape`;
// the others must broadcast to it). Dimensions of size 1 are dropped, dimensions are ordered by
// the output's strides (outermost first) and adjacent dimensions that are contiguous for every
// operand are merged, so contiguous operands give a one-dimensional loop.
Loop make_loop(const Shape& shape, std::initializer_list<const Tensor*> operands);

// Checks that an output written in place does not have several elements sharing one memory
// location (an expanded view), naming the op.
void check_writable(const Tensor& out, const char* op);

}  // namespace kiln
