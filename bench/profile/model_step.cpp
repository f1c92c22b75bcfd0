// kiln-only model steps for profiling (perf record ./model_step simple_cnn 200): the same models and
// inputs as compare_models' kiln side, without LibTorch in the process, so a profile shows kiln alone.
//
//   model_step MODEL [ITERS] [--fwd]    MODEL: simple_cnn | xresnet18
//   model_step conv B C H W O K S P PASS [ITERS]   PASS: fwd | data | weight (one conv pass alone)
//   model_step maxpool B C H W K S P [ITERS]       max_pool2d forward (values and indices) alone
//   model_step gemm M N K [ITERS]                  one f32 matmul [M, K] x [K, N]
//
// Prints the median time of one forward + backward (or forward only with --fwd, or the one
// convolution pass) over ITERS calls.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "kiln/autograd/backward.h"
#include "kiln/nn/loss.h"
#include "kiln/nn/simple_cnn.h"
#include "kiln/nn/xresnet.h"
#include "kiln/tensor/conv.h"
#include "kiln/tensor/ops.h"
#include "kiln/tensor/pool.h"

namespace {

// Sorted times (us) of n calls of fn after three warm-up calls; before() runs untimed ahead of each.
template <class Fn, class Before = void (*)()>
std::vector<double> time_calls(int n, Fn&& fn, Before before = [] {}) {
  std::vector<double> times;
  for (int i = 0; i < n + 3; ++i) {
    before();
    const auto t0 = std::chrono::steady_clock::now();
    fn();
    const auto t1 = std::chrono::steady_clock::now();
    if (i >= 3) times.push_back(std::chrono::duration<double, std::micro>(t1 - t0).count());
  }
  std::sort(times.begin(), times.end());
  return times;
}

// argv[2 .. 2+count) as integers into v; false (after printing the usage) when too few are given.
bool int_args(int argc, char** argv, int count, const char* usage, int64_t* v) {
  if (argc < 2 + count) {
    std::fprintf(stderr, "usage: model_step %s\n", usage);
    return false;
  }
  for (int i = 0; i < count; ++i) v[i] = std::atoll(argv[2 + i]);
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  namespace knn = kiln::nn;
  if (argc < 2) {
    std::fprintf(stderr, "usage: model_step simple_cnn|xresnet18 [ITERS] [--fwd]\n");
    return 2;
  }
  const std::string model = argv[1];
  if (model == "gemm") {
    int64_t v[3];
    if (!int_args(argc, argv, 3, "gemm M N K [ITERS]", v)) return 2;
    const int64_t M = v[0], N = v[1], K = v[2];
    const int n = argc > 5 ? std::atoi(argv[5]) : 20;
    kiln::Generator g(1);
    const kiln::Tensor a = kiln::randn({M, K}, kiln::DType::f32, &g), b = kiln::randn({K, N}, kiln::DType::f32, &g);
    const std::vector<double> times = time_calls(n, [&] { kiln::matmul(a, b); });
    std::printf("gemm: median %.1f us (min %.1f) over %d calls (%.1f GFLOP/s at the min)\n", times[times.size() / 2],
                times[0], n, 2.0 * double(M * N * K) / times[0] / 1e3);
    return 0;
  }
  if (model == "maxpool") {
    int64_t v[7];
    if (!int_args(argc, argv, 7, "maxpool B C H W K S P [ITERS]", v)) return 2;
    const int n = argc > 9 ? std::atoi(argv[9]) : 200;
    kiln::Generator g(1);
    const kiln::Tensor x = kiln::randn({v[0], v[1], v[2], v[3]}, kiln::DType::f32, &g);
    const std::vector<double> times = time_calls(n, [&] { kiln::max_pool2d(x, {v[4], v[4]}, {v[5], v[5]}, {v[6], v[6]}); });
    std::printf("maxpool: median %.1f us (min %.1f) over %d calls\n", times[times.size() / 2], times[0], n);
    return 0;
  }
  if (model == "conv") {
    int64_t v[9];  // v[8] is the PASS word, read below as a string
    if (!int_args(argc, argv, 9, "conv B C H W O K S P fwd|data|weight [ITERS]", v)) return 2;
    const std::string pass = argv[10];
    const int n = argc > 11 ? std::atoi(argv[11]) : 200;
    const int64_t B = v[0], C = v[1], H = v[2], W = v[3], O = v[4], K = v[5], S = v[6], P = v[7];
    const int64_t OH = (H + 2 * P - K) / S + 1, OW = (W + 2 * P - K) / S + 1;
    kiln::Generator g(1);
    const kiln::Tensor x = kiln::randn({B, C, H, W}, kiln::DType::f32, &g);
    const kiln::Tensor w = kiln::randn({O, C, K, K}, kiln::DType::f32, &g);
    const kiln::Tensor dy = kiln::randn({B, O, OH, OW}, kiln::DType::f32, &g);
    const std::vector<double> times = time_calls(n, [&] {
      if (pass == "fwd") kiln::conv2d(x, w, kiln::Tensor(), S, P);
      else if (pass == "data") kiln::conv2d_backward_data(dy, w, x.shape(), S, P);
      else kiln::conv2d_backward_weight(dy, x, w.shape(), S, P);
    });
    std::printf("conv %s: median %.1f us (min %.1f) over %d calls (%.1f GFLOP/s)\n", pass.c_str(), times[times.size() / 2], times[0], n,
                2.0 * double(B * O * OH * OW * C * K * K) / times[times.size() / 2] / 1e3);
    return 0;
  }
  const int iters = argc > 2 ? std::atoi(argv[2]) : 100;
  const bool fwd_only = argc > 3 && std::string(argv[3]) == "--fwd";
  std::shared_ptr<knn::Module> m;
  kiln::Shape shape;
  int64_t classes = 2;
  if (model == "simple_cnn") {
    m = knn::simple_cnn({1, 8, 16, 32, 2}, {}, {}, true);
    shape = {64, 1, 28, 28};
  } else if (model == "xresnet18") {
    m = knn::xresnet18(10, 3);
    shape = {64, 3, 64, 64};
    classes = 10;
  } else {
    std::fprintf(stderr, "model_step: unknown model '%s' (simple_cnn or xresnet18)\n", model.c_str());
    return 2;
  }
  kiln::Generator g(1);
  const kiln::Tensor x = kiln::randn(shape, kiln::DType::f32, &g);
  const kiln::Tensor y = kiln::randint(0, classes, {shape[0]}, kiln::DType::i64, &g);
  const std::vector<double> times = time_calls(
      iters,
      [&] {
        kiln::Tensor loss = knn::cross_entropy((*m)(x), y);
        if (!fwd_only) kiln::ag::backward(loss);
      },
      [&] { m->zero_grad(); });
  std::printf("%s %s: median %.1f us (min %.1f) over %d calls\n", model.c_str(), fwd_only ? "fwd" : "fwd+bwd",
              times[times.size() / 2], times[0], iters);
  return 0;
}
