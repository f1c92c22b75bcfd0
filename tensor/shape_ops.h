#pragma once
// (filled by the shape_ops work)
#include "kiln/tensor/tensor.h"
