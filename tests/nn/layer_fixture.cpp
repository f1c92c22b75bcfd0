#include "layer_fixture.h"

#include "kiln/autograd/ops.h"

namespace kiln::test {

const std::map<std::string, Tensor>& nn_fixture(const std::string& file) {
  static std::map<std::string, std::map<std::string, Tensor>> cache;
  auto it = cache.find(file);
  if (it == cache.end()) it = cache.emplace(file, load_fixture(file)).first;
  return it->second;
}

Tensor fx(const std::string& name, const std::string& key, const std::string& file) {
  auto it = nn_fixture(file).find(name + "/" + key);
  KILN_CHECK(it != nn_fixture(file).end(), "fixture ", file, " has no tensor '", name, "/", key, "'");
  return it->second;
}

bool fx_has(const std::string& name, const std::string& key, const std::string& file) {
  return nn_fixture(file).count(name + "/" + key) > 0;
}

std::vector<std::pair<std::string, Tensor>> fx_state(const std::string& name, const std::string& file) {
  std::vector<std::pair<std::string, Tensor>> sd;
  const std::string prefix = name + "/p/";
  for (const auto& [k, v] : nn_fixture(file))
    if (k.rfind(prefix, 0) == 0) sd.emplace_back(k.substr(prefix.size()), v);
  return sd;
}

void check_module_case(nn::Module& m, const std::string& name, double rtol, double atol, const std::string& file) {
  SCOPED_TRACE("case " + name);
  m.load_state_dict(fx_state(name, file));
  Tensor x = fx(name, "x", file).clone();
  if (x.is_floating_point()) ag::set_requires_grad(x);
  Tensor y = m(x);
  EXPECT_TRUE(tensors_close(y, fx(name, "y", file), rtol, atol)) << "output";
  ag::backward(ag::sum(ag::mul(y, fx(name, "r", file))));
  if (fx_has(name, "dx", file))
    EXPECT_TRUE(tensors_close(ag::grad(x), fx(name, "dx", file), rtol, atol)) << "input gradient";
  int n_grads = 0;
  for (const auto& [pn, p] : m.named_parameters()) {
    if (!fx_has(name, "g/" + pn, file)) continue;
    ++n_grads;
    ASSERT_TRUE(ag::grad(p).defined()) << "no gradient for " << pn;
    EXPECT_TRUE(tensors_close(ag::grad(p), fx(name, "g/" + pn, file), rtol, atol)) << "gradient of " << pn;
  }
  int n_buffers = 0;
  for (const auto& [bn, b] : m.named_buffers()) {
    if (!fx_has(name, "b/" + bn, file)) continue;
    ++n_buffers;
    if (b.is_floating_point())
      EXPECT_TRUE(tensors_close(b, fx(name, "b/" + bn, file), rtol, atol)) << "buffer " << bn;
    else
      EXPECT_TRUE(tensors_equal(b, fx(name, "b/" + bn, file))) << "buffer " << bn;
  }
  // every gradient and buffer of the fixture was compared (none left out by a name mismatch)
  int want_grads = 0, want_buffers = 0;
  for (const auto& [k, v] : nn_fixture(file)) {
    want_grads += k.rfind(name + "/g/", 0) == 0;
    want_buffers += k.rfind(name + "/b/", 0) == 0;
  }
  EXPECT_EQ(n_grads, want_grads) << "parameters with a fixture gradient";
  EXPECT_EQ(n_buffers, want_buffers) << "buffers with a fixture value";
}

}  // namespace kiln::test
