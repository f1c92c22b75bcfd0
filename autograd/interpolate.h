#pragma once
// Placeholder: filled by the helper that owns this area.
#include "kiln/autograd/node.h"
