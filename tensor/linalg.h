#pragma once
// (filled by the linalg work)
#include "kiln/tensor/tensor.h"
