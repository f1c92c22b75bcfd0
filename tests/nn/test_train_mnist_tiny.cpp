// End-to-end: simple_cnn trained on MNIST_TINY (3 vs 7) with autograd, cross_entropy and a plain
// SGD-with-momentum loop (optimizers come later), reaching fastai-like validation accuracy.
#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <iterator>
#include <vector>

#include "kiln/autograd/ops.h"
#include "kiln/nn/loss.h"
#include "kiln/nn/simple_cnn.h"
#include "kiln/tensor/ops.h"

using namespace kiln;

namespace {

struct Split {
  Tensor x;  // [N, 1, 28, 28] f32, normalised
  Tensor y;  // [N] i64 (0 = 3, 1 = 7)
};

// The packed file of tools/make_mnist_tiny.py: "KILNMNT1", then train and valid splits, each
// u32 count n, n u8 labels, n * 784 u8 pixels.
std::vector<Split> load_mnist_tiny(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  KILN_CHECK(f.good(), "cannot open ", path);
  std::vector<char> buf((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  size_t pos = 0;
  auto take = [&](size_t n) {
    KILN_CHECK(pos + n <= buf.size(), path, " is truncated");
    const char* p = buf.data() + pos;
    pos += n;
    return p;
  };
  KILN_CHECK(std::memcmp(take(8), "KILNMNT1", 8) == 0, path, " is not a packed MNIST_TINY file");
  std::vector<Split> out;
  for (int s = 0; s < 2; ++s) {
    uint32_t n;
    std::memcpy(&n, take(4), 4);
    Tensor y = from_blob(take(n), {int64_t(n)}, DType::u8).to(DType::i64);
    Tensor px = from_blob(take(size_t(n) * 784), {int64_t(n), 1, 28, 28}, DType::u8).to(DType::f32);
    out.push_back({(px / 255.0 - 0.1307) / 0.3081, y});
  }
  return out;
}

}  // namespace

TEST(TrainMnistTiny, SimpleCnnReachesFastaiAccuracy) {
  auto data = load_mnist_tiny(std::string(KILN_FIXTURE_DIR) + "/../../examples/data/mnist_tiny.bin");
  const Split& train = data[0];
  const Split& valid = data[1];
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
