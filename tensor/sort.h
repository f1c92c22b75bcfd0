#pragma once
// (filled by the sort work)
#include "kiln/tensor/tensor.h"
