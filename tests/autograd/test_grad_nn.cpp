// Gradient-check rows (grad_table.h) of the nn ops other than convolutions: matrix products,
// pooling, normalisation, softmax, resampling, grid sampling, dropout, embedding.
#include "grad_table.h"

namespace kiln::test {
namespace {

using V = std::vector<Tensor>;
using A2 = std::array<int64_t, 2>;
Tensor opt(const V& x, size_t i) { return x.size() > i ? x[i] : Tensor(); }

// weight [V, D] (f64, random) and an i64 index of shape s[1] with values in [0, V).
std::vector<Tensor> make_embedding(const std::vector<Shape>& s, uint64_t seed) {
  Generator gen(seed);
  return {random_tensor(s[0], DType::f64, Domain::any, seed), kiln::randint(0, s[0][0], s[1], DType::i64, &gen)};
}

// As make_embedding, with no index equal to 1: the padding row's gradient is zero by definition
// (not the derivative of the forward), which the behaviour tests check instead.
std::vector<Tensor> make_embedding_pad1(const std::vector<Shape>& s, uint64_t seed) {
  auto xs = make_embedding(s, seed);
  xs[1] = kiln::where(kiln::eq(xs[1], 1), kiln::zeros_like(xs[1]), xs[1]);
  return xs;
}

static GradRegistrar linalg_rows({
    GradRow{"mm",
            {{{3, 4}, {4, 5}}, {{1, 1}, {1, 1}}, {{2, 7}, {7, 3}}, {{0, 3}, {3, 2}}, {{3, 0}, {0, 2}}, {{5, 1}, {1, 5}}},
            [](const V& x) { return ag::mm(x[0], x[1]); }},
    GradRow{"bmm",
            {{{2, 3, 4}, {2, 4, 5}}, {{1, 1, 1}, {1, 1, 1}}, {{3, 2, 5}, {3, 5, 2}}, {{0, 2, 3}, {0, 3, 2}},
             {{2, 3, 1}, {2, 1, 3}}},
            [](const V& x) { return ag::bmm(x[0], x[1]); }},
    GradRow{"matmul",
            {{{3}, {3}},
             {{3}, {3, 4}},
             {{4, 3}, {3}},
             {{2, 3, 4}, {4}},
             {{3}, {2, 3, 4}},
             {{2, 1, 3, 4}, {3, 4, 2}},
             {{3, 4}, {2, 4, 5}},
             {{2, 3, 4}, {4, 5}},
             {{0, 3}, {3, 2}},
             {{1, 1}, {1, 1}},
             // K = 0: zeros out, zero-size gradients
             {{2, 3, 0}, {0}},
             {{0}, {2, 0, 4}},
             {{3, 0}, {0, 4}},
             {{2, 3, 0}, {0, 4}}},
            [](const V& x) { return ag::matmul(x[0], x[1]); }},
    GradRow{"addmm",
            {{{3, 5}, {3, 4}, {4, 5}}, {{5}, {3, 4}, {4, 5}}, {{1, 1}, {2, 7}, {7, 3}}, {{3, 1}, {3, 2}, {2, 1}},
             {{0, 2}, {0, 3}, {3, 2}}},
            [](const V& x) { return ag::addmm(x[0], x[1], x[2], 0.5, 2.0); }},
    GradRow{"addmm", {{{2, 3}, {2, 2}, {2, 3}}}, [](const V& x) { return ag::addmm(x[0], x[1], x[2]); }},
    GradRow{"outer",
            {{{3}, {4}}, {{1}, {1}}, {{5}, {2}}, {{0}, {3}}, {{7}, {1}}},
            [](const V& x) { return ag::outer(x[0], x[1]); }},
    GradRow{"dot",
            {{{3}, {3}}, {{1}, {1}}, {{7}, {7}}, {{0}, {0}}, {{13}, {13}}},
            [](const V& x) { return ag::dot(x[0], x[1]); }},
    GradRow{"linear",
            {{{2, 3}, {4, 3}, {4}}, {{3}, {2, 3}, {2}}, {{2, 2, 3}, {4, 3}}, {{0, 3}, {2, 3}, {2}},
             {{1, 1}, {1, 1}, {1}}, {{5, 7}, {3, 7}}, {{2, 0}, {3, 0}, {3}}},
            [](const V& x) { return ag::linear(x[0], x[1], opt(x, 2)); }},
});

static GradRegistrar pool_rows({
    GradRow{"max_pool2d",
            {{{1, 2, 5, 5}}, {{2, 3, 4, 4}}, {{2, 5, 5}}, {{0, 2, 4, 4}}},
            [](const V& x) { return ag::max_pool2d(x[0], {2, 2}); }},
    GradRow{"max_pool2d",
            {{{1, 1, 7, 7}}, {{2, 2, 6, 5}}},
            [](const V& x) { return ag::max_pool2d(x[0], {3, 3}, {2, 2}, {1, 1}); }},
    GradRow{"max_pool2d",
            {{{1, 2, 7, 6}}},
            [](const V& x) { return ag::max_pool2d(x[0], {2, 3}, {2, 1}, {1, 1}, {2, 1}, /*ceil_mode=*/true); }},
    GradRow{"avg_pool2d",
            {{{1, 2, 5, 5}}, {{2, 3, 4, 4}}, {{2, 5, 5}}, {{0, 2, 4, 4}}},
            [](const V& x) { return ag::avg_pool2d(x[0], {2, 2}); }},
    GradRow{"avg_pool2d",
            {{{1, 1, 7, 7}}, {{2, 2, 6, 5}}},
            [](const V& x) { return ag::avg_pool2d(x[0], {3, 3}, {2, 2}, {1, 1}, /*ceil_mode=*/true, false); }},
    GradRow{"avg_pool2d",
            {{{1, 2, 5, 6}}},
            [](const V& x) { return ag::avg_pool2d(x[0], {3, 2}, {1, 2}, {1, 1}, false, true, 5); }},
    GradRow{"adaptive_avg_pool2d",
            {{{1, 2, 5, 5}}, {{2, 3, 4, 7}}, {{2, 5, 5}}, {{0, 2, 4, 4}}, {{1, 1, 1, 1}}},
            [](const V& x) { return ag::adaptive_avg_pool2d(x[0], {3, 2}); }},
    GradRow{"adaptive_avg_pool2d", {{{1, 2, 6, 4}}}, [](const V& x) { return ag::adaptive_avg_pool2d(x[0], {1, 1}); }},
    GradRow{"adaptive_max_pool2d",
            {{{1, 2, 5, 5}}, {{2, 3, 4, 7}}, {{2, 5, 5}}, {{0, 2, 4, 4}}, {{1, 1, 3, 2}}},
            [](const V& x) { return ag::adaptive_max_pool2d(x[0], {3, 2}); }},
    GradRow{"adaptive_max_pool2d", {{{1, 2, 6, 4}}}, [](const V& x) { return ag::adaptive_max_pool2d(x[0], {1, 1}); }},
});

static GradRegistrar norm_rows({
    // Training: batch statistics; fresh running statistics each call (updated in place, unused).
    GradRow{"batch_norm",
            {{{4, 3}, {3}, {3}}, {{2, 3, 2, 2}, {3}, {3}}, {{3, 2, 5}, {2}, {2}}, {{2, 1, 3}, {1}, {1}}, {{5, 2}}},
            [](const V& x) {
              const int64_t C = x[0].size(1);
              Tensor rm = kiln::zeros({C}, DType::f64), rv = kiln::ones({C}, DType::f64);
              return ag::batch_norm(x[0], opt(x, 1), opt(x, 2), rm, rv, true, 0.1, 1e-5);
            }},
    // Eval: running statistics are inputs but constants (not differentiated).
    GradRow{"batch_norm",
            {{{4, 3}, {3}, {3}, {3}, {3}}, {{2, 3, 2, 2}, {3}, {3}, {3}, {3}}, {{0, 2}, {2}, {2}, {2}, {2}}},
            [](const V& x) { return ag::batch_norm(x[0], x[1], x[2], x[3], x[4], false, 0.1, 1e-5); },
            {Domain::any, Domain::any, Domain::any, Domain::any, Domain::positive},
            nullptr,
            {0, 1, 2}},
    // Batch norm + activation in one op: relu and leaky_relu, training and eval (random values sit
    // far from the kink compared with the finite-difference step).
    GradRow{"batch_norm_act",
            {{{4, 3}, {3}, {3}}, {{2, 3, 2, 2}, {3}, {3}}, {{3, 2, 5}, {2}, {2}}, {{2, 1, 3}, {1}, {1}}, {{5, 2}}},
            [](const V& x) {
              const int64_t C = x[0].size(1);
              Tensor rm = kiln::zeros({C}, DType::f64), rv = kiln::ones({C}, DType::f64);
              return ag::batch_norm_act(x[0], opt(x, 1), opt(x, 2), rm, rv, true, BnActivation::relu);
            }},
    GradRow{"batch_norm_act",
            {{{4, 3}, {3}, {3}}, {{2, 3, 2, 2}, {3}, {3}}, {{3, 2, 5}}},
            [](const V& x) {
              const int64_t C = x[0].size(1);
              Tensor rm = kiln::zeros({C}, DType::f64), rv = kiln::ones({C}, DType::f64);
              return ag::batch_norm_act(x[0], opt(x, 1), opt(x, 2), rm, rv, true, BnActivation::leaky_relu, 0.3);
            }},
    GradRow{"batch_norm_act",
            {{{4, 3}, {3}, {3}, {3}, {3}}, {{2, 3, 2, 2}, {3}, {3}, {3}, {3}}, {{0, 2}, {2}, {2}, {2}, {2}}},
            [](const V& x) {
              return ag::batch_norm_act(x[0], x[1], x[2], x[3], x[4], false, BnActivation::relu);
            },
            {Domain::any, Domain::any, Domain::any, Domain::any, Domain::positive},
            nullptr,
            {0, 1, 2}},
    GradRow{"layer_norm",
            {{{2, 3}, {3}, {3}}, {{2, 3, 4}, {3, 4}, {3, 4}}, {{4, 5}, {5}, {5}}, {{0, 3}, {3}, {3}}, {{1, 7}, {7}}},
            [](const V& x) { return ag::layer_norm(x[0], x[1].shape(), x[1], opt(x, 2), 1e-5); }},
    GradRow{"layer_norm", {{{3, 4}}, {{2, 2, 5}}}, [](const V& x) { return ag::layer_norm(x[0], {x[0].size(-1)}); }},
    GradRow{"group_norm",
            {{{2, 4, 3}, {4}, {4}}, {{1, 6, 2, 2}, {6}, {6}}, {{3, 2, 5}, {2}, {2}}, {{0, 4, 3}, {4}, {4}},
             {{2, 4, 3, 1}, {4}}},
            [](const V& x) { return ag::group_norm(x[0], 2, opt(x, 1), opt(x, 2), 1e-5); }},
    GradRow{"group_norm", {{{2, 3, 4}}, {{1, 6, 5}}}, [](const V& x) { return ag::group_norm(x[0], 3); }},
});

static GradRegistrar softmax_rows({
    GradRow{"softmax", {{{3, 4}}, {{1}}, {{5}}, {{0, 3}}, {{2, 1, 7}}}, [](const V& x) { return ag::softmax(x[0], -1); }},
    GradRow{"softmax", {{{2, 3, 4}}, {{3, 5}}}, [](const V& x) { return ag::softmax(x[0], 1); }},
    GradRow{"softmax", {{{4, 3}}}, [](const V& x) { return ag::softmax(x[0], 0); }},
    GradRow{"log_softmax",
            {{{3, 4}}, {{1}}, {{5}}, {{0, 3}}, {{2, 1, 7}}},
            [](const V& x) { return ag::log_softmax(x[0], -1); }},
    GradRow{"log_softmax", {{{2, 3, 4}}, {{3, 5}}}, [](const V& x) { return ag::log_softmax(x[0], 1); }},
});

static GradRegistrar interpolate_rows({
    GradRow{"upsample_nearest2d",
            {{{1, 2, 3, 3}}, {{2, 1, 4, 4}}, {{0, 2, 3, 3}}, {{1, 1, 1, 1}}},
            [](const V& x) { return ag::upsample_nearest2d(x[0], {5, 7}); }},
    GradRow{"upsample_nearest2d",
            {{{1, 2, 4, 6}}, {{1, 1, 5, 3}}},
            [](const V& x) { return ag::upsample_nearest2d(x[0], {2, 3}); }},
    GradRow{"upsample_nearest2d",
            {{{1, 2, 3, 4}}},
            [](const V& x) {
              return ag::upsample_nearest2d(x[0], {x[0].size(2) * 2, x[0].size(3) * 3 / 2}, std::array<double, 2>{2.0, 1.5});
            }},
    GradRow{"upsample_bilinear2d",
            {{{1, 2, 3, 3}}, {{2, 1, 4, 4}}, {{0, 2, 3, 3}}, {{1, 1, 1, 1}}, {{1, 1, 5, 7}}},
            [](const V& x) { return ag::upsample_bilinear2d(x[0], {5, 4}, false); }},
    GradRow{"upsample_bilinear2d",
            {{{1, 2, 3, 3}}, {{1, 1, 6, 5}}},
            [](const V& x) { return ag::upsample_bilinear2d(x[0], {4, 2}, true); }},
    GradRow{"interpolate",
            {{{1, 2, 3, 3}}, {{2, 1, 4, 5}}, {{0, 1, 2, 2}}},
            [](const V& x) { return ag::interpolate(x[0], A2{5, 6}, std::nullopt, InterpolateMode::bilinear, true); }},
    GradRow{"interpolate",
            {{{1, 2, 3, 3}}, {{1, 1, 4, 5}}},
            [](const V& x) {
              return ag::interpolate(x[0], std::nullopt, std::array<double, 2>{1.5, 2.5}, InterpolateMode::bilinear);
            }},
    GradRow{"interpolate",
            {{{1, 2, 3, 3}}},
            [](const V& x) {
              return ag::interpolate(x[0], std::nullopt, std::array<double, 2>{2.0, 0.5}, InterpolateMode::nearest);
            }},
});

static GradRegistrar grid_rows({
    GradRow{"affine_grid",
            {{{1, 2, 3}}, {{2, 2, 3}}, {{3, 2, 3}}, {{0, 2, 3}}},
            [](const V& x) { return ag::affine_grid(x[0], {x[0].size(0), 1, 3, 4}, false); }},
    GradRow{"affine_grid",
            {{{2, 2, 3}}, {{1, 2, 3}}},
            [](const V& x) { return ag::affine_grid(x[0], {x[0].size(0), 3, 5, 1}, true); }},
    GradRow{"grid_sample",
            {{{1, 2, 4, 5}, {1, 3, 3, 2}}, {{2, 1, 3, 3}, {2, 2, 4, 2}}, {{1, 1, 1, 1}, {1, 2, 2, 2}},
             {{0, 2, 3, 3}, {0, 2, 2, 2}}},
            [](const V& x) { return ag::grid_sample(x[0], x[1]); },
            {Domain::any, Domain::unit}},
    // Points outside the input (grid in (-3, 3)) for every padding mode, both alignments.
    GradRow{"grid_sample",
            {{{1, 2, 4, 5}, {1, 3, 3, 2}}},
            [](const V& x) {
              return ag::grid_sample(x[0], x[1], GridSampleMode::bilinear, GridSamplePadding::zeros, true);
            }},
    GradRow{"grid_sample",
            {{{1, 2, 4, 5}, {1, 3, 3, 2}}, {{2, 1, 3, 2}, {2, 2, 3, 2}}},
            [](const V& x) {
              return ag::grid_sample(x[0], x[1], GridSampleMode::bilinear, GridSamplePadding::border, false);
            }},
    GradRow{"grid_sample",
            {{{1, 2, 4, 5}, {1, 3, 3, 2}}},
            [](const V& x) {
              return ag::grid_sample(x[0], x[1], GridSampleMode::bilinear, GridSamplePadding::border, true);
            }},
    GradRow{"grid_sample",
            {{{1, 2, 4, 5}, {1, 3, 3, 2}}, {{2, 1, 3, 2}, {2, 2, 3, 2}}},
            [](const V& x) {
              return ag::grid_sample(x[0], x[1], GridSampleMode::bilinear, GridSamplePadding::reflection, false);
            }},
    GradRow{"grid_sample",
            {{{1, 2, 4, 5}, {1, 3, 3, 2}}},
            [](const V& x) {
              return ag::grid_sample(x[0], x[1], GridSampleMode::bilinear, GridSamplePadding::reflection, true);
            }},
    // Nearest: gradient for the input only (piecewise constant in the grid).
    GradRow{"grid_sample",
            {{{1, 2, 4, 5}, {1, 3, 3, 2}}, {{2, 1, 3, 3}, {2, 2, 4, 2}}},
            [](const V& x) {
              return ag::grid_sample(x[0], x[1], GridSampleMode::nearest, GridSamplePadding::reflection, false);
            },
            {},
            nullptr,
            {0}},
});

static GradRegistrar dropout_rows({
    // A fresh generator with the same seed in every call: the same mask in every evaluation.
    GradRow{"dropout",
            {{{3, 4}}, {{1}}, {{7}}, {{0, 3}}, {{2, 3, 5}}},
            [](const V& x) {
              Generator gen(1234);
              return ag::dropout(x[0], 0.3, true, &gen);
            }},
    GradRow{"dropout", {{{4, 5}}}, [](const V& x) {
              Generator gen(99);
              return ag::dropout(x[0], 1.0, true, &gen);
            }},
    GradRow{"dropout2d",
            {{{2, 3, 4, 4}}, {{1, 1, 2, 2}}, {{3, 5, 1, 3}}, {{0, 2, 3, 3}}, {{2, 4, 3}}},
            [](const V& x) {
              Generator gen(4321);
              return ag::dropout2d(x[0], 0.5, true, &gen);
            }},
});

static GradRegistrar embedding_rows({
    GradRow{"embedding",
            {{{5, 3}, {4}}, {{7, 2}, {2, 3}}, {{1, 1}, {3}}, {{4, 3}, {0}}, {{6, 4}, {2, 2, 2}}},
            [](const V& x) { return ag::embedding(x[0], x[1]); },
            {},
            make_embedding},
    GradRow{"embedding",
            {{{3, 2}, {8}}, {{4, 3}, {2, 5}}},
            [](const V& x) { return ag::embedding(x[0], x[1], 1); },
            {},
            make_embedding_pad1},
});

}  // namespace
}  // namespace kiln::test
