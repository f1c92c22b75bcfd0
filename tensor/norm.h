#pragma once
// (filled by the norm work)
#include "kiln/tensor/tensor.h"
