// Tests of tensor/conv.cpp (conv2d, its backward ops, conv_transpose2d) and kernels/cpu/conv2d.cpp.
#include "kiln/kernels/cpu/parallel.h"
#include "support/op_table.h"

namespace kiln::test {
namespace {

struct ConvP {
  int64_t sh = 1, sw = 1, ph = 0, pw = 0, dh = 1, dw = 1, groups = 1;
};

int64_t out_size(int64_t in, int64_t k, int64_t s, int64_t p, int64_t d) { return (in + 2 * p - d * (k - 1) - 1) / s + 1; }

// Visits every (n, o, oh, ow, c, kh, kw) term of a direct convolution with its input position,
// skipping padding: f(y index, x index, w index). The seven loops of the definition.
template <class F>
void for_each_term(const Shape& xs, const Shape& ws, const ConvP& p, F&& f) {
  const int64_t B = xs[0], C = xs[1], H = xs[2], W = xs[3], O = ws[0], cg = ws[1], KH = ws[2], KW = ws[3];
  const int64_t OH = out_size(H, KH, p.sh, p.ph, p.dh), OW = out_size(W, KW, p.sw, p.pw, p.dw);
  const int64_t og = O / p.groups;
  for (int64_t n = 0; n < B; ++n)
    for (int64_t o = 0; o < O; ++o)
      for (int64_t oh = 0; oh < OH; ++oh)
        for (int64_t ow = 0; ow < OW; ++ow)
          for (int64_t c = 0; c < cg; ++c)
            for (int64_t kh = 0; kh < KH; ++kh)
              for (int64_t kw = 0; kw < KW; ++kw) {
                const int64_t ih = oh * p.sh - p.ph + kh * p.dh, iw = ow * p.sw - p.pw + kw * p.dw;
                if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
                const int64_t ci = (o / og) * cg + c;
                f(((n * O + o) * OH + oh) * OW + ow, ((n * C + ci) * H + ih) * W + iw, ((o * cg + c) * KH + kh) * KW + kw);
              }
}

Shape conv_out_shape(const Shape& xs, const Shape& ws, const ConvP& p) {
  return {xs[0], ws[0], out_size(xs[2], ws[2], p.sh, p.ph, p.dh), out_size(xs[3], ws[3], p.sw, p.pw, p.dw)};
}

Ref ref_conv2d(const Ref& x, const Ref& w, const Ref* bias, const ConvP& p) {
  Ref y(conv_out_shape(x.shape, w.shape, p));
  if (bias) {
    const int64_t O = y.shape[1], hw = y.shape[2] * y.shape[3];
    for (int64_t i = 0; i < y.numel(); ++i) y.v[size_t(i)] = bias->v[size_t((i / hw) % O)];
  }
  for_each_term(x.shape, w.shape, p, [&](int64_t yi, int64_t xi, int64_t wi) { y.v[size_t(yi)] += x.v[size_t(xi)] * w.v[size_t(wi)]; });
  return y;
}
Ref ref_backward_data(const Ref& dy, const Ref& w, const Shape& xs, const ConvP& p) {
  Ref dx(xs);
  for_each_term(xs, w.shape, p, [&](int64_t yi, int64_t xi, int64_t wi) { dx.v[size_t(xi)] += dy.v[size_t(yi)] * w.v[size_t(wi)]; });
  return dx;
}
Ref ref_backward_weight(const Ref& dy, const Ref& x, const Shape& ws, const ConvP& p) {
  Ref dw(ws);
  for_each_term(x.shape, ws, p, [&](int64_t yi, int64_t xi, int64_t wi) { dw.v[size_t(wi)] += dy.v[size_t(yi)] * x.v[size_t(xi)]; });
  return dw;
}
// conv_transpose2d(x, w) = the input gradient of the convolution mapping its output back to x.
Ref ref_conv_transpose2d(const Ref& x, const Ref& w, const Ref& bias, const ConvP& p, int64_t oph, int64_t opw) {
  const int64_t Cout = w.shape[1] * p.groups;
  const int64_t H = (x.shape[2] - 1) * p.sh - 2 * p.ph + p.dh * (w.shape[2] - 1) + oph + 1;
  const int64_t W = (x.shape[3] - 1) * p.sw - 2 * p.pw + p.dw * (w.shape[3] - 1) + opw + 1;
  Ref y = ref_backward_data(x, w, Shape{x.shape[0], Cout, H, W}, p);
  for (int64_t i = 0; i < y.numel(); ++i) y.v[size_t(i)] += bias.v[size_t((i / (H * W)) % Cout)];
  return y;
}

const Tol kConvTol{1e-5, 1e-4};
const std::vector<DType> kFloat{DType::f32, DType::f64};

OpRow conv_row(const std::string& name, ConvP p, std::vector<std::vector<Shape>> cases, bool with_bias,
               std::vector<DType> dtypes = kFloat, Tol tol = kConvTol) {
  OpRow r;
  r.name = name;
  r.cases = std::move(cases);
  r.run = [=](const std::vector<Tensor>& in) {
    return conv2d(in[0], in[1], with_bias ? in[2] : Tensor(), {p.sh, p.sw}, {p.ph, p.pw}, {p.dh, p.dw}, p.groups);
  };
  r.ref = [=](const std::vector<Ref>& in) { return ref_conv2d(in[0], in[1], with_bias ? &in[2] : nullptr, p); };
  r.dtypes = std::move(dtypes);
  r.tol = tol;
  r.differentiable = true;
  return r;
}

std::vector<OpRow> conv_rows() {
  std::vector<OpRow> rows;
  const ConvP plain{};
  rows.push_back(conv_row("conv2d", plain,
                          {{{1, 1, 1, 1}, {1, 1, 1, 1}},
                           {{2, 3, 5, 7}, {4, 3, 3, 3}},
                           {{0, 3, 5, 5}, {2, 3, 3, 3}},
                           {{2, 5, 11, 13}, {3, 5, 2, 3}},
                           {{1, 17, 9, 9}, {19, 17, 1, 1}},
                           {{2, 8, 17, 19}, {16, 8, 3, 3}},
                           {{1, 8, 64, 61}, {4, 8, 3, 3}}},  // several column tiles (kernels/cpu/conv2d.cpp)
                          false));
  rows.push_back(conv_row("conv2d_half", plain, {{{2, 3, 5, 7}, {4, 3, 3, 3}}, {{1, 17, 9, 9}, {19, 17, 1, 1}}}, false,
                          {DType::f16, DType::bf16}, Tol{1.6e-2, 5e-2}));
  rows.push_back(conv_row("conv2d_bias_stride2_pad1", ConvP{2, 2, 1, 1, 1, 1, 1},
                          {{{2, 3, 7, 9}, {4, 3, 3, 3}, {4}}, {{1, 2, 2, 2}, {3, 2, 3, 3}, {3}},
                           {{3, 4, 13, 11}, {5, 4, 5, 3}, {5}},
                           {{1, 8, 127, 121}, {4, 8, 3, 3}, {4}}},  // several im2col tiles
                          true));
  rows.push_back(conv_row("conv2d_dilation2_groups2", ConvP{1, 2, 2, 1, 2, 2, 2},
                          {{{2, 4, 9, 8}, {6, 2, 3, 3}}, {{1, 2, 5, 5}, {2, 1, 2, 2}}}, false));
  rows.push_back(conv_row("conv2d_depthwise", ConvP{1, 1, 1, 1, 1, 1, 5},
                          {{{2, 5, 7, 6}, {5, 1, 3, 3}}, {{1, 5, 1, 1}, {10, 1, 3, 3}}}, false));

  // Backward data: inputs x (for its shape only), w, dy.
  const ConvP bp{2, 1, 1, 0, 1, 2, 2};
  OpRow bd;
  bd.name = "conv2d_backward_data";
  bd.cases = {{{2, 4, 7, 9}, {6, 2, 3, 3}, {2, 6, 4, 5}}, {{1, 2, 5, 5}, {2, 1, 1, 1}, {1, 2, 4, 5}},
              {{3, 6, 11, 8}, {4, 3, 2, 2}, {3, 4, 6, 6}}, {{1, 32, 80, 60}, {4, 16, 3, 3}, {1, 4, 40, 56}}};
  bd.run = [=](const std::vector<Tensor>& in) {
    return conv2d_backward_data(in[2], in[1], in[0].shape(), {bp.sh, bp.sw}, {bp.ph, bp.pw}, {bp.dh, bp.dw}, bp.groups);
  };
  bd.ref = [=](const std::vector<Ref>& in) { return ref_backward_data(in[2], in[1], in[0].shape, bp); };
  bd.dtypes = kFloat;
  bd.tol = kConvTol;
  rows.push_back(bd);

  // Stride phases (Note [Input gradient by phases]): stride 3 with a 2-tap kernel of dilation 2
  // along h leaves phase 1 without taps (those rows of dx are zero); stride 2 along w.
  const ConvP pp{3, 2, 2, 1, 2, 1, 1};
  OpRow bd_phase = bd;
  bd_phase.name = "conv2d_backward_data_phases";
  bd_phase.cases = {{{2, 3, 10, 9}, {4, 3, 2, 3}, {2, 4, 4, 5}}, {{1, 3, 7, 8}, {2, 3, 3, 2}, {1, 2, 3, 5}}};
  bd_phase.run = [=](const std::vector<Tensor>& in) {
    return conv2d_backward_data(in[2], in[1], in[0].shape(), {pp.sh, pp.sw}, {pp.ph, pp.pw}, {pp.dh, pp.dw}, pp.groups);
  };
  bd_phase.ref = [=](const std::vector<Ref>& in) { return ref_backward_data(in[2], in[1], in[0].shape, pp); };
  rows.push_back(bd_phase);

  // Pointwise backward data (the GEMM-only path): inputs x (shape), w, dy.
  OpRow bd1 = bd;
  bd1.name = "conv2d_backward_data_1x1";
  bd1.cases = {{{2, 6, 5, 7}, {4, 6, 1, 1}, {2, 4, 5, 7}}, {{1, 3, 1, 1}, {2, 3, 1, 1}, {1, 2, 1, 1}}};
  bd1.run = [](const std::vector<Tensor>& in) { return conv2d_backward_data(in[2], in[1], in[0].shape()); };
  bd1.ref = [](const std::vector<Ref>& in) { return ref_backward_data(in[2], in[1], in[0].shape, ConvP{}); };
  rows.push_back(bd1);

  // Stride 1 goes through the shifted-rows path (Note [Convolution as shifted rows]); a padding
  // larger than the kernel's extent falls back to im2col.
  for (ConvP sp : {ConvP{1, 1, 1, 2, 2, 1, 2}, ConvP{1, 1, 2, 1, 1, 1, 1}}) {
    OpRow r;
    r.name = sp.ph == 1 ? "conv2d_backward_data_stride1" : "conv2d_backward_data_stride1_wide_pad";
    const int64_t cg = sp.groups == 2 ? 2 : 3;
    r.cases = sp.ph == 1 ? std::vector<std::vector<Shape>>{{{2, 4, 7, 9}, {6, cg, 3, 2}, {2, 6, 5, 12}},
                                                          {{1, 4, 30, 41}, {4, cg, 3, 3}, {1, 4, 28, 43}}}
                         : std::vector<std::vector<Shape>>{{{2, 3, 6, 5}, {4, cg, 1, 2}, {2, 4, 10, 6}}};
    r.run = [=](const std::vector<Tensor>& in) {
      return conv2d_backward_data(in[2], in[1], in[0].shape(), {sp.sh, sp.sw}, {sp.ph, sp.pw}, {sp.dh, sp.dw}, sp.groups);
    };
    r.ref = [=](const std::vector<Ref>& in) { return ref_backward_data(in[2], in[1], in[0].shape, sp); };
    r.dtypes = kFloat;
    r.tol = kConvTol;
    rows.push_back(r);
    OpRow rw;
    rw.name = sp.ph == 1 ? "conv2d_backward_weight_stride1" : "conv2d_backward_weight_stride1_wide_pad";
    rw.cases.clear();
    for (auto& c : r.cases) rw.cases.push_back({c[2], c[0], c[1]});
    rw.cases.push_back({{9, 6, 5, 12}, {9, 4, 7, 9}, {6, cg, 3, 2}});
    if (sp.ph != 1) rw.cases.back() = {{9, 4, 10, 6}, {9, 3, 6, 5}, {4, cg, 1, 2}};
    rw.run = [=](const std::vector<Tensor>& in) {
      return conv2d_backward_weight(in[0], in[1], in[2].shape(), {sp.sh, sp.sw}, {sp.ph, sp.pw}, {sp.dh, sp.dw},
                                    sp.groups);
    };
    rw.ref = [=](const std::vector<Ref>& in) { return ref_backward_weight(in[0], in[1], in[2].shape, sp); };
    rw.dtypes = kFloat;
    rw.tol = kConvTol;
    rows.push_back(rw);
  }

  // Backward weight: inputs dy, x, w (for its shape only).
  OpRow bw;
  bw.name = "conv2d_backward_weight";
  bw.cases = {{{2, 6, 4, 5}, {2, 4, 7, 9}, {6, 2, 3, 3}}, {{1, 2, 4, 5}, {1, 2, 5, 5}, {2, 1, 1, 1}},
              {{17, 4, 6, 6}, {17, 6, 11, 8}, {4, 3, 2, 2}}, {{0, 2, 4, 5}, {0, 2, 5, 5}, {2, 1, 1, 1}},
              {{2, 4, 40, 56}, {2, 32, 80, 60}, {4, 16, 3, 3}}};
  bw.run = [=](const std::vector<Tensor>& in) {
    return conv2d_backward_weight(in[0], in[1], in[2].shape(), {bp.sh, bp.sw}, {bp.ph, bp.pw}, {bp.dh, bp.dw},
                                  bp.groups);
  };
  bw.ref = [=](const std::vector<Ref>& in) { return ref_backward_weight(in[0], in[1], in[2].shape, bp); };
  bw.dtypes = kFloat;
  bw.tol = kConvTol;
  rows.push_back(bw);

  OpRow bb;
  bb.name = "conv2d_backward_bias";
  bb.cases = {{{2, 3, 4, 5}}, {{0, 3, 2, 2}}, {{1, 1, 1, 1}}, {{4, 7, 13, 11}}};
  bb.run = [](const std::vector<Tensor>& in) { return conv2d_backward_bias(in[0]); };
  bb.ref = [](const std::vector<Ref>& in) { return ref_reduce(in[0], {0, 2, 3}, false, [](const std::vector<double>& v) {
                                              double s = 0;
                                              for (double x : v) s += x;
                                              return s;
                                            }); };
  bb.dtypes = {DType::f32, DType::f64, DType::f16, DType::bf16};
  bb.tol = Tol{1.6e-2, 1e-3};
  rows.push_back(bb);

  // conv_transpose2d: inputs x, w, bias; stride 2, padding 1, output_padding 1, groups 2.
  const ConvP tp{2, 2, 1, 1, 1, 1, 2};
  OpRow ct;
  ct.name = "conv_transpose2d";
  ct.cases = {{{2, 4, 3, 4}, {4, 3, 3, 3}, {6}}, {{1, 2, 1, 1}, {2, 1, 3, 3}, {2}}, {{2, 6, 7, 5}, {6, 4, 4, 3}, {8}}};
  ct.run = [=](const std::vector<Tensor>& in) {
    return conv_transpose2d(in[0], in[1], in[2], {tp.sh, tp.sw}, {tp.ph, tp.pw}, {1, 1}, tp.groups);
  };
  ct.ref = [=](const std::vector<Ref>& in) { return ref_conv_transpose2d(in[0], in[1], in[2], tp, 1, 1); };
  ct.dtypes = kFloat;
  ct.tol = kConvTol;
  ct.differentiable = true;
  rows.push_back(ct);
  OpRow cth = ct;
  cth.name = "conv_transpose2d_half";
  cth.cases = {ct.cases[0]};
  cth.dtypes = {DType::f16, DType::bf16};
  cth.tol = Tol{1.6e-2, 5e-2};
  cth.differentiable = false;
  rows.push_back(cth);

  // Shapes for the implicit GEMM of kernels/cpu/conv2d.cpp (Note [Convolution as an implicit GEMM]):
  // register tiles of output positions that straddle two images (OH*OW not a multiple of the
  // tile width), several column panels, more output channels than one row block (170 > 160),
  // stride-2 position runs, and the bias added by the GEMM.
  rows.push_back(conv_row("conv2d_implicit_bias", ConvP{1, 1, 1, 1, 1, 1, 1},
                          {{{5, 6, 10, 13}, {9, 6, 3, 3}, {9}}, {{3, 4, 20, 21}, {170, 4, 1, 3}, {170}},
                           {{2, 3, 37, 29}, {8, 3, 3, 3}, {8}}},
                          true));
  rows.push_back(conv_row("conv2d_implicit_stride2", ConvP{2, 2, 3, 3, 1, 1, 1},
                          {{{3, 3, 23, 25}, {8, 3, 7, 7}, {8}}, {{2, 5, 61, 40}, {11, 5, 7, 7}, {11}}}, true));
  rows.push_back(conv_row("conv2d_implicit_pointwise_groups", ConvP{1, 1, 0, 0, 1, 1, 2},
                          {{{3, 16, 7, 9}, {66, 8, 1, 1}}}, false));
  OpRow bdp;
  bdp.name = "conv2d_backward_data_pointwise_groups";
  bdp.cases = {{{3, 16, 7, 9}, {66, 8, 1, 1}, {3, 66, 7, 9}}, {{2, 4, 1, 1}, {6, 2, 1, 1}, {2, 6, 1, 1}}};
  bdp.run = [](const std::vector<Tensor>& in) {
    return conv2d_backward_data(in[2], in[1], in[0].shape(), 1, 0, 1, 2);
  };
  bdp.ref = [](const std::vector<Ref>& in) { return ref_backward_data(in[2], in[1], in[0].shape, ConvP{1, 1, 0, 0, 1, 1, 2}); };
  bdp.dtypes = kFloat;
  bdp.tol = kConvTol;
  rows.push_back(bdp);
  // Weight gradient with positions over many depth blocks, stride 2 (step-2 runs) and stride 1.
  for (ConvP sp : {ConvP{2, 2, 1, 1, 1, 1, 1}, ConvP{1, 1, 1, 1, 1, 1, 1}}) {
    OpRow r;
    r.name = sp.sh == 2 ? "conv2d_backward_weight_implicit_stride2" : "conv2d_backward_weight_implicit";
    const int64_t oh = out_size(31, 3, sp.sh, 1, 1), ow = out_size(37, 3, sp.sw, 1, 1);
    // The first case has a small dw (partial sums over image chunks), the second one with at
    // least 2^18 elements (one product split over columns).
    r.cases = {{{3, 50, oh, ow}, {3, 17, 31, 37}, {50, 17, 3, 3}},
               {{2, 520, out_size(6, 3, sp.sh, 1, 1), out_size(7, 3, sp.sw, 1, 1)}, {2, 57, 6, 7}, {520, 57, 3, 3}}};
    r.run = [=](const std::vector<Tensor>& in) {
      return conv2d_backward_weight(in[0], in[1], in[2].shape(), {sp.sh, sp.sw}, {sp.ph, sp.pw}, 1, 1);
    };
    r.ref = [=](const std::vector<Ref>& in) { return ref_backward_weight(in[0], in[1], in[2].shape, sp); };
    r.dtypes = kFloat;
    r.tol = Tol{1e-5, 1e-3};  // f32 sums of ~3400 unit-scale products (values up to ~200)
    rows.push_back(r);
  }

  // The direct kernel (Note [Direct convolution], AVX-512 f32): stride 1, a multiple of 16 input
  // channels. Output channel counts cover every sliver split (16 and 20: one masked sliver of 32;
  // 32; 40: one masked 48; 64: 32 + 32; 80: 48 + 32; 112: 48 + 32 + 32; 128: 48 + 48 + 32), maps
  // down to 2 x 2 (every position a corner), tiles that end part-way, a kernel taller than the map
  // and a padding wider than the kernel (rows with no valid tap: the bias alone).
  rows.push_back(conv_row("conv2d_direct_strided", ConvP{2, 2, 1, 1},
                          {{{2, 16, 8, 8}, {32, 16, 3, 3}, {32}},
                           {{1, 32, 7, 5}, {48, 32, 3, 3}, {48}},
                           {{3, 16, 4, 4}, {64, 16, 1, 1}, {64}}},  // border outputs without taps
                          true));
  rows.push_back(conv_row("conv2d_direct_strided_3_2", ConvP{3, 2, 0, 1}, {{{2, 16, 7, 9}, {16, 16, 3, 2}, {16}}}, true));
  for (ConvP sp : {ConvP{1, 1, 1, 1}, ConvP{1, 1, 2, 1}}) {
    const bool pad1 = sp.ph == 1;
    rows.push_back(conv_row(pad1 ? "conv2d_direct" : "conv2d_direct_pads", sp,
                            pad1 ? std::vector<std::vector<Shape>>{{{2, 16, 8, 8}, {32, 16, 3, 3}, {32}},
                                                                  {{3, 32, 4, 4}, {64, 32, 3, 3}, {64}},
                                                                  {{1, 16, 2, 2}, {128, 16, 3, 3}, {128}},
                                                                  {{2, 16, 5, 7}, {80, 16, 3, 3}, {80}},
                                                                  {{1, 48, 3, 3}, {20, 48, 3, 3}, {20}},
                                                                  {{9, 16, 3, 5}, {112, 16, 3, 3}, {112}},
                                                                  // > 768 KB of input: 3 or 4 image blocks
                                                                  {{13, 64, 16, 16}, {16, 64, 3, 3}, {16}}}
                                 : std::vector<std::vector<Shape>>{{{2, 16, 3, 6}, {40, 16, 5, 3}, {40}},
                                                                  {{1, 32, 2, 3}, {16, 32, 1, 1}, {16}},
                                                                  {{2, 16, 4, 4}, {64, 16, 5, 3}, {64}}},
                            true));
  }
  // Its input gradient (stride 1, a multiple of 16 output channels): inputs x (shape), w, dy.
  for (ConvP sp : {ConvP{1, 1, 1, 1}, ConvP{1, 1, 2, 1}, ConvP{}, ConvP{2, 2, 1, 1}, ConvP{3, 2, 0, 1}}) {
    OpRow r;
    r.name = sp.sh == 2   ? "conv2d_backward_data_direct_stride2"
             : sp.sh == 3 ? "conv2d_backward_data_direct_stride_3_2"
             : sp.ph == 1 ? "conv2d_backward_data_direct"
             : sp.ph == 2 ? "conv2d_backward_data_direct_pads"
                          : "conv2d_backward_data_direct_unpadded";
    if (sp.sh == 2)
      r.cases = {{{2, 20, 8, 8}, {32, 20, 3, 3}, {2, 32, 4, 4}}, {{1, 8, 7, 5}, {48, 8, 3, 3}, {1, 48, 4, 3}}};
    else if (sp.sh == 3)
      r.cases = {{{2, 5, 7, 9}, {16, 5, 3, 2}, {2, 16, 2, 5}}, {{1, 24, 8, 6}, {32, 24, 3, 2}, {1, 32, 2, 4}}};
    else if (sp.ph == 1)
      r.cases = {{{2, 24, 8, 8}, {32, 24, 3, 3}, {2, 32, 8, 8}},
                 {{1, 64, 4, 4}, {16, 64, 3, 3}, {1, 16, 4, 4}},
                 {{3, 100, 2, 2}, {48, 100, 3, 3}, {3, 48, 2, 2}},
                 {{2, 7, 3, 9}, {64, 7, 3, 3}, {2, 64, 3, 9}},
                 {{13, 8, 16, 16}, {64, 8, 3, 3}, {13, 64, 16, 16}}};  // dy of 3 or 4 image blocks
    else if (sp.ph == 2)
      r.cases = {{{2, 5, 6, 5}, {16, 5, 5, 3}, {2, 16, 6, 5}}, {{1, 40, 3, 4}, {32, 40, 5, 3}, {1, 32, 3, 4}}};
    else
      r.cases = {{{1, 16, 7, 9}, {16, 16, 3, 3}, {1, 16, 5, 7}}, {{2, 33, 4, 6}, {32, 33, 2, 4}, {2, 32, 3, 3}}};
    r.run = [=](const std::vector<Tensor>& in) {
      return conv2d_backward_data(in[2], in[1], in[0].shape(), {sp.sh, sp.sw}, {sp.ph, sp.pw}, 1, 1);
    };
    r.ref = [=](const std::vector<Ref>& in) { return ref_backward_data(in[2], in[1], in[0].shape, sp); };
    r.dtypes = kFloat;
    r.tol = kConvTol;
    rows.push_back(r);
    // The direct weight gradient (a multiple of 16 output channels, output maps of 64 to 256
    // positions): inputs dy, x, w. Input channels not a multiple of 8 too (a partial row group).
    OpRow rw;
    rw.name = "conv2d_backward_weight_direct" + r.name.substr(std::string("conv2d_backward_data_direct").size());
    if (sp.sh == 2)
      rw.cases = {{{2, 32, 8, 8}, {2, 20, 16, 16}, {32, 20, 3, 3}}, {{1, 48, 9, 8}, {1, 8, 17, 15}, {48, 8, 3, 3}}};
    else if (sp.sh == 3)
      rw.cases = {{{2, 16, 8, 8}, {2, 5, 25, 15}, {16, 5, 3, 2}}, {{1, 32, 8, 10}, {1, 24, 26, 18}, {32, 24, 3, 2}}};
    else if (sp.ph == 1)
      rw.cases = {{{2, 32, 8, 8}, {2, 24, 8, 8}, {32, 24, 3, 3}},
                  {{1, 48, 9, 9}, {1, 13, 9, 9}, {48, 13, 3, 3}},
                  {{2, 80, 8, 10}, {2, 16, 8, 10}, {80, 16, 3, 3}},
                  {{1, 16, 16, 16}, {1, 5, 16, 16}, {16, 5, 3, 3}},
                  {{2, 112, 7, 12}, {2, 8, 7, 12}, {112, 8, 3, 3}},
                  // 30 images of 128 x 8 x 8: two chunks of partial sums (23, 7)
                  {{30, 16, 8, 8}, {30, 128, 8, 8}, {16, 128, 3, 3}}};
    else if (sp.ph == 2)
      rw.cases = {{{2, 16, 8, 8}, {2, 5, 8, 8}, {16, 5, 5, 3}}, {{1, 32, 9, 8}, {1, 40, 9, 8}, {32, 40, 5, 3}}};
    else
      rw.cases = {{{1, 16, 8, 10}, {1, 16, 10, 12}, {16, 16, 3, 3}}, {{2, 32, 8, 8}, {2, 33, 9, 11}, {32, 33, 2, 4}}};
    rw.run = [=](const std::vector<Tensor>& in) {
      return conv2d_backward_weight(in[0], in[1], in[2].shape(), {sp.sh, sp.sw}, {sp.ph, sp.pw}, 1, 1);
    };
    rw.ref = [=](const std::vector<Ref>& in) { return ref_backward_weight(in[0], in[1], in[2].shape, sp); };
    rw.dtypes = kFloat;
    // Sums of up to 1920 f32 products of values in (-3, 3), as conv2d_backward_weight_implicit:
    // a plain f32 running sum of 3328 such products is off by up to ~1e-3 (numpy, 4608 sums).
    rw.tol = Tol{1e-5, 1e-3};
    rows.push_back(rw);
  }
  // The weight gradient along rows (Note [Weight gradient along rows], AVX-512 f32: depth under 48
  // or fewer than 8 output channels per group): inputs dy, x, w. Output channels and depth that end
  // part-way through a register block (4 x 6), rows of more than 16 columns (a masked tail) and of
  // fewer, stride 2 read as phases (7 or more output columns) and read every other column (fewer;
  // and stride (1, 2), which is never split into phases),
  // dilation, groups, and a stem-like case with 8 chunks of partial sums.
  struct RowsCase {
    const char* name;
    ConvP p;
    std::vector<std::vector<Shape>> cases;
  };
  for (const RowsCase& rc : std::vector<RowsCase>{
           {"conv2d_backward_weight_rows",
            ConvP{1, 1, 1, 1},
            {{{3, 5, 31, 37}, {3, 2, 31, 37}, {5, 2, 3, 3}}, {{2, 7, 6, 5}, {2, 1, 6, 5}, {7, 1, 3, 3}}}},
           {"conv2d_backward_weight_rows_stride2",
            ConvP{2, 2, 1, 1},
            {{{4, 7, 15, 15}, {4, 3, 30, 30}, {7, 3, 3, 3}},
             {{5, 3, 5, 6}, {5, 16, 9, 11}, {3, 16, 3, 3}},  // 6 columns: every other input column
             {{8, 32, 32, 32}, {8, 3, 64, 64}, {32, 3, 3, 3}}}},  // 8 chunks
           {"conv2d_backward_weight_rows_stride_1_2",  // every other column, 20 per row
            ConvP{1, 2, 1, 1},
            {{{2, 5, 7, 20}, {2, 3, 7, 40}, {5, 3, 3, 3}}}},
           {"conv2d_backward_weight_rows_dilation", ConvP{1, 1, 2, 1, 2, 1}, {{{2, 6, 12, 20}, {2, 4, 12, 20}, {6, 4, 3, 3}}}},
           {"conv2d_backward_weight_rows_groups",
            ConvP{1, 1, 1, 1, 1, 1, 2},
            {{{2, 6, 10, 18}, {2, 8, 10, 18}, {6, 4, 3, 3}}}}}) {
    OpRow r;
    r.name = rc.name;
    r.cases = rc.cases;
    const ConvP sp = rc.p;
    r.run = [=](const std::vector<Tensor>& in) {
      return conv2d_backward_weight(in[0], in[1], in[2].shape(), {sp.sh, sp.sw}, {sp.ph, sp.pw}, {sp.dh, sp.dw},
                                    sp.groups);
    };
    r.ref = [=](const std::vector<Ref>& in) { return ref_backward_weight(in[0], in[1], in[2].shape, sp); };
    r.dtypes = kFloat;
    r.tol = Tol{1e-5, 1e-3};  // sums of up to 8192 f32 products of values in (-3, 3), as above
    rows.push_back(r);
  }
  return rows;
}
static OpRegistrar reg(with_parity(conv_rows(), Parity::accumulated));

// ---- golden fixtures from torch (tools/golden/gen_conv.py) -------------------------------------

class ConvGolden : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { f_ = new std::map<std::string, Tensor>(load_fixture("conv")); }
  static void TearDownTestSuite() { delete f_; }
  static Tensor get(const std::string& key, DType dt) { return f_->at(key).to(dt); }
  static int64_t param(const std::string& key) { return int64_t(fixture_scalar(*f_, key)); }
  static std::map<std::string, Tensor>* f_;
};
std::map<std::string, Tensor>* ConvGolden::f_ = nullptr;

TEST_F(ConvGolden, Conv2dForwardAndBackward) {
  for (const char* name : {"stride2", "dilation2", "groups2", "depthwise", "pointwise", "strided1x1"}) {
    for (DType dt : {DType::f64, DType::f32}) {
      const std::string n = name;
      SCOPED_TRACE(n + " " + dtype_name(dt));
      const Size2 s{param(n + ".stride_h"), param(n + ".stride_w")}, p{param(n + ".pad_h"), param(n + ".pad_w")};
      const Size2 d{param(n + ".dil_h"), param(n + ".dil_w")};
      const int64_t g = param(n + ".groups");
      const double tol = dt == DType::f64 ? 1e-10 : 1e-4;
      Tensor x = get(n + ".x", dt), w = get(n + ".w", dt), b = get(n + ".b", dt), dy = get(n + ".dy", dt);
      EXPECT_TRUE(tensors_close(conv2d(x, w, b, s, p, d, g), get(n + ".y", DType::f64), tol, tol));
      EXPECT_TRUE(tensors_close(conv2d_backward_data(dy, w, x.shape(), s, p, d, g), get(n + ".dx", DType::f64), tol, tol));
      EXPECT_TRUE(tensors_close(conv2d_backward_weight(dy, x, w.shape(), s, p, d, g), get(n + ".dw", DType::f64), tol, tol));
      EXPECT_TRUE(tensors_close(conv2d_backward_bias(dy), get(n + ".db", DType::f64), tol, tol));
    }
  }
}

TEST_F(ConvGolden, ConvTranspose2dForwardAndBackward) {
  for (const char* name : {"t_stride2", "t_groups2"}) {
    for (DType dt : {DType::f64, DType::f32}) {
      const std::string n = name;
      SCOPED_TRACE(n + " " + dtype_name(dt));
      const Size2 s{param(n + ".stride_h"), param(n + ".stride_w")}, p{param(n + ".pad_h"), param(n + ".pad_w")};
      const Size2 op{param(n + ".outpad_h"), param(n + ".outpad_w")}, d{param(n + ".dil_h"), param(n + ".dil_w")};
      const int64_t g = param(n + ".groups");
      const double tol = dt == DType::f64 ? 1e-10 : 1e-4;
      Tensor x = get(n + ".x", dt), w = get(n + ".w", dt), b = get(n + ".b", dt), dy = get(n + ".dy", dt);
      EXPECT_TRUE(tensors_close(conv_transpose2d(x, w, b, s, p, op, g, d), get(n + ".y", DType::f64), tol, tol));
      EXPECT_TRUE(tensors_close(conv_transpose2d_backward_data(dy, w, s, p, g, d), get(n + ".dx", DType::f64), tol, tol));
      EXPECT_TRUE(tensors_close(conv_transpose2d_backward_weight(dy, x, w.shape(), s, p, g, d), get(n + ".dw", DType::f64),
                                tol, tol));
      EXPECT_TRUE(tensors_close(conv2d_backward_bias(dy), get(n + ".db", DType::f64), tol, tol));
    }
  }
}

// ---- determinism, misuse ---------------------------------------------------------------------------

// Runs `outputs` on one thread and on two and expects the same bits in every output.
template <class F>
void expect_same_bits_one_or_two_threads(F&& outputs) {
  const int saved = cpu::num_threads();
  std::vector<Tensor> r[2];
  for (int t = 0; t < 2; ++t) {
    cpu::set_num_threads(t + 1);
    r[t] = outputs();
  }
  cpu::set_num_threads(saved);
  ASSERT_EQ(r[0].size(), r[1].size());
  for (size_t k = 0; k < r[0].size(); ++k) EXPECT_TRUE(tensors_equal(r[0][k], r[1][k])) << "output " << k;
}

TEST(Conv, SameBitsWithOneOrTwoThreads) {
  Tensor x = random_tensor({17, 6, 9, 10}, DType::f32, Domain::any, 1);
  Tensor w = random_tensor({8, 6, 3, 3}, DType::f32, Domain::any, 2);
  Tensor dy = random_tensor({17, 8, 9, 10}, DType::f32, Domain::any, 3);
  expect_same_bits_one_or_two_threads([&] {
    return std::vector<Tensor>{conv2d(x, w, {}, 1, 1), conv2d_backward_data(dy, w, x.shape(), 1, 1),
                               conv2d_backward_weight(dy, x, w.shape(), 1, 1)};
  });
}

TEST(Conv, SameBitsWithOneOrTwoThreadsStride2Bias) {
  Tensor x = random_tensor({6, 16, 30, 29}, DType::f32, Domain::any, 4);
  Tensor w = random_tensor({40, 16, 3, 3}, DType::f32, Domain::any, 5);
  Tensor b = random_tensor({40}, DType::f32, Domain::any, 6);
  Tensor dy = random_tensor({6, 40, 15, 15}, DType::f32, Domain::any, 7);
  expect_same_bits_one_or_two_threads([&] {
    return std::vector<Tensor>{conv2d(x, w, b, 2, 1), conv2d_backward_data(dy, w, x.shape(), 2, 1),
                               conv2d_backward_weight(dy, x, w.shape(), 2, 1)};
  });
}

// The direct kernels (f32, C % 16 == 0, small maps): stride 1 and 2, forward, input gradient and
// weight gradient.
TEST(Conv, SameBitsWithOneOrTwoThreadsDirect) {
  Tensor x = random_tensor({5, 32, 9, 7}, DType::f32, Domain::any, 8);
  Tensor w = random_tensor({80, 32, 3, 3}, DType::f32, Domain::any, 9);
  Tensor b = random_tensor({80}, DType::f32, Domain::any, 10);
  Tensor dy1 = random_tensor({5, 80, 9, 7}, DType::f32, Domain::any, 11);
  Tensor dy2 = random_tensor({5, 80, 5, 4}, DType::f32, Domain::any, 12);
  Tensor xw = random_tensor({40, 64, 8, 8}, DType::f32, Domain::any, 13);  // weight gradient: two chunks
  Tensor dyw1 = random_tensor({40, 80, 8, 8}, DType::f32, Domain::any, 14);
  Tensor dyw2 = random_tensor({40, 32, 8, 8}, DType::f32, Domain::any, 15);
  expect_same_bits_one_or_two_threads([&] {
    return std::vector<Tensor>{conv2d(x, w, b, 1, 1),
                               conv2d(x, w, b, 2, 1),
                               conv2d_backward_data(dy1, w, x.shape(), 1, 1),
                               conv2d_backward_data(dy2, w, x.shape(), 2, 1),
                               conv2d_backward_weight(dyw1, xw, {80, 64, 3, 3}, 1, 1),
                               conv2d_backward_weight(dyw2, xw, {32, 64, 3, 3}, 1, 1)};
  });
}

// The weight gradient along rows: chunks of partial sums fixed by the shape (8 here, and 2).
TEST(Conv, SameBitsWithOneOrTwoThreadsRows) {
  Tensor x = random_tensor({8, 3, 64, 64}, DType::f32, Domain::any, 16);
  Tensor dy = random_tensor({8, 32, 32, 32}, DType::f32, Domain::any, 17);
  Tensor x2 = random_tensor({64, 1, 28, 28}, DType::f32, Domain::any, 18);
  Tensor dy2 = random_tensor({64, 16, 14, 14}, DType::f32, Domain::any, 19);
  expect_same_bits_one_or_two_threads([&] {
    return std::vector<Tensor>{conv2d_backward_weight(dy, x, {32, 3, 3, 3}, 2, 1),
                               conv2d_backward_weight(dy2, x2, {16, 1, 3, 3}, 2, 1)};
  });
}

TEST(Conv, Misuse) {
  EXPECT_KILN_ERROR(conv2d(ones({1, 3, 5, 5}), ones({4, 2, 3, 3})), "conv2d: input has 3 channels, weight");
  EXPECT_KILN_ERROR(conv2d(ones({1, 4, 5, 5}), ones({3, 2, 3, 3}), {}, 1, 0, 1, 2), "3 output channels are not divisible by groups 2");
  EXPECT_KILN_ERROR(conv2d(ones({1, 3, 5, 5}), ones({3, 1, 3, 3}), {}, 1, 0, 1, 2), "3 input channels are not divisible by groups 2");
  EXPECT_KILN_ERROR(conv2d(ones({1, 1, 2, 2}), ones({1, 1, 3, 3})), "is larger than the padded input 2x2");
  EXPECT_KILN_ERROR(conv2d(ones({1, 1, 5, 5}), ones({1, 1, 3, 3}), {}, 1, 0, 3), "(7x7 with dilation) is larger");
  EXPECT_KILN_ERROR(conv2d(ones({1, 3, 5, 5}), ones({4, 3, 3})), "expected a 4-D weight");
  EXPECT_KILN_ERROR(conv2d(ones({3, 5, 5}), ones({4, 3, 3, 3})), "expected a 4-D input");
  EXPECT_KILN_ERROR(conv2d(ones({1, 3, 5, 5}), ones({4, 3, 3, 3}), ones({3})), "bias must have shape [4]");
  EXPECT_KILN_ERROR(conv2d(ones({1, 3, 5, 5}), ones({4, 3, 3, 3}), {}, 0), "stride must be positive");
  EXPECT_KILN_ERROR(conv2d(ones({1, 3, 5, 5}), ones({4, 3, 3, 3}), {}, 1, -1), "padding must be non-negative");
  EXPECT_KILN_ERROR(conv2d(ones({1, 3, 5, 5}), ones({4, 3, 3, 3}), {}, 1, 0, 1, 0), "groups must be positive");
  EXPECT_KILN_ERROR(conv2d(ones({1, 3, 5, 5}, DType::i64), ones({4, 3, 3, 3}, DType::i64)), "only floating dtypes");
  EXPECT_KILN_ERROR(conv2d(ones({1, 3, 5, 5}), ones({4, 3, 3, 3}, DType::f64)), "w has f64");
  EXPECT_KILN_ERROR(conv2d_backward_data(ones({1, 4, 2, 2}), ones({4, 3, 3, 3}), {1, 3, 5, 5}), "dy has shape [1, 4, 2, 2], expected [1, 4, 3, 3]");
  EXPECT_KILN_ERROR(conv2d_backward_weight(ones({1, 4, 3, 3}), ones({1, 3, 5, 5}), {4, 3, 3}), "expected a 4-D weight");
  EXPECT_KILN_ERROR(conv2d_backward_bias(ones({4})), "expected dy [B, O, ...]");
  EXPECT_KILN_ERROR(conv_transpose2d(ones({1, 3, 5, 5}), ones({4, 2, 3, 3})), "conv_transpose2d: input has 3 channels");
  EXPECT_KILN_ERROR(conv_transpose2d(ones({1, 4, 5, 5}), ones({4, 2, 3, 3}), {}, 2, 0, 2), "output_padding 2x2");
  EXPECT_KILN_ERROR(conv_transpose2d(ones({1, 4, 1, 1}), ones({4, 2, 1, 1}), {}, 1, 1), "is not positive");
  EXPECT_KILN_ERROR(conv_transpose2d(ones({1, 4, 5, 5}), ones({4, 2, 3, 3}), ones({3})), "bias must have shape [2]");
}

}  // namespace
}  // namespace kiln::test
