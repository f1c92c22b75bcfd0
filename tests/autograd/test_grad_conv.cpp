// Gradient-check rows of the convolutions (grad_table.h): stride, padding, dilation, groups, with
// and without bias, and an empty batch.
#include "grad_table.h"

namespace kiln::test {
namespace {

using V = std::vector<Tensor>;
Tensor bias_of(const V& x) { return x.size() > 2 ? x[2] : Tensor(); }

static GradRegistrar reg({
    // conv2d: groups follow from the shapes (C / (C / groups)).
    GradRow{"conv2d",
            {{{2, 3, 5, 5}, {4, 3, 3, 3}}, {{1, 1, 4, 4}, {2, 1, 1, 1}}, {{1, 2, 3, 3}, {1, 2, 3, 3}},
             {{0, 3, 5, 5}, {4, 3, 3, 3}}, {{2, 4, 5, 5}, {6, 2, 3, 3}, {6}}, {{1, 3, 5, 5}, {3, 1, 3, 3}, {3}}},
            [](const V& x) { return ag::conv2d(x[0], x[1], bias_of(x), 1, 0, 1, x[0].size(1) / x[1].size(1)); }},
    GradRow{"conv2d",
            {{{2, 3, 5, 5}, {4, 3, 3, 3}, {4}}, {{1, 2, 7, 6}, {3, 2, 3, 2}, {3}}, {{1, 2, 4, 4}, {2, 2, 3, 3}}},
            [](const V& x) { return ag::conv2d(x[0], x[1], bias_of(x), 2, 1); }},
    GradRow{"conv2d",
            {{{1, 2, 7, 7}, {3, 2, 3, 3}, {3}}, {{2, 4, 6, 5}, {2, 2, 2, 2}}},
            [](const V& x) {
              return ag::conv2d(x[0], x[1], bias_of(x), {1, 2}, {2, 1}, 2, x[0].size(1) / x[1].size(1));
            }},
    // conv_transpose2d: w [C_in, C_out / groups, kh, kw].
    GradRow{"conv_transpose2d",
            {{{2, 3, 4, 4}, {3, 2, 3, 3}}, {{1, 1, 3, 3}, {1, 1, 1, 1}}, {{1, 2, 3, 5}, {2, 3, 2, 3}, {3}},
             {{0, 3, 4, 4}, {3, 2, 3, 3}, {2}}},
            [](const V& x) { return ag::conv_transpose2d(x[0], x[1], bias_of(x)); }},
    GradRow{"conv_transpose2d",
            {{{2, 3, 3, 3}, {3, 2, 3, 3}, {2}}, {{1, 2, 4, 3}, {2, 1, 3, 3}}},
            [](const V& x) { return ag::conv_transpose2d(x[0], x[1], bias_of(x), 2, 1, 1); }},
    GradRow{"conv_transpose2d",
            {{{1, 4, 3, 3}, {4, 1, 3, 3}, {2}}, {{2, 4, 2, 3}, {4, 2, 2, 2}}},
            [](const V& x) { return ag::conv_transpose2d(x[0], x[1], bias_of(x), {2, 1}, {1, 0}, {1, 0}, 2, 2); }},
    // conv1d: x [B, C, L], w [O, C / groups, K].
    GradRow{"conv1d",
            {{{2, 3, 7}, {4, 3, 3}, {4}}, {{1, 1, 5}, {1, 1, 1}}, {{2, 4, 6}, {4, 2, 2}}, {{0, 3, 7}, {4, 3, 3}}},
            [](const V& x) { return ag::conv1d(x[0], x[1], bias_of(x), 1, 0, 1, x[0].size(1) / x[1].size(1)); }},
    GradRow{"conv1d",
            {{{2, 3, 11}, {4, 3, 3}, {4}}, {{1, 2, 13}, {2, 2, 5}}},
            [](const V& x) { return ag::conv1d(x[0], x[1], bias_of(x), 2, 1, 2); }},
});

}  // namespace
}  // namespace kiln::test
