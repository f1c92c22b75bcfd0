// End-to-end: simple_cnn trained on MNIST_TINY (3 vs 7) with autograd, cross_entropy and a plain
// SGD-with-momentum loop (optimizers come later), reaching fastai-like validation accuracy.
#include <gtest/gtest.h>

#include <vector>

#include "kiln/autograd/ops.h"
#include "kiln/nn/loss.h"
#include "kiln/nn/simple_cnn.h"
#include "kiln/tensor/ops.h"
#include "../../examples/mnist_tiny_data.h"

using namespace kiln;

TEST(TrainMnistTiny, SimpleCnnReachesFastaiAccuracy) {
  auto [train, valid] =
      examples::load_mnist_tiny(std::string(KILN_FIXTURE_DIR) + "/../../examples/data/mnist_tiny.bin");
  manual_seed(42);
  Generator gen(42);
  auto model = nn::simple_cnn({1, 8, 16, 32, 2}, {}, {}, /*bn=*/true);
  std::vector<Tensor> params = model->parameters();
  std::vector<Tensor> velocity;
  for (const Tensor& p : params) velocity.push_back(zeros_like(p));
  const double lr = 0.05, mom = 0.9;
  const int64_t n = train.x.size(0), bs = 64;
  for (int epoch = 0; epoch < 4; ++epoch) {
    model->train();
    Tensor perm = randperm(n, &gen);
    for (int64_t b = 0; b < n; b += bs) {
      Tensor idx = perm.slice(0, b, std::min(n, b + bs));
      Tensor loss = nn::cross_entropy((*model)(index_select(train.x, 0, idx)), index_select(train.y, 0, idx));
      model->zero_grad();
      ag::backward(loss);
      ag::NoGradGuard ng;
      for (size_t i = 0; i < params.size(); ++i) {
        Tensor g = ag::grad(params[i]);
        ASSERT_TRUE(g.defined()) << "parameter " << i << " got no gradient";
        mul_(velocity[i], mom);
        add_(velocity[i], g);
        sub_(params[i], velocity[i], lr);
      }
    }
  }
  model->eval();
  ag::NoGradGuard ng;
  Tensor logits = (*model)(valid.x);
  const double acc = double(sum(eq(argmax(logits, 1), valid.y)).item<int64_t>()) / double(valid.x.size(0));
  EXPECT_GE(acc, 0.95) << "validation accuracy " << acc;
}
