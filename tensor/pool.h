#pragma once
// (filled by the pool work)
#include "kiln/tensor/tensor.h"
