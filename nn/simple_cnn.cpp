#include "kiln/nn/simple_cnn.h"

#include "kiln/nn/layers.h"
#include "kiln/nn/pool.h"

namespace kiln::nn {

std::shared_ptr<Sequential> simple_cnn(const std::vector<int64_t>& actns, std::vector<int64_t> kernel_szs,
                                       std::vector<int64_t> strides, bool bn) {
  KILN_CHECK(actns.size() >= 2, "simple_cnn: needs at least 2 activation sizes, got ", actns.size());
  const size_t n = actns.size() - 1;
  if (kernel_szs.empty()) kernel_szs.assign(n, 3);
  if (strides.empty()) strides.assign(n, 2);
  KILN_CHECK(kernel_szs.size() == n && strides.size() == n, "simple_cnn: ", n, " layers but ", kernel_szs.size(),
             " kernel sizes and ", strides.size(), " strides");
  auto m = std::make_shared<Sequential>();
  for (size_t i = 0; i < n; ++i) {
    ConvLayerOptions o;
    o.ks = kernel_szs[i];
    o.stride = strides[i];
    o.norm_type = bn && i < n - 1 ? NormType::batch : NormType::none;
    m->push_back(std::make_shared<ConvLayer>(actns[i], actns[i + 1], o));
  }
  m->push_back(std::make_shared<AdaptiveAvgPool2d>(1));
  m->push_back(std::make_shared<Flatten>());
  return m;
}

}  // namespace kiln::nn
