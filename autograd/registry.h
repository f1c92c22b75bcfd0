#pragma once
// The names of every differentiable op, so a test can insist that each has a gradient-check row.
// Each area lists its own ops in its own source file (one list per file keeps merges simple);
// differentiable_ops() concatenates them. Adding a differentiable op means adding its name here.
#include <string>
#include <vector>

namespace kiln::ag {

std::vector<std::string> elementwise_op_names();  // elementwise.cpp (+ operators)
std::vector<std::string> reduce_op_names();       // reduce.cpp
std::vector<std::string> nn_op_names();           // linalg, conv, pool, norm, softmax, interpolate, grid_sample, dropout
std::vector<std::string> shape_op_names();        // views, shape ops, indexing

std::vector<std::string> differentiable_ops();

}  // namespace kiln::ag
