#include "layer_fixture.h"

#include "kiln/autograd/ops.h"

namespace kiln::test {

const std::map<std::string, Tensor>& nn_fixture() {
  static const std::map<std::string, Tensor> f = load_fixture("nn_layers");
  return f;
}

Tensor fx(const std::string& name, const std::string& key) {
  auto it = nn_fixture().find(name + "/" + key);
  KILN_CHECK(it != nn_fixture().end(), "fixture nn_layers has no tensor '", name, "/", key, "'");
  return it->second;
}

bool fx_has(const std::string& name, const std::string& key) { return nn_fixture().count(name + "/" + key) > 0; }

std::vector<std::pair<std::string, Tensor>> fx_state(const std::string& name) {
  std::vector<std::pair<std::string, Tensor>> sd;
  const std::string prefix = name + "/p/";
  for (const auto& [k, v] : nn_fixture())
    if (k.rfind(prefix, 0) == 0) sd.emplace_back(k.substr(prefix.size()), v);
  return sd;
}

void check_module_case(nn::Module& m, const std::string& name, double rtol, double atol) {
  SCOPED_TRACE("case " + name);
  m.load_state_dict(fx_state(name));
  Tensor x = fx(name, "x").clone();
  if (x.is_floating_point()) ag::set_requires_grad(x);
  Tensor y = m(x);
  EXPECT_TRUE(tensors_close(y, fx(name, "y"), rtol, atol)) << "output";
  ag::backward(ag::sum(ag::mul(y, fx(name, "r"))));
  if (fx_has(name, "dx")) EXPECT_TRUE(tensors_close(ag::grad(x), fx(name, "dx"), rtol, atol)) << "input gradient";
  for (const auto& [pn, p] : m.named_parameters()) {
    if (!fx_has(name, "g/" + pn)) continue;
    ASSERT_TRUE(ag::grad(p).defined()) << "no gradient for " << pn;
    EXPECT_TRUE(tensors_close(ag::grad(p), fx(name, "g/" + pn), rtol, atol)) << "gradient of " << pn;
  }
  for (const auto& [bn, b] : m.named_buffers()) {
    if (!fx_has(name, "b/" + bn)) continue;
    if (b.is_floating_point())
      EXPECT_TRUE(tensors_close(b, fx(name, "b/" + bn), rtol, atol)) << "buffer " << bn;
    else
      EXPECT_TRUE(tensors_equal(b, fx(name, "b/" + bn))) << "buffer " << bn;
  }
}

}  // namespace kiln::test
