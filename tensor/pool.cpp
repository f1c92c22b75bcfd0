#include "kiln/tensor/pool.h"

#include "kiln/kernels/cpu/pool.h"
#include "kiln/tensor/creation.h"
#include "kiln/tensor/nn_support.h"

#if KILN_HAVE_CUDA
#include "kiln/kernels/cuda/pool.h"
#include "kiln/kernels/cuda/runtime.h"
#endif

namespace kiln {
namespace {

using I2 = std::array<int64_t, 2>;

// Checks an NCHW / CHW input shape: rank 3 or 4, non-empty C, H, W (N may be 0).
void check_input_shape(const Shape& s, const char* op, const char* what) {
  KILN_CHECK(s.size() == 3 || s.size() == 4, op, ": expected a 3-d [C, H, W] or 4-d [N, C, H, W] ", what,
             ", got shape ", s);
  for (int d = s.size() - 3; d < s.size(); ++d)
    KILN_CHECK(s[d] > 0, op, ": ", what, " of shape ", s, " has an empty non-batch dimension ", d);
}

int64_t planes_of(const Shape& s) { return s.size() == 4 ? s[0] * s[1] : s[0]; }

Shape with_spatial(const Shape& s, int64_t oh, int64_t ow) {
  Shape o = s;
  o[o.size() - 2] = oh;
  o[o.size() - 1] = ow;
  return o;
}

// Validated window geometry for input shape `in`.
cpu::Pool2dGeom make_geom(const Shape& in, I2 kernel, I2 stride, I2 padding, I2 dilation, bool ceil_mode,
                          bool avg, const char* op) {
  for (int i = 0; i < 2; ++i) {
    if (stride[i] == 0) stride[i] = kernel[i];
    KILN_CHECK(kernel[i] > 0, op, ": kernel size must be positive, got {", kernel[0], ", ", kernel[1], "}");
    KILN_CHECK(stride[i] > 0, op, ": stride must be positive, got {", stride[0], ", ", stride[1], "}");
    KILN_CHECK(dilation[i] > 0, op, ": dilation must be positive, got {", dilation[0], ", ", dilation[1], "}");
    KILN_CHECK(padding[i] >= 0, op, ": padding must be non-negative, got {", padding[0], ", ", padding[1], "}");
    const int64_t eff = avg ? kernel[i] : (kernel[i] - 1) * dilation[i] + 1;
    KILN_CHECK(padding[i] <= eff / 2, op, ": padding ", padding[i], " must be at most half of the kernel size ",
               eff, " (dim ", i, ")");
  }
  const int64_t H = in[in.size() - 2], W = in[in.size() - 1];
  cpu::Pool2dGeom g;
  g.H = H;
  g.W = W;
  g.OH = pool_output_size(H, kernel[0], stride[0], padding[0], dilation[0], ceil_mode, op);
  g.OW = pool_output_size(W, kernel[1], stride[1], padding[1], dilation[1], ceil_mode, op);
  g.kh = kernel[0], g.kw = kernel[1], g.sh = stride[0], g.sw = stride[1];
  g.ph = padding[0], g.pw = padding[1], g.dh = dilation[0], g.dw = dilation[1];
  return g;
}

void check_output_size(I2 out, const char* op) {
  KILN_CHECK(out[0] > 0 && out[1] > 0, op, ": output size must be positive, got {", out[0], ", ", out[1], "}");
}

// Checks dy (and indices) against the input shape and the expected output spatial size.
void check_grad(const Tensor& dy, const Shape& input_shape, int64_t oh, int64_t ow, const char* op) {
  const Shape expected = with_spatial(input_shape, oh, ow);
  KILN_CHECK(dy.shape() == expected, op, ": dy has shape ", dy.shape(), ", expected ", expected,
             " for input shape ", input_shape);
}

void check_indices(const Tensor& dy, const Tensor& indices, const char* op) {
  check_defined(indices, op, "indices");
  KILN_CHECK(indices.dtype() == DType::i64, op, ": indices must be i64, got ", dtype_name(indices.dtype()));
  KILN_CHECK(indices.shape() == dy.shape(), op, ": indices have shape ", indices.shape(), " but dy has shape ",
             dy.shape());
  check_same_device(dy, indices, op);
}

// dx of a max pool from dy and the saved indices. `adaptive`: the forward was adaptive_max_pool2d
// (its windows follow from the shapes, so the CUDA kernel can gather; max_pool2d's cannot).
Tensor scatter_max_grad(const Tensor& dy, const Tensor& indices, const Shape& input_shape, bool adaptive,
                        const char* op) {
  switch (dy.device().type) {
    case DeviceType::CPU: {
      Tensor g = nn_detail::to_compute(dy);
      Tensor ic = indices.contiguous();
      Tensor dx = empty(input_shape, g.dtype());
      const int64_t H = input_shape[input_shape.size() - 2], W = input_shape[input_shape.size() - 1];
      const int64_t out_plane = dy.size(-2) * dy.size(-1);
      const bool ok = cpu::max_pool2d_backward(g.dtype(), g.data_ptr(), ic.data<int64_t>(), dx.data_ptr(),
                                               planes_of(input_shape), H * W, out_plane);
      KILN_CHECK(ok, op, ": indices contain a position outside the input plane of ", H, "x", W);
      return dx.to(dy.dtype());
    }
    case DeviceType::CUDA: {
#if KILN_HAVE_CUDA
      // Indices outside the plane are ignored here rather than reported: checking them would
      // need a synchronising copy back to the host (they come from the forward).
      const Device dev = dy.device();
      Tensor g = dy.contiguous();
      Tensor ic = indices.contiguous();
      Tensor dx = empty(input_shape, dy.dtype(), dev);
      const int64_t H = input_shape[input_shape.size() - 2], W = input_shape[input_shape.size() - 1];
      const int64_t OH = dy.size(-2), OW = dy.size(-1);
      const cuda::Stream stream = cuda::prepare(dev.index);
      if (adaptive)
        cuda::adaptive_max_pool2d_backward(dy.dtype(), g.data_ptr(), ic.data<int64_t>(), dx.data_ptr(),
                                           planes_of(input_shape), H, W, OH, OW, stream);
      else
        cuda::max_pool2d_backward(dy.dtype(), g.data_ptr(), ic.data<int64_t>(), dx.data_ptr(), planes_of(input_shape),
                                  H * W, OH * OW, dev.index, stream);
      return dx;
#endif
    }
      unsupported_device(op, dy.device());
  }
  return {};
}

}  // namespace

int64_t pool_output_size(int64_t in, int64_t kernel, int64_t stride, int64_t pad, int64_t dilation, bool ceil_mode,
                         const char* op) {
  const int64_t num = in + 2 * pad - dilation * (kernel - 1) - 1 + (ceil_mode ? stride - 1 : 0);
  int64_t out = (num >= 0 ? num / stride : -((-num + stride - 1) / stride)) + 1;
  // The last window must start inside the input or the left padding.
  if (ceil_mode && (out - 1) * stride >= in + pad) --out;
  KILN_CHECK(out >= 1, op, ": output size ", out, " is too small for input size ", in, " (kernel ", kernel,
             ", stride ", stride, ", padding ", pad, ", dilation ", dilation, ")");
  return out;
}

ValuesIndices max_pool2d(const Tensor& x, I2 kernel, I2 stride, I2 padding, I2 dilation, bool ceil_mode) {
  const char* op = "max_pool2d";
  nn_detail::check_float(x, op, "x");
  check_input_shape(x.shape(), op, "input");
  const cpu::Pool2dGeom g = make_geom(x.shape(), kernel, stride, padding, dilation, ceil_mode, false, op);
  const Shape out_shape = with_spatial(x.shape(), g.OH, g.OW);
  switch (x.device().type) {
    case DeviceType::CPU: {
      Tensor xc = nn_detail::to_compute(x);
      Tensor y = empty(out_shape, xc.dtype());
      Tensor idx = empty(out_shape, DType::i64);
      cpu::max_pool2d_forward(xc.dtype(), xc.data_ptr(), y.data_ptr(), idx.data<int64_t>(), planes_of(x.shape()), g);
      return {y.to(x.dtype()), idx};
    }
    case DeviceType::CUDA: {
#if KILN_HAVE_CUDA
      const Device dev = x.device();
      Tensor xc = x.contiguous();
      Tensor y = empty(out_shape, x.dtype(), dev), idx = empty(out_shape, DType::i64, dev);
      cuda::max_pool2d_forward(x.dtype(), xc.data_ptr(), y.data_ptr(), idx.data<int64_t>(), planes_of(x.shape()), g,
                               cuda::prepare(dev.index));
      return {y, idx};
#endif
    }
      unsupported_device(op, x.device());
  }
  return {};
}

Tensor max_pool2d_backward(const Tensor& dy, const Tensor& indices, const Shape& input_shape) {
  const char* op = "max_pool2d_backward";
  nn_detail::check_float(dy, op, "dy");
  check_input_shape(input_shape, op, "input_shape");
  KILN_CHECK(dy.dim() == input_shape.size(), op, ": dy has shape ", dy.shape(), " but input_shape is ", input_shape);
  check_grad(dy, input_shape, dy.size(-2), dy.size(-1), op);
  check_indices(dy, indices, op);
  return scatter_max_grad(dy, indices, input_shape, false, op);
}

Tensor avg_pool2d(const Tensor& x, I2 kernel, I2 stride, I2 padding, bool ceil_mode, bool count_include_pad,
                  std::optional<int64_t> divisor_override) {
  const char* op = "avg_pool2d";
  nn_detail::check_float(x, op, "x");
  check_input_shape(x.shape(), op, "input");
  KILN_CHECK(!divisor_override || *divisor_override != 0, op, ": divisor_override must be non-zero");
  const cpu::Pool2dGeom g = make_geom(x.shape(), kernel, stride, padding, {1, 1}, ceil_mode, true, op);
  const Shape out_shape = with_spatial(x.shape(), g.OH, g.OW);
  switch (x.device().type) {
    case DeviceType::CPU: {
      Tensor xc = nn_detail::to_compute(x);
      Tensor y = empty(out_shape, xc.dtype());
      cpu::avg_pool2d_forward(xc.dtype(), xc.data_ptr(), y.data_ptr(), planes_of(x.shape()), g, count_include_pad,
                              divisor_override.value_or(0));
      return y.to(x.dtype());
    }
    case DeviceType::CUDA: {
#if KILN_HAVE_CUDA
      const Device dev = x.device();
      Tensor xc = x.contiguous();
      Tensor y = empty(out_shape, x.dtype(), dev);
      cuda::avg_pool2d_forward(x.dtype(), xc.data_ptr(), y.data_ptr(), planes_of(x.shape()), g, count_include_pad,
                               divisor_override.value_or(0), cuda::prepare(dev.index));
      return y;
#endif
    }
      unsupported_device(op, x.device());
  }
  return {};
}

Tensor avg_pool2d_backward(const Tensor& dy, const Shape& input_shape, I2 kernel, I2 stride, I2 padding,
                           bool ceil_mode, bool count_include_pad, std::optional<int64_t> divisor_override) {
  const char* op = "avg_pool2d_backward";
  nn_detail::check_float(dy, op, "dy");
  check_input_shape(input_shape, op, "input_shape");
  KILN_CHECK(!divisor_override || *divisor_override != 0, op, ": divisor_override must be non-zero");
  const cpu::Pool2dGeom g = make_geom(input_shape, kernel, stride, padding, {1, 1}, ceil_mode, true, op);
  check_grad(dy, input_shape, g.OH, g.OW, op);
  switch (dy.device().type) {
    case DeviceType::CPU: {
      Tensor gc = nn_detail::to_compute(dy);
      Tensor dx = empty(input_shape, gc.dtype());
      cpu::avg_pool2d_backward(gc.dtype(), gc.data_ptr(), dx.data_ptr(), planes_of(input_shape), g,
                               count_include_pad, divisor_override.value_or(0));
      return dx.to(dy.dtype());
    }
    case DeviceType::CUDA: {
#if KILN_HAVE_CUDA
      const Device dev = dy.device();
      Tensor gc = dy.contiguous();
      Tensor dx = empty(input_shape, dy.dtype(), dev);
      cuda::avg_pool2d_backward(dy.dtype(), gc.data_ptr(), dx.data_ptr(), planes_of(input_shape), g, count_include_pad,
                                divisor_override.value_or(0), cuda::prepare(dev.index));
      return dx;
#endif
    }
      unsupported_device(op, dy.device());
  }
  return {};
}

Tensor adaptive_avg_pool2d(const Tensor& x, I2 output_size) {
  const char* op = "adaptive_avg_pool2d";
  nn_detail::check_float(x, op, "x");
  check_input_shape(x.shape(), op, "input");
  check_output_size(output_size, op);
  const Shape out_shape = with_spatial(x.shape(), output_size[0], output_size[1]);
  switch (x.device().type) {
    case DeviceType::CPU: {
      Tensor xc = nn_detail::to_compute(x);
      Tensor y = empty(out_shape, xc.dtype());
      cpu::adaptive_avg_pool2d_forward(xc.dtype(), xc.data_ptr(), y.data_ptr(), planes_of(x.shape()), x.size(-2),
                                       x.size(-1), output_size[0], output_size[1]);
      return y.to(x.dtype());
    }
    case DeviceType::CUDA: {
#if KILN_HAVE_CUDA
      const Device dev = x.device();
      Tensor xc = x.contiguous();
      Tensor y = empty(out_shape, x.dtype(), dev);
      cuda::adaptive_avg_pool2d_forward(x.dtype(), xc.data_ptr(), y.data_ptr(), planes_of(x.shape()), x.size(-2),
                                        x.size(-1), output_size[0], output_size[1], cuda::prepare(dev.index));
      return y;
#endif
    }
      unsupported_device(op, x.device());
  }
  return {};
}

Tensor adaptive_avg_pool2d_backward(const Tensor& dy, const Shape& input_shape) {
  const char* op = "adaptive_avg_pool2d_backward";
  nn_detail::check_float(dy, op, "dy");
  check_input_shape(input_shape, op, "input_shape");
  KILN_CHECK(dy.dim() == input_shape.size(), op, ": dy has shape ", dy.shape(), " but input_shape is ", input_shape);
  check_output_size({dy.size(-2), dy.size(-1)}, op);
  check_grad(dy, input_shape, dy.size(-2), dy.size(-1), op);
  switch (dy.device().type) {
    case DeviceType::CPU: {
      Tensor gc = nn_detail::to_compute(dy);
      Tensor dx = empty(input_shape, gc.dtype());
      cpu::adaptive_avg_pool2d_backward(gc.dtype(), gc.data_ptr(), dx.data_ptr(), planes_of(input_shape),
                                        input_shape[input_shape.size() - 2], input_shape[input_shape.size() - 1],
                                        dy.size(-2), dy.size(-1));
      return dx.to(dy.dtype());
    }
    case DeviceType::CUDA: {
#if KILN_HAVE_CUDA
      const Device dev = dy.device();
      Tensor gc = dy.contiguous();
      Tensor dx = empty(input_shape, dy.dtype(), dev);
      cuda::adaptive_avg_pool2d_backward(dy.dtype(), gc.data_ptr(), dx.data_ptr(), planes_of(input_shape),
                                         input_shape[input_shape.size() - 2], input_shape[input_shape.size() - 1],
                                         dy.size(-2), dy.size(-1), cuda::prepare(dev.index));
      return dx;
#endif
    }
      unsupported_device(op, dy.device());
  }
  return {};
}

ValuesIndices adaptive_max_pool2d(const Tensor& x, I2 output_size) {
  const char* op = "adaptive_max_pool2d";
  nn_detail::check_float(x, op, "x");
  check_input_shape(x.shape(), op, "input");
  check_output_size(output_size, op);
  const Shape out_shape = with_spatial(x.shape(), output_size[0], output_size[1]);
  switch (x.device().type) {
    case DeviceType::CPU: {
      Tensor xc = nn_detail::to_compute(x);
      Tensor y = empty(out_shape, xc.dtype());
      Tensor idx = empty(out_shape, DType::i64);
      cpu::adaptive_max_pool2d_forward(xc.dtype(), xc.data_ptr(), y.data_ptr(), idx.data<int64_t>(),
                                       planes_of(x.shape()), x.size(-2), x.size(-1), output_size[0], output_size[1]);
      return {y.to(x.dtype()), idx};
    }
    case DeviceType::CUDA: {
#if KILN_HAVE_CUDA
      const Device dev = x.device();
      Tensor xc = x.contiguous();
      Tensor y = empty(out_shape, x.dtype(), dev), idx = empty(out_shape, DType::i64, dev);
      cuda::adaptive_max_pool2d_forward(x.dtype(), xc.data_ptr(), y.data_ptr(), idx.data<int64_t>(),
                                        planes_of(x.shape()), x.size(-2), x.size(-1), output_size[0], output_size[1],
                                        cuda::prepare(dev.index));
      return {y, idx};
#endif
    }
      unsupported_device(op, x.device());
  }
  return {};
}

Tensor adaptive_max_pool2d_backward(const Tensor& dy, const Tensor& indices, const Shape& input_shape) {
  const char* op = "adaptive_max_pool2d_backward";
  nn_detail::check_float(dy, op, "dy");
  check_input_shape(input_shape, op, "input_shape");
  KILN_CHECK(dy.dim() == input_shape.size(), op, ": dy has shape ", dy.shape(), " but input_shape is ", input_shape);
  check_grad(dy, input_shape, dy.size(-2), dy.size(-1), op);
  check_indices(dy, indices, op);
  return scatter_max_grad(dy, indices, input_shape, true, op);
}

}  // namespace kiln
