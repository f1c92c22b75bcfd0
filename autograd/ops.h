#pragma once
// Everything of the autograd layer in one include: the graph, backward, grad mode, gradcheck and
// the differentiable ops (kiln::ag::<name>, same names and arguments as the raw tensor ops).
#include "kiln/autograd/backward.h"
#include "kiln/autograd/grad_mode.h"
#include "kiln/autograd/gradcheck.h"
#include "kiln/autograd/node.h"
#include "kiln/autograd/sum_to.h"
