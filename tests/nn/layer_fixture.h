#pragma once
// Support for the golden layer tests: tests/fixtures/nn_layers.safetensors, written by
// tools/golden/gen_nn_layers.py (see its docstring for the key scheme), and other fixtures with the
// same scheme (`file`, e.g. "nn_reparam").
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "kiln/nn/module.h"
#include "support/fixtures.h"

namespace kiln::test {

const std::map<std::string, Tensor>& nn_fixture(const std::string& file = "nn_layers");
// fixture["<name>/<key>"]; fails the test (throws) if absent.
Tensor fx(const std::string& name, const std::string& key, const std::string& file = "nn_layers");
bool fx_has(const std::string& name, const std::string& key, const std::string& file = "nn_layers");
// The state dict stored for case `name` (keys "<name>/p/<param>" with the prefix removed).
std::vector<std::pair<std::string, Tensor>> fx_state(const std::string& name, const std::string& file = "nn_layers");

// Loads case `name`'s state into m (strict), runs y = m(x) in m's current mode with x requiring
// grad (when floating), backpropagates (y * r).sum() and compares y, dx, the parameter gradients and
// the buffers after the forward with the fixture.
void check_module_case(nn::Module& m, const std::string& name, double rtol = 1e-5, double atol = 1e-5,
                       const std::string& file = "nn_layers");

}  // namespace kiln::test
