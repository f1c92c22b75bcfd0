// Gradient-check rows of the differentiable indexing ops (autograd/indexing.h). Each row's `make`
// builds the index tensors (and masks) itself: random indices for the ops whose reads or adds
// may repeat, distinct indices where a repeated write would make the gradient ambiguous.
#include <algorithm>
#include <numeric>
#include <random>

#include "grad_table.h"

namespace kiln::test {
namespace {

using V = std::vector<Tensor>;
using Shapes = std::vector<Shape>;

Tensor randf(const Shape& s, uint64_t seed) { return random_tensor(s, DType::f64, Domain::any, seed); }

// Random indices into a dim of size n, negative ones (counting from the end) included.
Tensor rand_index(const Shape& s, int64_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<int64_t> u(-n, n - 1);
  std::vector<int64_t> v(size_t(s.numel()));
  for (auto& i : v) i = u(rng);
  return from_vector(v, s);
}

// Indices of shape s that are distinct along `dim` for every position of the other dims (each
// such column is the start of its own random permutation of [0, n)).
Tensor unique_index(const Shape& s, int dim, int64_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<int64_t> v(size_t(s.numel()));
  if (v.empty()) return from_vector(v, s);
  if (s.empty()) return from_vector(std::vector<int64_t>{int64_t(rng() % uint64_t(n))}, s);
  int64_t inner = 1;
  for (int d = dim + 1; d < s.size(); ++d) inner *= s[d];
  const int64_t len = s[dim], outer = s.numel() / (len * inner);
  std::vector<int64_t> perm(static_cast<size_t>(n));
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t i = 0; i < inner; ++i) {
      std::iota(perm.begin(), perm.end(), 0);
      std::shuffle(perm.begin(), perm.end(), rng);
      for (int64_t j = 0; j < len; ++j) v[size_t((o * len + j) * inner + i)] = perm[size_t(j)];
    }
  return from_vector(v, s);
}

Tensor rand_mask(const Shape& s, uint64_t seed) { return random_tensor(s, DType::b8, Domain::any, seed); }

// (x, index[, src]): index into x's dim `dim`, random or distinct; src (if present) floating.
auto x_index_src(int dim, bool distinct) {
  return [dim, distinct](const Shapes& s, uint64_t seed) {
    Tensor x = randf(s[0], seed);
    const int64_t n = x.dim() == 0 ? 1 : x.size(dim);
    Tensor index = rand_index(s[1], n, seed + 1);
    if (distinct) index = unique_index(s[1], s[1].empty() ? 0 : wrap_dim(dim, s[1].size(), "test"), n, seed + 1);
    V in{x, index};
    if (s.size() > 2) in.push_back(randf(s[2], seed + 2));
    return in;
  };
}

// (x, mask): mask random bits.
V x_mask(const Shapes& s, uint64_t seed) { return {randf(s[0], seed), rand_mask(s[1], seed + 1)}; }

// (x, i_0, ..., i_{k-1}[, values]): index tensors for x's first k dims; `values` (the last
// shape) when with_values. distinct: one 1-d index whose entries are distinct.
auto x_indices(bool with_values, bool distinct) {
  return [with_values, distinct](const Shapes& s, uint64_t seed) {
    Tensor x = randf(s[0], seed);
    const size_t k = s.size() - 1 - (with_values ? 1 : 0);
    V in{x};
    for (size_t j = 0; j < k; ++j)
      in.push_back(distinct ? unique_index(s[1 + j], 0, x.size(int(j)), seed + 1 + j)
                            : rand_index(s[1 + j], x.size(int(j)), seed + 1 + j));
    if (with_values) in.push_back(randf(s.back(), seed + 99));
    return in;
  };
}

// (x, mask over x's first dims, values).
V x_boolmask_values(const Shapes& s, uint64_t seed) {
  return {randf(s[0], seed), rand_mask(s[1], seed + 1), randf(s[2], seed + 2)};
}

V tail(const V& x, size_t from, size_t to) { return V(x.begin() + long(from), x.begin() + long(to)); }

static GradRegistrar rows({
    {"index_select", {{{3, 5}, {4}}, {{2, 7}, {7}}, {{1, 1}, {3}}, {{3, 4}, {0}}, {{4, 3}, {}}},
     [](const V& x) { return ag::index_select(x[0], 1, x[1]); }, {}, x_index_src(1, false)},
    {"index_select", {{{5}, {8}}}, [](const V& x) { return ag::index_select(x[0], 0, x[1]); }, {}, x_index_src(0, false)},
    {"gather", {{{3, 4}, {5, 4}}, {{3, 4}, {2, 2}}, {{1, 3}, {3, 3}}, {{4}, {6}}, {{2, 3}, {0, 3}}},
     [](const V& x) { return ag::gather(x[0], 0, x[1]); }, {}, x_index_src(0, false)},
    {"gather", {{{3, 5, 2}, {2, 7, 1}}}, [](const V& x) { return ag::gather(x[0], -2, x[1]); }, {},
     x_index_src(-2, false)},
    {"take_along_dim", {{{3, 4}, {3, 2}}, {{1, 4}, {3, 5}}, {{3, 4}, {1, 6}}, {{2, 3, 4}, {2, 1, 1}}, {{2, 5}, {2, 0}}},
     [](const V& x) { return ag::take_along_dim(x[0], x[1], 1); }, {}, x_index_src(1, false)},
    {"scatter", {{{5, 3}, {3, 3}, {3, 3}}, {{5, 3}, {2, 2}, {4, 3}}, {{1, 4}, {1, 4}, {1, 4}}, {{6}, {4}, {5}},
                 {{3, 2}, {0, 2}, {0, 2}}},
     [](const V& x) { return ag::scatter(x[0], 0, x[1], x[2]); }, {}, x_index_src(0, true)},
    {"scatter", {{{3, 5}, {3, 2}}, {{4, 3}, {2, 3}}, {{1, 1}, {1, 1}}},
     [](const V& x) { return ag::scatter(x[0], 1, x[1], 2.5); }, {}, x_index_src(1, false)},
    {"scatter_add", {{{5, 3}, {4, 3}, {4, 3}}, {{5, 3}, {2, 2}, {4, 3}}, {{1, 4}, {3, 4}, {3, 4}}, {{6}, {9}, {9}},
                     {{3, 2}, {0, 2}, {0, 2}}},
     [](const V& x) { return ag::scatter_add(x[0], 0, x[1], x[2]); }, {}, x_index_src(0, false)},
    {"scatter_add", {{{2, 3}, {2, 5}, {2, 6}}}, [](const V& x) { return ag::scatter_add(x[0], -1, x[1], x[2]); }, {},
     x_index_src(-1, false), {2}},
    {"masked_fill", {{{3, 4}, {3, 4}}, {{3, 4}, {1, 4}}, {{1, 4}, {3, 4}}, {{5}, {}}, {{0, 3}, {1, 3}}, {{2, 1, 3}, {5, 1}}},
     [](const V& x) { return ag::masked_fill(x[0], x[1], -1.5); }, {}, x_mask},
    {"masked_select", {{{3, 4}, {3, 4}}, {{3, 4}, {1, 4}}, {{1, 4}, {3, 4}}, {{5}, {}}, {{0, 3}, {1, 3}}, {{2, 1, 3}, {5, 1}}},
     [](const V& x) { return ag::masked_select(x[0], x[1]); }, {}, x_mask},
    {"index_add", {{{3, 5}, {4}, {3, 4}}, {{2, 3}, {3}, {2, 3}}, {{1, 1}, {3}, {1, 3}}, {{3, 4}, {0}, {3, 0}},
                   {{2, 3, 2}, {5}, {2, 5, 2}}},
     [](const V& x) { return ag::index_add(x[0], 1, x[1], x[2], 2.5); }, {}, x_index_src(1, false)},
    {"index_add", {{{4, 2}, {6}, {6, 2}}}, [](const V& x) { return ag::index_add(x[0], 0, x[1], x[2]); }, {},
     x_index_src(0, false), {2}},
    {"index", {{{5, 3}, {4}}, {{4}, {2, 3}}, {{3, 2, 2}, {}}, {{5, 3}, {0}}, {{1, 2}, {3}}},
     [](const V& x) { return ag::index(x[0], tail(x, 1, x.size())); }, {}, x_indices(false, false)},
    {"index", {{{4, 5, 2}, {3, 1}, {1, 2}}, {{3, 3}, {4}, {4}}},
     [](const V& x) { return ag::index(x[0], tail(x, 1, x.size())); }, {}, x_indices(false, false)},
    {"index", {{{3, 4}, {3}}, {{3, 2, 2}, {3, 2}}}, [](const V& x) { return ag::index(x[0], {x[1]}); }, {},
     [](const Shapes& s, uint64_t seed) { return V{randf(s[0], seed), rand_mask(s[1], seed + 1)}; }},
    // Without accumulate a repeated position keeps only its last write: distinct indices.
    {"index_put", {{{5, 3}, {4}, {4, 3}}, {{5, 3}, {2}, {3}}, {{4}, {4}, {}}, {{3, 2}, {0}, {0, 2}}, {{1, 4}, {1}, {1, 4}}},
     [](const V& x) { return ag::index_put(x[0], {x[1]}, x[2]); }, {}, x_indices(true, true)},
    {"index_put", {{{5, 3}, {7}, {7, 3}}, {{4, 3}, {2, 2}, {1, 3}}, {{6}, {9}, {}}, {{4, 2}, {3, 1}, {1, 2}, {3, 2}}},
     [](const V& x) { return ag::index_put(x[0], tail(x, 1, x.size() - 1), x.back(), true); }, {},
     x_indices(true, false)},
    {"index_put", {{{3, 4}, {3, 4}, {}}, {{3, 2, 2}, {3, 2}, {2}}},
     [](const V& x) { return ag::index_put(x[0], {x[1]}, x[2], false); }, {}, x_boolmask_values},
});

}  // namespace
}  // namespace kiln::test
