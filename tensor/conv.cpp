#include "kiln/tensor/conv.h"

#include "kiln/kernels/cpu/conv2d.h"
#include "kiln/tensor/creation.h"

#if KILN_HAVE_CUDA
#include "kiln/kernels/cuda/conv.h"
#include "kiln/kernels/cuda/runtime.h"
#endif

namespace kiln {
namespace {

using cpu::Conv2dGeom;

// ---- validation -----------------------------------------------------------------------------------

void check_params(const char* op, Size2 stride, Size2 padding, Size2 dilation, int64_t groups) {
  KILN_CHECK(groups >= 1, op, ": groups must be positive, got ", groups);
  KILN_CHECK(stride.h >= 1 && stride.w >= 1, op, ": stride must be positive, got ", stride.h, "x", stride.w);
  KILN_CHECK(dilation.h >= 1 && dilation.w >= 1, op, ": dilation must be positive, got ", dilation.h, "x",
             dilation.w);
  KILN_CHECK(padding.h >= 0 && padding.w >= 0, op, ": padding must be non-negative, got ", padding.h, "x",
             padding.w);
}

void check_float(const char* op, const Tensor& t, const char* arg) {
  KILN_CHECK(is_floating(t.dtype()), op, ": ", arg, " has dtype ", dtype_name(t.dtype()),
             ", only floating dtypes are supported");
}

void check_pair(const char* op, const Tensor& a, const char* an, const Tensor& b, const char* bn) {
  check_defined(a, op, an);
  check_defined(b, op, bn);
  check_same_device(a, b, op);
  check_float(op, a, an);
  KILN_CHECK(a.dtype() == b.dtype(), op, ": ", an, " has dtype ", dtype_name(a.dtype()), " but ", bn, " has ",
             dtype_name(b.dtype()));
}

// Geometry of the convolution of an input of shape xs by a weight of shape ws, validated.
Conv2dGeom make_geom(const char* op, const Shape& xs, const Shape& ws, Size2 stride, Size2 padding, Size2 dilation,
                     int64_t groups) {
  check_params(op, stride, padding, dilation, groups);
  KILN_CHECK(xs.size() == 4, op, ": expected a 4-D input [B, C, H, W], got ", xs);
  KILN_CHECK(ws.size() == 4, op, ": expected a 4-D weight [O, C/groups, kh, kw], got ", ws);
  Conv2dGeom g;
  g.B = xs[0], g.C = xs[1], g.H = xs[2], g.W = xs[3];
  g.O = ws[0], g.KH = ws[2], g.KW = ws[3];
  g.SH = stride.h, g.SW = stride.w, g.PH = padding.h, g.PW = padding.w, g.DH = dilation.h, g.DW = dilation.w;
  g.groups = groups;
  KILN_CHECK(g.C % groups == 0, op, ": ", g.C, " input channels are not divisible by groups ", groups);
  KILN_CHECK(g.O % groups == 0, op, ": ", g.O, " output channels are not divisible by groups ", groups);
  KILN_CHECK(ws[1] * groups == g.C, op, ": input has ", g.C, " channels, weight ", ws, " expects ", ws[1] * groups,
             " (", ws[1], " per group x ", groups, " groups)");
  KILN_CHECK(g.KH >= 1 && g.KW >= 1, op, ": kernel size must be positive, got ", g.KH, "x", g.KW);
  const int64_t ekh = g.DH * (g.KH - 1) + 1, ekw = g.DW * (g.KW - 1) + 1;
  KILN_CHECK(ekh <= g.H + 2 * g.PH && ekw <= g.W + 2 * g.PW, op, ": kernel ", g.KH, "x", g.KW, " (", ekh, "x", ekw,
             " with dilation) is larger than the padded input ", g.H + 2 * g.PH, "x", g.W + 2 * g.PW);
  g.OH = conv_output_size(g.H, g.KH, g.SH, g.PH, g.DH);
  g.OW = conv_output_size(g.W, g.KW, g.SW, g.PW, g.DW);
  KILN_CHECK(g.OH > 0 && g.OW > 0, op, ": output size ", g.OH, "x", g.OW, " is not positive");
  return g;
}

void check_dy(const char* op, const Tensor& dy, const Conv2dGeom& g) {
  const Shape expect{g.B, g.O, g.OH, g.OW};
  KILN_CHECK(dy.shape() == expect, op, ": dy has shape ", dy.shape(), ", expected ", expect);
}

void check_bias(const char* op, const Tensor& bias, const Tensor& x, int64_t channels) {
  if (!bias.defined()) return;
  check_same_device(bias, x, op);
  KILN_CHECK(bias.dtype() == x.dtype(), op, ": bias has dtype ", dtype_name(bias.dtype()), " but input has ",
             dtype_name(x.dtype()));
  KILN_CHECK(bias.dim() == 1 && bias.size(0) == channels, op, ": bias must have shape [", channels, "], got ",
             bias.shape());
}

// ---- CPU bodies: f32/f64 kernels, f16/bf16 computed in f32 --------------------------------------

DType compute_dtype(DType d) { return d == DType::f64 ? DType::f64 : DType::f32; }

Tensor prep(const Tensor& t, DType cd) { return t.to(cd).contiguous(); }

template <class F>
void with_compute_type(DType cd, F&& f) {
  if (cd == DType::f64)
    f(double{});
  else
    f(float{});
}

Tensor forward_cpu(const Conv2dGeom& g, const Tensor& x, const Tensor& w, const Tensor& bias) {
  const DType cd = compute_dtype(x.dtype());
  Tensor xc = prep(x, cd), wc = prep(w, cd), bc = bias.defined() ? prep(bias, cd) : Tensor();
  Tensor y = empty({g.B, g.O, g.OH, g.OW}, cd, x.device());
  with_compute_type(cd, [&](auto tag) {
    using T = decltype(tag);
    cpu::conv2d_forward<T>(g, xc.data<T>(), wc.data<T>(), bc.defined() ? bc.data<T>() : nullptr, y.data<T>());
  });
  return y.to(x.dtype());
}

// The input gradient of the convolution (also conv_transpose2d's output, plus its bias [C]).
Tensor backward_data_cpu(const Conv2dGeom& g, const Tensor& dy, const Tensor& w, const Tensor& bias = {}) {
  const DType cd = compute_dtype(dy.dtype());
  Tensor dyc = prep(dy, cd), wc = prep(w, cd), bc = bias.defined() ? prep(bias, cd) : Tensor();
  Tensor dx = empty({g.B, g.C, g.H, g.W}, cd, dy.device());
  with_compute_type(cd, [&](auto tag) {
    using T = decltype(tag);
    cpu::conv2d_backward_data<T>(g, dyc.data<T>(), wc.data<T>(), dx.data<T>());
    if (bc.defined()) {
      // Added in the compute dtype, so f16/bf16 outputs are rounded once.
      T* p = dx.data<T>();
      const T* b = bc.data<T>();
      const int64_t hw = g.H * g.W;
      for (int64_t n = 0; n < g.B; ++n)
        for (int64_t c = 0; c < g.C; ++c) {
          T* row = p + (n * g.C + c) * hw;
          for (int64_t i = 0; i < hw; ++i) row[i] += b[c];
        }
    }
  });
  return dx.to(dy.dtype());
}

Tensor backward_weight_cpu(const Conv2dGeom& g, const Tensor& dy, const Tensor& x) {
  const DType cd = compute_dtype(dy.dtype());
  Tensor dyc = prep(dy, cd), xc = prep(x, cd);
  Tensor dw = empty({g.O, g.cg(), g.KH, g.KW}, cd, dy.device());
  with_compute_type(cd, [&](auto tag) {
    using T = decltype(tag);
    cpu::conv2d_backward_weight<T>(g, dyc.data<T>(), xc.data<T>(), dw.data<T>());
  });
  return dw.to(dy.dtype());
}

// ---- CUDA bodies: cuDNN for the convolutions, kiln kernels for the bias ----------------------------

#if KILN_HAVE_CUDA
Tensor forward_cuda(const Conv2dGeom& g, const Tensor& x, const Tensor& w, const Tensor& bias) {
  const Tensor xc = x.contiguous(), wc = w.contiguous();
  const Tensor bc = bias.defined() ? bias.contiguous() : Tensor();
  Tensor y = empty({g.B, g.O, g.OH, g.OW}, x.dtype(), x.device());
  const cuda::Stream s = cuda::prepare(x.device().index);
  cuda::conv2d_forward(x.dtype(), g, xc.data_ptr(), wc.data_ptr(), y.data_ptr(), s);
  if (bc.defined()) cuda::add_channel_bias(x.dtype(), g.B, g.O, g.OH * g.OW, bc.data_ptr(), y.data_ptr(), s);
  return y;
}

// The input gradient (also conv_transpose2d's output, plus its bias [C]).
Tensor backward_data_cuda(const Conv2dGeom& g, const Tensor& dy, const Tensor& w, const Tensor& bias = {}) {
  const Tensor dyc = dy.contiguous(), wc = w.contiguous();
  const Tensor bc = bias.defined() ? bias.contiguous() : Tensor();
  Tensor dx = empty({g.B, g.C, g.H, g.W}, dy.dtype(), dy.device());
  const cuda::Stream s = cuda::prepare(dy.device().index);
  cuda::conv2d_backward_data(dy.dtype(), g, dyc.data_ptr(), wc.data_ptr(), dx.data_ptr(), s);
  if (bc.defined()) cuda::add_channel_bias(dy.dtype(), g.B, g.C, g.H * g.W, bc.data_ptr(), dx.data_ptr(), s);
  return dx;
}

Tensor backward_weight_cuda(const Conv2dGeom& g, const Tensor& dy, const Tensor& x) {
  const Tensor dyc = dy.contiguous(), xc = x.contiguous();
  Tensor dw = empty({g.O, g.cg(), g.KH, g.KW}, dy.dtype(), dy.device());
  cuda::conv2d_backward_weight(dy.dtype(), g, dyc.data_ptr(), xc.data_ptr(), dw.data_ptr(),
                               cuda::prepare(dy.device().index));
  return dw;
}

Tensor backward_bias_cuda(const Tensor& dy) {
  const Tensor dyc = dy.contiguous();
  const int64_t B = dy.size(0), O = dy.size(1), hw = B * O == 0 ? 0 : dy.numel() / (B * O);
  Tensor db = empty({O}, dy.dtype(), dy.device());
  cuda::conv2d_backward_bias(dy.dtype(), B, O, hw, dyc.data_ptr(), db.data_ptr(), cuda::prepare(dy.device().index));
  return db;
}
#endif

// Geometry of the convolution whose input gradient is conv_transpose2d(x, w): its input is the
// transposed convolution's output, its output is x.
Conv2dGeom transpose_geom(const char* op, const Shape& xs, const Shape& ws, Size2 stride, Size2 padding,
                          Size2 output_padding, int64_t groups, Size2 dilation) {
  check_params(op, stride, padding, dilation, groups);
  KILN_CHECK(xs.size() == 4, op, ": expected a 4-D input [B, C_in, H, W], got ", xs);
  KILN_CHECK(ws.size() == 4, op, ": expected a 4-D weight [C_in, C_out/groups, kh, kw], got ", ws);
  KILN_CHECK(xs[1] == ws[0], op, ": input has ", xs[1], " channels, weight ", ws, " expects ", ws[0]);
  KILN_CHECK(ws[0] % groups == 0, op, ": ", ws[0], " input channels are not divisible by groups ", groups);
  KILN_CHECK(ws[2] >= 1 && ws[3] >= 1, op, ": kernel size must be positive, got ", ws[2], "x", ws[3]);
  KILN_CHECK(output_padding.h >= 0 && output_padding.w >= 0 &&
                 (output_padding.h < stride.h || output_padding.h < dilation.h) &&
                 (output_padding.w < stride.w || output_padding.w < dilation.w),
             op, ": output_padding ", output_padding.h, "x", output_padding.w,
             " must be non-negative and smaller than either stride ", stride.h, "x", stride.w, " or dilation ",
             dilation.h, "x", dilation.w);
  Conv2dGeom g;
  g.B = xs[0], g.O = ws[0], g.OH = xs[2], g.OW = xs[3];
  g.C = ws[1] * groups, g.KH = ws[2], g.KW = ws[3];
  g.SH = stride.h, g.SW = stride.w, g.PH = padding.h, g.PW = padding.w, g.DH = dilation.h, g.DW = dilation.w;
  g.groups = groups;
  g.H = (g.OH - 1) * g.SH - 2 * g.PH + g.DH * (g.KH - 1) + output_padding.h + 1;
  g.W = (g.OW - 1) * g.SW - 2 * g.PW + g.DW * (g.KW - 1) + output_padding.w + 1;
  KILN_CHECK(g.H > 0 && g.W > 0, op, ": output size ", g.H, "x", g.W, " is not positive (input ", xs[2], "x", xs[3],
             ", kernel ", g.KH, "x", g.KW, ", stride ", g.SH, "x", g.SW, ", padding ", g.PH, "x", g.PW, ")");
  return g;
}

}  // namespace

int64_t conv_output_size(int64_t in, int64_t kernel, int64_t stride, int64_t padding, int64_t dilation) {
  const int64_t span = in + 2 * padding - dilation * (kernel - 1) - 1;
  return span < 0 ? 0 : span / stride + 1;
}

Tensor conv2d(const Tensor& x, const Tensor& w, const Tensor& bias, Size2 stride, Size2 padding, Size2 dilation,
              int64_t groups) {
  check_pair("conv2d", x, "x", w, "w");
  const Conv2dGeom g = make_geom("conv2d", x.shape(), w.shape(), stride, padding, dilation, groups);
  check_bias("conv2d", bias, x, g.O);
  switch (x.device().type) {
    case DeviceType::CPU: return forward_cpu(g, x, w, bias);
    case DeviceType::CUDA:
#if KILN_HAVE_CUDA
      return forward_cuda(g, x, w, bias);
#endif
      break;
  }
  unsupported_device("conv2d", x.device());
}

Tensor conv2d_backward_data(const Tensor& dy, const Tensor& w, const Shape& input_shape, Size2 stride,
                            Size2 padding, Size2 dilation, int64_t groups) {
  check_pair("conv2d_backward_data", dy, "dy", w, "w");
  const Conv2dGeom g = make_geom("conv2d_backward_data", input_shape, w.shape(), stride, padding, dilation, groups);
  check_dy("conv2d_backward_data", dy, g);
  switch (dy.device().type) {
    case DeviceType::CPU: return backward_data_cpu(g, dy, w);
    case DeviceType::CUDA:
#if KILN_HAVE_CUDA
      return backward_data_cuda(g, dy, w);
#endif
      break;
  }
  unsupported_device("conv2d_backward_data", dy.device());
}

Tensor conv2d_backward_weight(const Tensor& dy, const Tensor& x, const Shape& weight_shape, Size2 stride,
                              Size2 padding, Size2 dilation, int64_t groups) {
  check_pair("conv2d_backward_weight", dy, "dy", x, "x");
  const Conv2dGeom g = make_geom("conv2d_backward_weight", x.shape(), weight_shape, stride, padding, dilation, groups);
  check_dy("conv2d_backward_weight", dy, g);
  switch (dy.device().type) {
    case DeviceType::CPU: return backward_weight_cpu(g, dy, x);
    case DeviceType::CUDA:
#if KILN_HAVE_CUDA
      return backward_weight_cuda(g, dy, x);
#endif
      break;
  }
  unsupported_device("conv2d_backward_weight", dy.device());
}

Tensor conv2d_backward_bias(const Tensor& dy) {
  check_defined(dy, "conv2d_backward_bias", "dy");
  check_float("conv2d_backward_bias", dy, "dy");
  KILN_CHECK(dy.dim() >= 2, "conv2d_backward_bias: expected dy [B, O, ...], got ", dy.shape());
  switch (dy.device().type) {
    case DeviceType::CPU: {
      const DType cd = compute_dtype(dy.dtype());
      Tensor dyc = prep(dy, cd);
      const int64_t B = dy.size(0), O = dy.size(1), hw = B * O == 0 ? 0 : dy.numel() / (B * O);
      Tensor db = empty({O}, cd, dy.device());
      with_compute_type(cd, [&](auto tag) {
        using T = decltype(tag);
        cpu::conv2d_backward_bias<T>(B, O, hw, dyc.data<T>(), db.data<T>());
      });
      return db.to(dy.dtype());
    }
    case DeviceType::CUDA:
#if KILN_HAVE_CUDA
      return backward_bias_cuda(dy);
#endif
      break;
  }
  unsupported_device("conv2d_backward_bias", dy.device());
}

Tensor conv_transpose2d(const Tensor& x, const Tensor& w, const Tensor& bias, Size2 stride, Size2 padding,
                        Size2 output_padding, int64_t groups, Size2 dilation) {
  check_pair("conv_transpose2d", x, "x", w, "w");
  const Conv2dGeom g =
      transpose_geom("conv_transpose2d", x.shape(), w.shape(), stride, padding, output_padding, groups, dilation);
  check_bias("conv_transpose2d", bias, x, g.C);
  switch (x.device().type) {
    case DeviceType::CPU: return backward_data_cpu(g, x, w, bias);
    case DeviceType::CUDA:
#if KILN_HAVE_CUDA
      return backward_data_cuda(g, x, w, bias);
#endif
      break;
  }
  unsupported_device("conv_transpose2d", x.device());
}

Tensor conv_transpose2d_backward_data(const Tensor& dy, const Tensor& w, Size2 stride, Size2 padding,
                                      int64_t groups, Size2 dilation) {
  // The transposed convolution's input gradient is the plain convolution of dy by w.
  return conv2d(dy, w, {}, stride, padding, dilation, groups);
}

Tensor conv_transpose2d_backward_weight(const Tensor& dy, const Tensor& x, const Shape& weight_shape,
                                        Size2 stride, Size2 padding, int64_t groups, Size2 dilation) {
  // conv_transpose2d(x, w) is conv2d_backward_data(x, w): the matching convolution maps dy (its
  // input) to x (its output), so its weight gradient pairs x as "dy" with dy as "x".
  return conv2d_backward_weight(x, dy, weight_shape, stride, padding, dilation, groups);
}

}  // namespace kiln
