#pragma once
// (filled by the reduce work)
#include "kiln/tensor/tensor.h"
