#pragma once
// (filled by the conv work)
#include "kiln/tensor/tensor.h"
