// Models on CUDA against the same models on the CPU (issue 3's backend under issue 4's models):
// forward and backward of xresnet18 and an AWD-LSTM language model on both devices from the same
// weights, and simple_cnn trained on MNIST_TINY on the GPU with the batch order of the CPU test.
// Every test skips with one line without a usable GPU.
#include <gtest/gtest.h>

#if KILN_HAVE_CUDA
#include <vector>

#include "kiln/autograd/ops.h"
#include "kiln/nn/awd_lstm.h"
#include "kiln/nn/loss.h"
#include "kiln/nn/simple_cnn.h"
#include "kiln/nn/xresnet.h"
#include "kiln/tensor/ops.h"
#include "support/cuda_test.h"
#include "support/fixtures.h"
#include "../../examples/mnist_tiny_data.h"

namespace kiln::test {
namespace {

// Copies every parameter and buffer of `from` into `to` (same architecture, any devices).
void copy_state(nn::Module& from, nn::Module& to) {
  auto a = from.state_dict(), b = to.state_dict();
  ASSERT_EQ(a.size(), b.size());
  ag::NoGradGuard ng;
  for (size_t i = 0; i < a.size(); ++i) {
    ASSERT_EQ(a[i].first, b[i].first);
    Tensor(b[i].second).copy_(a[i].second);
  }
}

// Forward + backward of `model` on x with target y: the loss, the output and every gradient by name.
struct Pass {
  Tensor out, loss;
  std::vector<std::pair<std::string, Tensor>> grads;
};
Pass run_pass(nn::Module& model, const Tensor& x, const Tensor& y) {
  Pass p;
  model.zero_grad();
  p.out = model(x);
  p.loss = nn::cross_entropy(p.out, y);
  ag::backward(p.loss);
  for (auto& [name, t] : model.named_parameters()) p.grads.emplace_back(name, ag::grad(t));
  return p;
}

void expect_same_pass(const Pass& gpu, const Pass& cpu, double max_nse) {
  EXPECT_TRUE(gpu.out.device().is_cuda());
  EXPECT_TRUE(tensors_nse_close(gpu.out.cpu(), cpu.out, max_nse)) << "outputs";
  EXPECT_NEAR(gpu.loss.item<double>(), cpu.loss.item<double>(), 1e-4 * std::fabs(cpu.loss.item<double>()) + 1e-5);
  ASSERT_EQ(gpu.grads.size(), cpu.grads.size());
  for (size_t i = 0; i < cpu.grads.size(); ++i) {
    ASSERT_TRUE(gpu.grads[i].second.defined()) << gpu.grads[i].first;
    EXPECT_TRUE(tensors_nse_close(gpu.grads[i].second.cpu(), cpu.grads[i].second, max_nse)) << cpu.grads[i].first;
  }
}

TEST(CudaModels, XResNet18MatchesCpu) {
  KILN_REQUIRE_GPU();
  manual_seed(7);
  auto cpu_model = nn::xresnet18(10, 3);
  auto gpu_model = nn::xresnet18(10, 3);
  gpu_model->to(kCUDA);
  copy_state(*cpu_model, *gpu_model);
  Generator gen(3);
  Tensor x = randn({4, 3, 32, 32}, DType::f32, &gen);
  Tensor y = randint(0, 10, {4}, DType::i64, &gen);
  Pass c = run_pass(*cpu_model, x, y);
  Pass g = run_pass(*gpu_model, x.to(kCUDA), y.to(kCUDA));
  // Convolutions and batch statistics sum in a different order on each device (TF32 is off).
  expect_same_pass(g, c, 1e-8);
  // Training mode updated the running statistics the same way.
  auto cs = cpu_model->state_dict(), gs = gpu_model->state_dict();
  for (size_t i = 0; i < cs.size(); ++i)
    if (cs[i].first.find("running_") != std::string::npos)
      EXPECT_TRUE(tensors_nse_close(gs[i].second.cpu(), cs[i].second, 1e-10)) << cs[i].first;
}

TEST(CudaModels, AwdLstmLanguageModelMatchesCpu) {
  KILN_REQUIRE_GPU();
  manual_seed(11);
  auto cpu_model = nn::awd_lstm_lm(50, 16, 24, 2);
  auto gpu_model = nn::awd_lstm_lm(50, 16, 24, 2);
  gpu_model->to(kCUDA);
  copy_state(*cpu_model, *gpu_model);
  cpu_model->eval();  // dropout off: the two devices see the same network
  gpu_model->eval();
  Generator gen(5);
  Tensor x = randint(0, 50, {3, 9}, DType::i64, &gen);
  Tensor y = randint(0, 50, {3, 9}, DType::i64, &gen);
  auto lm_pass = [&](nn::Module& m, const Tensor& xx, const Tensor& yy) {
    Pass p;
    m.zero_grad();
    p.out = m(xx);
    p.loss = nn::cross_entropy(p.out.reshape({-1, 50}), yy.reshape({-1}));
    ag::backward(p.loss);
    for (auto& [name, t] : m.named_parameters()) p.grads.emplace_back(name, ag::grad(t));
    return p;
  };
  Pass c = lm_pass(*cpu_model, x, y);
  Pass g = lm_pass(*gpu_model, x.to(kCUDA), y.to(kCUDA));
  expect_same_pass(g, c, 1e-9);
}

TEST(CudaModels, SimpleCnnTrainsOnMnistTiny) {
  KILN_REQUIRE_GPU();
  auto [train, valid] =
      examples::load_mnist_tiny(std::string(KILN_FIXTURE_DIR) + "/../../examples/data/mnist_tiny.bin");
  manual_seed(42);
  Generator gen(42);
  auto model = nn::simple_cnn({1, 8, 16, 32, 2}, {}, {}, /*bn=*/true);
  model->to(kCUDA);
  Tensor tx = train.x.to(kCUDA), ty = train.y.to(kCUDA);
  std::vector<Tensor> params = model->parameters();
  std::vector<Tensor> velocity;
  for (const Tensor& p : params) velocity.push_back(zeros_like(p));
  const double lr = 0.05, mom = 0.9;
  const int64_t n = train.x.size(0), bs = 64;
  for (int epoch = 0; epoch < 4; ++epoch) {
    model->train();
    Tensor perm = randperm(n, &gen).to(kCUDA);
    for (int64_t b = 0; b < n; b += bs) {
      Tensor idx = perm.slice(0, b, std::min(n, b + bs));
      Tensor loss = nn::cross_entropy((*model)(index_select(tx, 0, idx)), index_select(ty, 0, idx));
      model->zero_grad();
      ag::backward(loss);
      ag::NoGradGuard ng;
      for (size_t i = 0; i < params.size(); ++i) {
        Tensor g = ag::grad(params[i]);
        ASSERT_TRUE(g.defined() && g.device().is_cuda()) << "parameter " << i;
        mul_(velocity[i], mom);
        add_(velocity[i], g);
        sub_(params[i], velocity[i], lr);
      }
    }
  }
  model->eval();
  ag::NoGradGuard ng;
  Tensor logits = (*model)(valid.x.to(kCUDA));
  const double acc =
      double(sum(eq(argmax(logits, 1), valid.y.to(kCUDA))).item<int64_t>()) / double(valid.x.size(0));
  EXPECT_GE(acc, 0.95) << "validation accuracy " << acc;
}

}  // namespace
}  // namespace kiln::test
#endif  // KILN_HAVE_CUDA
