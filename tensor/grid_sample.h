#pragma once
// (filled by the grid_sample work)
#include "kiln/tensor/tensor.h"
