#include <gtest/gtest.h>

#include "kiln/nn/module.h"
