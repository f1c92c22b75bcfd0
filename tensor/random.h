#pragma once
// (filled by the random work)
#include "kiln/tensor/tensor.h"
