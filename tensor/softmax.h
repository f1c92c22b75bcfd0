#pragma once
// (filled by the softmax work)
#include "kiln/tensor/tensor.h"
