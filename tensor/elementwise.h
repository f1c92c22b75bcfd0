#pragma once
// (filled by the elementwise work)
#include "kiln/tensor/tensor.h"
