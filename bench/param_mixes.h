#pragma once
// Realistic parameter-size mixes for optimizer benchmarks (bench/compare/compare_optim.cpp on the
// CPU, bench/cuda/bench_optim_cuda.cpp on the GPU): a model's parameter tensors as a list of
// element counts whose sum lands near a target total, so a multi-tensor step sees the spread of
// tensor sizes a real model has (many small vectors beside a few large matrices).
#include <cstdint>
#include <string>
#include <vector>

namespace kiln::bench {

// The parameter shapes of kiln's xresnet50 (convolution kernels, batch-norm weights and biases, the
// classifier: 167 tensors), each scaled by total / (xresnet50's count) and rounded (at least 1).
std::vector<int64_t> resnet50_sizes(int64_t total);

// GPT-style: a token embedding (vocab x d) and a position embedding (1024 x d), then whole layers
// (qkv weight and bias, projection, two MLP matrices and their biases, two layer norms) until the
// total is reached. d and vocab grow with the total (d = 768, vocab = 50257 at 125M: GPT-2 small).
std::vector<int64_t> transformer_sizes(int64_t total);

// The mixes by name, for tables and command lines.
inline const std::vector<std::string>& param_mix_names() {
  static const std::vector<std::string> names{"resnet50", "transformer"};
  return names;
}
// resnet50_sizes or transformer_sizes by name; throws kiln::Error for an unknown name.
std::vector<int64_t> param_mix_sizes(const std::string& mix, int64_t total);

// Sum of a size list.
int64_t param_count(const std::vector<int64_t>& sizes);

// "1M", "25M", "125M": a total rounded down to millions, for table labels.
std::string param_count_label(int64_t n);

}  // namespace kiln::bench
