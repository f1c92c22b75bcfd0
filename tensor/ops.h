#pragma once
// Everything of the tensor layer in one include.
#include "kiln/tensor/creation.h"
#include "kiln/tensor/tensor.h"
