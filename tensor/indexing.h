#pragma once
// (filled by the indexing work)
#include "kiln/tensor/tensor.h"
