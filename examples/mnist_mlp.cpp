// The main job until the Learner exists: a two-layer MLP written with kiln's tensor ops and
// hand-written gradients, trained with SGD + momentum on MNIST_TINY (3 vs 7), printing loss and
// accuracy per epoch.
//
//   mnist_mlp [--epochs N] [--lr X] [--hidden N] [--batch N] [--seed N] [--data FILE|DIR] [--threads N]
#include <chrono>
#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

#include "kiln/kernels/cpu/parallel.h"
#include "kiln/tensor/ops.h"
#include "example_options.h"
#include "mnist_tiny_data.h"

using namespace kiln;

namespace {

struct Options : examples::ExampleOptions {
  int64_t hidden = 64;
};

Options parse(int argc, char** argv) {
  Options o;
  o.epochs = 8;
  o.lr = 0.1;
  o.data = KILN_EXAMPLE_DATA;
  examples::parse_example_options(
      argc, argv, o,
      "mnist_mlp [--epochs N] [--lr X] [--hidden N] [--batch N] [--seed N] [--data FILE|DIR] [--threads N]",
      /*positional_epochs=*/false, [&](const std::string& a, const std::function<std::string()>& value) {
        if (a != "--hidden") return false;
        o.hidden = std::stoll(value());
        return true;
      });
  KILN_CHECK(o.hidden >= 1, "options out of range: hidden ", o.hidden);
  return o;
}

struct Mlp {
  Tensor w1, b1, w2, b2;          // [784,H], [H], [H,2], [2]
  Tensor vw1, vb1, vw2, vb2;      // momentum buffers
};

// Kaiming-uniform-like init: U(-1/sqrt(fan_in), 1/sqrt(fan_in)) as PyTorch's Linear default.
Tensor init_uniform(const Shape& shape, int64_t fan_in, Generator& gen) {
  double bound = 1.0 / std::sqrt(double(fan_in));
  return rand(shape, DType::f32, &gen) * (2 * bound) - bound;
}

struct Forward {
  Tensor h;       // [B,H] relu activations
  Tensor logits;  // [B,2]
};

Forward forward(const Mlp& m, const Tensor& x) {
  Tensor h = relu(addmm(m.b1, x, m.w1));
  return {h, addmm(m.b2, h, m.w2)};
}

// Mean cross-entropy and the number of correct predictions.
std::pair<double, int64_t> evaluate(const Tensor& logits, const Tensor& y) {
  Tensor logp = log_softmax(logits, 1);
  double loss = -mean(gather(logp, 1, y.unsqueeze(1))).item<double>();
  int64_t correct = sum(eq(argmax(logits, 1), y)).item<int64_t>();
  return {loss, correct};
}

void sgd(Tensor& p, Tensor& v, const Tensor& grad, double lr) {
  // v = 0.9 v + grad; p -= lr v
  mul_(v, 0.9);
  add_(v, grad);
  sub_(p, v, lr);
}

}  // namespace

int main(int argc, char** argv) {
  try {
    Options o = parse(argc, argv);
    if (o.threads > 0) cpu::set_num_threads(o.threads);
    auto [train_img, valid_img] = examples::load_mnist_tiny(o.data);
    // The MLP takes flat [N, 784] rows.
    examples::MnistSplit train{train_img.x.reshape({-1, 784}), train_img.y};
    examples::MnistSplit valid{valid_img.x.reshape({-1, 784}), valid_img.y};
    const int64_t n = train.x.size(0);
    std::printf("mnist_tiny: %lld train, %lld valid images; MLP 784-%lld-2, SGD lr %g momentum 0.9, batch %lld, %d threads\n",
                (long long)n, (long long)valid.x.size(0), (long long)o.hidden, o.lr, (long long)o.batch,
                cpu::num_threads());

    Generator gen(o.seed);
    Mlp m;
    m.w1 = init_uniform({784, o.hidden}, 784, gen);
    m.b1 = init_uniform({o.hidden}, 784, gen);
    m.w2 = init_uniform({o.hidden, 2}, o.hidden, gen);
    m.b2 = init_uniform({2}, o.hidden, gen);
    m.vw1 = zeros_like(m.w1);
    m.vb1 = zeros_like(m.b1);
    m.vw2 = zeros_like(m.w2);
    m.vb2 = zeros_like(m.b2);

    // Labels 3/7 were packed as 0/1; y_onehot rows are targets for the softmax gradient.
    std::printf("%5s  %10s  %10s  %8s  %7s\n", "epoch", "train_loss", "valid_loss", "accuracy", "time");
    for (int epoch = 0; epoch < o.epochs; ++epoch) {
      auto t0 = std::chrono::steady_clock::now();
      Tensor perm = randperm(n, &gen);
      double loss_sum = 0;
      for (int64_t b = 0; b < n; b += o.batch) {
        Tensor idx = perm.slice(0, b, std::min(n, b + o.batch));
        Tensor x = index_select(train.x, 0, idx);
        Tensor y = index_select(train.y, 0, idx);
        const double bs = double(idx.size(0));
        Forward f = forward(m, x);
        loss_sum += evaluate(f.logits, y).first * bs;
        // d(mean CE)/d logits = (softmax - onehot) / B
        Tensor dlogits = (softmax(f.logits, 1) - one_hot(y, 2).to(DType::f32)) / bs;
        Tensor dw2 = matmul(f.h.t(), dlogits);
        Tensor db2 = sum(dlogits, {0});
        Tensor dh = matmul(dlogits, m.w2.t()) * gt(f.h, 0.0).to(DType::f32);
        Tensor dw1 = matmul(x.t(), dh);
        Tensor db1 = sum(dh, {0});
        sgd(m.w1, m.vw1, dw1, o.lr);
        sgd(m.b1, m.vb1, db1, o.lr);
        sgd(m.w2, m.vw2, dw2, o.lr);
        sgd(m.b2, m.vb2, db2, o.lr);
      }
      auto [vloss, correct] = evaluate(forward(m, valid.x).logits, valid.y);
      double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      std::printf("%5d  %10.4f  %10.4f  %8.4f  %6.2fs\n", epoch, loss_sum / double(n), vloss,
                  double(correct) / double(valid.x.size(0)), secs);
    }
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "mnist_mlp: %s\n", e.what());
    return 1;
  }
}
