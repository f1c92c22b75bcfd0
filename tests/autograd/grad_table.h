#pragma once
// Gradient-check rows (DESIGN.md section 6): one row per differentiable op, checked by
// test_gradcheck.cpp with ag::gradcheck in float64 on contiguous and non-contiguous inputs.
//
//   static test::GradRegistrar reg({ GradRow{"mul", {{{3, 4}, {3, 4}}, {{3, 1}, {1, 4}}, ...},
//                                            [](const std::vector<Tensor>& x) { return ag::mul(x[0], x[1]); }} });
//
// `name` must be the op's name in ag::differentiable_ops(); a meta-test fails for any listed op
// without a row of >= 5 cases. Inputs are made like the op table's (support/op_table.h): f64,
// random in each input's domain, or by the row's own `make` (index tensors etc.). Every floating
// input requires grad unless `wrt` lists the inputs to differentiate.
#include <functional>
#include <string>
#include <vector>

#include "kiln/autograd/ops.h"
#include "support/op_table.h"

namespace kiln::test {

struct GradRow {
  std::string name;
  std::vector<std::vector<Shape>> cases;
  std::function<Tensor(const std::vector<Tensor>&)> run;
  std::vector<Domain> domains = {};
  // Custom input maker: (case shapes, seed) -> inputs (floating ones f64).
  std::function<std::vector<Tensor>(const std::vector<Shape>&, uint64_t)> make = nullptr;
  std::vector<int> wrt = {};  // inputs to check; empty = every floating input
  bool check_noncontiguous = true;
  ag::GradcheckOptions opt = {};
};

std::vector<GradRow>& grad_table();
struct GradRegistrar {
  explicit GradRegistrar(std::vector<GradRow> rows);
};

}  // namespace kiln::test
