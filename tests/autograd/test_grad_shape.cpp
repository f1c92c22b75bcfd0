// Gradient-check rows of the differentiable views (autograd/view.h) and shape ops
// (autograd/shape_ops.h). Shapes that depend on the case (targets of view, expand, ...) are
// computed from the input inside `run`.
#include "grad_table.h"

namespace kiln::test {
namespace {

using V = std::vector<Tensor>;
using Cases = std::vector<std::vector<Shape>>;

// x's shape with a new leading 2 and every size-1 dim widened to 3.
Shape widened(const Tensor& x) {
  Shape s = x.shape();
  for (auto& d : s)
    if (d == 1) d = 3;
  s.insert(0, 2);
  return s;
}

// The pieces of a split, used unevenly: the last twice (its gradient adds), the second never
// (it gets zeros), the rest once.
Tensor use_pieces(const std::vector<Tensor>& p) {
  V used{ag::flatten(p.back()), ag::flatten(p.back())};
  for (size_t i = 0; i + 1 < p.size(); ++i)
    if (i != 1) used.push_back(ag::flatten(p[i]));
  return ag::cat(used);
}

const Cases kAny = {{{2, 3, 4}}, {{1}}, {{7}}, {{0, 3}}, {{}}, {{5, 1, 2}}};
const Cases kRank3 = {{{2, 3, 4}}, {{1, 5, 1}}, {{3, 1, 2}}, {{0, 2, 3}}, {{7, 2, 3}}};
const Cases kMatrix = {{{3, 4}}, {{2, 5, 3}}, {{1, 1}}, {{0, 3}}, {{4, 4}}, {{5, 2}}};

GradRow no_noncontig(GradRow r) {
  r.check_noncontiguous = false;
  return r;
}

static GradRegistrar views({
    // view needs strides it can reuse: the harness' non-contiguous inputs cannot be flattened.
    no_noncontig({"view", kAny, [](const V& x) { return ag::view(x[0], Shape{x[0].numel()}); }}),
    {"view", {{{6, 4}}, {{2, 3}}, {{1, 7}}}, [](const V& x) { return ag::view(x[0], {x[0].size(0), 1, -1}); }},
    {"reshape", kAny, [](const V& x) { return ag::reshape(x[0], Shape{1, x[0].numel(), 1}); }},
    {"permute", kRank3, [](const V& x) { return ag::permute(x[0], {2, 0, 1}); }},
    {"permute", {{{2, 3, 4}}, {{3, 1, 5}}}, [](const V& x) { return ag::permute(x[0], {-1, 0, -2}); }},
    {"transpose", {{{3, 4}}, {{2, 3, 5}}, {{1, 7}}, {{0, 3}}, {{5, 1}}},
     [](const V& x) { return ag::transpose(x[0], 0, -1); }},
    {"t", {{{3, 4}}, {{1, 5}}, {{7}}, {{}}, {{0, 2}}}, [](const V& x) { return ag::t(x[0]); }},
    {"expand", {{{3, 1}}, {{1, 1}}, {{1, 5}}, {{0, 1}}, {{2, 3}}, {{}}},
     [](const V& x) { return ag::expand(x[0], widened(x[0])); }},
    {"expand", {{{3, 1}}, {{4, 1}}}, [](const V& x) { return ag::expand(x[0], {-1, 6}); }},
    {"broadcast_to", {{{3, 1}}, {{1, 1}}, {{1, 5}}, {{0, 1}}, {{2, 3}}, {{}}},
     [](const V& x) { return ag::broadcast_to(x[0], widened(x[0])); }},
    {"squeeze", {{{1, 3, 1}}, {{2, 3}}, {{1}}, {{0, 1}}, {{1, 1, 5}}}, [](const V& x) { return ag::squeeze(x[0]); }},
    {"squeeze", {{{1, 3}}, {{2, 3}}, {{1, 0}}}, [](const V& x) { return ag::squeeze(x[0], 0); }},
    {"unsqueeze", {{{3}}, {{2, 3}}, {{0}}, {{1, 1}}, {{}}}, [](const V& x) { return ag::unsqueeze(x[0], 1 % (x[0].dim() + 1)); }},
    {"unsqueeze", {{{3}}, {{5, 2}}}, [](const V& x) { return ag::unsqueeze(x[0], -1); }},
    {"narrow", {{{5, 3}}, {{3}}, {{7, 2}}, {{4, 1, 2}}, {{2, 0}}},
     [](const V& x) { return ag::narrow(x[0], 0, 1, x[0].size(0) - 1); }},
    {"narrow", {{{3, 5}}, {{2, 7}}}, [](const V& x) { return ag::narrow(x[0], -1, 2, 3); }},
    {"slice", {{{5, 3}}, {{3}}, {{7, 2}}, {{4, 1, 2}}, {{2, 0}}, {{1, 4}}},
     [](const V& x) { return ag::slice(x[0], 0, 1, 100, 2); }},
    {"slice", {{{3, 7}}, {{2, 5}}}, [](const V& x) { return ag::slice(x[0], -1, -4, -1, 2); }},
    {"select", {{{5, 3}}, {{3}}, {{1, 2}}, {{4, 1, 2}}, {{2, 0}}}, [](const V& x) { return ag::select(x[0], 0, -1); }},
    {"select", {{{3, 5}}, {{2, 7, 2}}}, [](const V& x) { return ag::select(x[0], 1, 2); }},
    {"flatten", kAny, [](const V& x) { return ag::flatten(x[0]); }},
    {"flatten", kRank3, [](const V& x) { return ag::flatten(x[0], 1, -1); }},
    {"unflatten", {{{3, 4}}, {{6}}, {{2, 2}}, {{0, 4}}, {{1, 8}}},
     [](const V& x) { return ag::unflatten(x[0], -1, {2, x[0].size(-1) / 2}); }},
    {"unflatten", {{{6, 2}}}, [](const V& x) { return ag::unflatten(x[0], 0, {-1, 3}); }},
    {"contiguous", kAny, [](const V& x) { return ag::contiguous(x[0]); }},
    {"contiguous", {{{3, 4}}}, [](const V& x) { return ag::contiguous(ag::t(x[0])); }},
    {"clone", kAny, [](const V& x) { return ag::clone(x[0]); }},
    {"to", kAny, [](const V& x) { return ag::to(x[0], DType::f64); }},
    {"to", {{{3, 4}}, {{}}}, [](const V& x) { return ag::to(x[0], kCPU); }},
    // Through f32 and back: the rounding needs a wide finite-difference step.
    {"to", {{{3, 4}}, {{5}}}, [](const V& x) { return ag::to(ag::to(x[0], DType::f32), DType::f64); }, {}, nullptr,
     {}, true, ag::GradcheckOptions{1e-2, 1e-4, 1e-3, 0}},
});

static GradRegistrar shape_ops({
    {"cat", {{{2, 3}, {4, 3}}, {{1, 5}, {1, 5}, {2, 5}}, {{0, 3}, {2, 3}}, {{3}, {5}}, {{2, 3}, {0}}},
     [](const V& x) { return ag::cat(x, 0); }},
    {"cat", {{{2, 3}, {2, 1}}, {{3, 1, 2}, {3, 1, 5}}}, [](const V& x) { return ag::cat(x, -1); }},
    {"stack", {{{2, 3}, {2, 3}}, {{1}, {1}, {1}}, {{4}, {4}}, {{0, 2}, {0, 2}}, {{3, 1, 2}, {3, 1, 2}}},
     [](const V& x) { return ag::stack(x, 1); }},
    {"stack", {{{2, 3}, {2, 3}}}, [](const V& x) { return ag::stack(x, -1); }},
    {"split", {{{5, 3}}, {{4}}, {{1, 2}}, {{7, 2}}, {{2, 0}}},
     [](const V& x) { return use_pieces(ag::split(x[0], 2, 0)); }},
    {"split", {{{3, 2}}, {{6}}, {{5, 1}}, {{4, 0}}},
     [](const V& x) { return use_pieces(ag::split(x[0], std::vector<int64_t>{1, 2, x[0].size(0) - 3}, 0)); }},
    {"chunk", {{{2, 7}}, {{3, 3}}, {{1, 2}}, {{2, 1}}, {{0, 5}}, {{4, 6, 1}}},
     [](const V& x) { return use_pieces(ag::chunk(x[0], 3, 1)); }},
    {"pad", {{{3}}, {{2, 4}}, {{1, 1, 2}}, {{0, 3}}, {{5, 1}}},
     [](const V& x) { return ag::pad(x[0], {1, 2}, PadMode::constant, 0.5); }},
    {"pad", {{{4, 5}}, {{3, 3}}, {{2, 3, 4}}}, [](const V& x) { return ag::pad(x[0], {-1, 2, 1, -1}); }},
    {"pad", {{{4}}, {{2, 5}}, {{1, 3, 4}}, {{0, 4}}, {{3, 3}}},
     [](const V& x) { return ag::pad(x[0], {2, 1}, PadMode::reflect); }},
    {"pad", {{{3, 4}}, {{2, 4, 3}}}, [](const V& x) { return ag::pad(x[0], {1, 1, 2, 0}, PadMode::reflect); }},
    {"pad", {{{4}}, {{2, 5}}, {{1, 1}}, {{0, 4}}, {{3, 2}}},
     [](const V& x) { return ag::pad(x[0], {2, 3}, PadMode::replicate); }},
    {"pad", {{{3, 4}}, {{2, 1, 3}}}, [](const V& x) { return ag::pad(x[0], {1, 0, 2, 2}, PadMode::replicate); }},
    {"pad", {{{4}}, {{2, 5}}, {{1, 3}}, {{0, 4}}, {{3, 2}}},
     [](const V& x) { return ag::pad(x[0], {1, 2}, PadMode::circular); }},
    {"pad", {{{3, 4}}, {{2, 2, 3}}}, [](const V& x) { return ag::pad(x[0], {1, 1, 2, 1}, PadMode::circular); }},
    {"flip", {{{3, 4}}, {{2, 5, 3}}, {{1, 1}}, {{0, 3}}, {{7, 2}}}, [](const V& x) { return ag::flip(x[0], {0, -1}); }},
    {"roll", {{{3, 4}}, {{2, 5, 3}}, {{1, 1}}, {{0, 3}}, {{7, 2}}},
     [](const V& x) { return ag::roll(x[0], {2, -1}, {0, 1}); }},
    {"roll", {{{3, 4}}, {{5}}}, [](const V& x) { return ag::roll(x[0], {3}); }},
    {"tril", kMatrix, [](const V& x) { return ag::tril(x[0]); }},
    {"tril", {{{3, 4}}, {{4, 3}}}, [](const V& x) { return ag::tril(x[0], -1); }},
    {"triu", kMatrix, [](const V& x) { return ag::triu(x[0]); }},
    {"triu", {{{3, 4}}, {{4, 3}}}, [](const V& x) { return ag::triu(x[0], 1); }},
    {"repeat", {{{2, 3}}, {{3}}, {{1, 2, 1}}, {{0, 2}}, {{}}, {{5, 1}}},
     [](const V& x) { return ag::repeat(x[0], {2, 1, 3}); }},
    {"tile", {{{2, 3}}, {{3}}, {{2, 2, 2}}, {{0}}, {{}}, {{1, 5}}}, [](const V& x) { return ag::tile(x[0], {2, 3}); }},
});

}  // namespace
}  // namespace kiln::test
