// simple_cnn on MNIST_TINY (3 vs 7) with kiln's autograd, nn layers and cross_entropy, trained by a
// hand-written SGD-with-momentum loop (plain tensor ops on the gradients; the Learner comes later).
//
//   mnist_cnn [EPOCHS] [--lr X] [--batch N] [--seed N] [--data FILE|DIR] [--threads N]
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "kiln/autograd/ops.h"
#include "kiln/kernels/cpu/parallel.h"
#include "kiln/nn/loss.h"
#include "kiln/nn/simple_cnn.h"
#include "kiln/tensor/ops.h"
#include "example_options.h"
#include "mnist_tiny_data.h"

using namespace kiln;

namespace {

examples::ExampleOptions parse(int argc, char** argv) {
  examples::ExampleOptions o;
  o.data = KILN_EXAMPLE_DATA;
  examples::parse_example_options(argc, argv, o,
                                  "mnist_cnn [EPOCHS] [--lr X] [--batch N] [--seed N] [--data FILE|DIR] [--threads N]",
                                  /*positional_epochs=*/true);
  return o;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    examples::ExampleOptions o = parse(argc, argv);
    if (o.threads > 0) cpu::set_num_threads(o.threads);
    auto [train, valid] = examples::load_mnist_tiny(o.data);
    const int64_t n = train.x.size(0);
    manual_seed(o.seed);
    Generator gen(o.seed);
    auto model = nn::simple_cnn({1, 8, 16, 32, 2}, {}, {}, /*bn=*/true);
    std::printf("mnist_tiny: %lld train, %lld valid images; simple_cnn 1-8-16-32-2 with BatchNorm, SGD lr %g "
                "momentum 0.9, batch %lld, %d threads\n",
                (long long)n, (long long)valid.x.size(0), o.lr, (long long)o.batch, cpu::num_threads());
    std::vector<Tensor> params = model->parameters();
    std::vector<Tensor> velocity;
    for (const Tensor& p : params) velocity.push_back(zeros_like(p));

    std::printf("%5s  %10s  %10s  %8s  %7s\n", "epoch", "train_loss", "valid_loss", "accuracy", "time");
    for (int epoch = 0; epoch < o.epochs; ++epoch) {
      auto t0 = std::chrono::steady_clock::now();
      model->train();
      Tensor perm = randperm(n, &gen);
      double loss_sum = 0;
      for (int64_t b = 0; b < n; b += o.batch) {
        Tensor idx = perm.slice(0, b, std::min(n, b + o.batch));
        Tensor loss = nn::cross_entropy((*model)(index_select(train.x, 0, idx)), index_select(train.y, 0, idx));
        loss_sum += loss.item<double>() * double(idx.size(0));
        model->zero_grad();
        ag::backward(loss);
        ag::NoGradGuard ng;
        for (size_t i = 0; i < params.size(); ++i) {  // v = 0.9 v + g; p -= lr v
          mul_(velocity[i], 0.9);
          add_(velocity[i], ag::grad(params[i]));
          sub_(params[i], velocity[i], o.lr);
        }
      }
      model->eval();
      ag::NoGradGuard ng;
      Tensor logits = (*model)(valid.x);
      const double vloss = nn::cross_entropy(logits, valid.y).item<double>();
      const int64_t correct = sum(eq(argmax(logits, 1), valid.y)).item<int64_t>();
      const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      std::printf("%5d  %10.4f  %10.4f  %8.4f  %6.2fs\n", epoch, loss_sum / double(n), vloss,
                  double(correct) / double(valid.x.size(0)), secs);
    }
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "mnist_cnn: %s\n", e.what());
    return 1;
  }
}
