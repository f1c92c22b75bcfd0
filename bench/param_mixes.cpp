// Size mixes shared by the CPU and GPU optimizer benchmarks (see param_mixes.h). The ResNet-50 mix
// is read off the real architecture rather than a copied table, so it follows kiln's xresnet50.
#include "param_mixes.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "kiln/kernels/error.h"
#include "kiln/nn/init.h"
#include "kiln/nn/xresnet.h"

namespace kiln::bench {

std::vector<int64_t> resnet50_sizes(int64_t total) {
  std::vector<int64_t> base;
  {
    // Only the shapes are needed: skip the random initialisation of 25M weights.
    nn::init::SkipInitGuard skip;
    auto model = nn::xresnet50();
    for (const auto& p : model->parameters()) base.push_back(p.numel());
  }
  const int64_t sum = param_count(base);
  std::vector<int64_t> out;
  out.reserve(base.size());
  for (int64_t n : base)
    out.push_back(std::max<int64_t>(1, std::llround(double(n) * double(total) / double(sum))));
  return out;
}

std::vector<int64_t> transformer_sizes(int64_t total) {
  // d, layers and vocabulary chosen so the total lands near the target (GPT-2 small at 125M).
  const int64_t d = total <= 2'000'000 ? 128 : total <= 40'000'000 ? 512 : 768;
  const int64_t vocab = total <= 2'000'000 ? 1000 : total <= 40'000'000 ? 8000 : 50257;
  std::vector<int64_t> out{vocab * d, 1024 * d};
  int64_t sum = out[0] + out[1];
  while (sum < total) {
    for (int64_t n : {3 * d * d, 3 * d, d * d, d, 4 * d * d, 4 * d, 4 * d * d, d, d, d, d, d}) {
      out.push_back(n);
      sum += n;
    }
  }
  return out;
}

std::vector<int64_t> param_mix_sizes(const std::string& mix, int64_t total) {
  if (mix == "resnet50") return resnet50_sizes(total);
  if (mix == "transformer") return transformer_sizes(total);
  KILN_FAIL("param_mix_sizes: unknown mix '", mix, "' (resnet50 or transformer)");
}

int64_t param_count(const std::vector<int64_t>& sizes) {
  int64_t sum = 0;
  for (int64_t n : sizes) sum += n;
  return sum;
}

std::string param_count_label(int64_t n) {
  char b[32];
  std::snprintf(b, sizeof b, "%lldM", (long long)(n / 1'000'000));
  return b;
}

}  // namespace kiln::bench
