#pragma once
// (filled by the interpolate work)
#include "kiln/tensor/tensor.h"
