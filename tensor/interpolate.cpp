#include "kiln/tensor/interpolate.h"

#include <cmath>

#include "kiln/kernels/cpu/interpolate.h"
#include "kiln/tensor/creation.h"
#include "kiln/tensor/nn_support.h"

#if KILN_HAVE_CUDA
#include "kiln/kernels/cuda/interpolate.h"
#include "kiln/kernels/cuda/runtime.h"
#endif

namespace kiln {
namespace {

void check_input(const Tensor& x, const char* op) {
  nn_detail::check_float(x, op, "x");
  KILN_CHECK(x.dim() == 4, op, ": expected a 4-d [N, C, H, W] input, got shape ", x.shape());
  KILN_CHECK(x.size(2) > 0 && x.size(3) > 0, op, ": input spatial size must be non-empty, got shape ", x.shape());
}

void check_size(std::array<int64_t, 2> s, const char* op) {
  KILN_CHECK(s[0] > 0 && s[1] > 0, op, ": output size must be positive, got {", s[0], ", ", s[1], "}");
}

void check_scales(const Scales2d& scales, const char* op) {
  if (scales)
    KILN_CHECK((*scales)[0] > 0 && (*scales)[1] > 0, op, ": scale factors must be positive, got {", (*scales)[0],
               ", ", (*scales)[1], "}");
}

// Validates dy against input_shape and returns the spatial output size.
std::array<int64_t, 2> check_backward(const Tensor& dy, const Shape& input_shape, const char* op) {
  nn_detail::check_float(dy, op, "dy");
  KILN_CHECK(input_shape.size() == 4, op, ": input_shape must be 4-d [N, C, H, W], got ", input_shape);
  KILN_CHECK(input_shape[2] > 0 && input_shape[3] > 0 && input_shape[0] >= 0 && input_shape[1] >= 0, op,
             ": invalid input_shape ", input_shape);
  KILN_CHECK(dy.dim() == 4 && dy.size(0) == input_shape[0] && dy.size(1) == input_shape[1], op, ": dy has shape ",
             dy.shape(), ", expected [", input_shape[0], ", ", input_shape[1], ", OH, OW]");
  check_size({dy.size(2), dy.size(3)}, op);
  return {dy.size(2), dy.size(3)};
}

enum class Kind { nearest, bilinear };

// The dtype the kernels run in: the CPU kernels take f32 / f64 (Note [NN compute dtype]); the CUDA
// kernels also read and write f16 / bf16 natively (computing in f32, with the same results).
DType kernel_dtype(const Tensor& t) {
  return t.device().is_cuda() ? t.dtype() : nn_detail::compute_dtype(t.dtype());
}

Tensor run_forward(const Tensor& x, std::array<int64_t, 2> out, bool align_corners, const Scales2d& scales, Kind kind,
                   const char* op) {
  check_input(x, op);
  check_size(out, op);
  check_scales(scales, op);
  const double sh = scales ? (*scales)[0] : 0.0, sw = scales ? (*scales)[1] : 0.0;
  Tensor xc = x.to(kernel_dtype(x)).contiguous();
  Tensor y = empty({x.size(0), x.size(1), out[0], out[1]}, xc.dtype(), x.device());
  const int64_t P = x.size(0) * x.size(1), H = x.size(2), W = x.size(3);
  switch (x.device().type) {
    case DeviceType::CPU:
      if (kind == Kind::nearest)
        cpu::upsample_nearest2d_forward(xc.dtype(), xc.data_ptr(), y.data_ptr(), P, H, W, out[0], out[1], sh, sw);
      else
        cpu::upsample_bilinear2d_forward(xc.dtype(), xc.data_ptr(), y.data_ptr(), P, H, W, out[0], out[1],
                                         align_corners, sh, sw);
      break;
    case DeviceType::CUDA: {
#if KILN_HAVE_CUDA
      const cuda::Stream s = cuda::prepare(x.device().index);
      if (kind == Kind::nearest)
        cuda::upsample_nearest2d_forward(xc.dtype(), xc.data_ptr(), y.data_ptr(), P, H, W, out[0], out[1], sh, sw, s);
      else
        cuda::upsample_bilinear2d_forward(xc.dtype(), xc.data_ptr(), y.data_ptr(), P, H, W, out[0], out[1],
                                          align_corners, sh, sw, s);
      break;
#endif
      unsupported_device(op, x.device());
    }
  }
  return y.to(x.dtype());
}

Tensor run_backward(const Tensor& dy, const Shape& in, bool align_corners, const Scales2d& scales, Kind kind,
                    const char* op) {
  const auto out = check_backward(dy, in, op);
  check_scales(scales, op);
  const double sh = scales ? (*scales)[0] : 0.0, sw = scales ? (*scales)[1] : 0.0;
  Tensor gc = dy.to(kernel_dtype(dy)).contiguous();
  // Both devices write every element of dx (the CPU zero-fills each plane before it scatters).
  Tensor dx = empty(in, gc.dtype(), dy.device());
  const int64_t P = in[0] * in[1];
  switch (dy.device().type) {
    case DeviceType::CPU:
      if (kind == Kind::nearest)
        cpu::upsample_nearest2d_backward(gc.dtype(), gc.data_ptr(), dx.data_ptr(), P, in[2], in[3], out[0], out[1],
                                         sh, sw);
      else
        cpu::upsample_bilinear2d_backward(gc.dtype(), gc.data_ptr(), dx.data_ptr(), P, in[2], in[3], out[0], out[1],
                                          align_corners, sh, sw);
      break;
    case DeviceType::CUDA: {
#if KILN_HAVE_CUDA
      const cuda::Stream s = cuda::prepare(dy.device().index);
      if (kind == Kind::nearest)
        cuda::upsample_nearest2d_backward(gc.dtype(), gc.data_ptr(), dx.data_ptr(), P, in[2], in[3], out[0], out[1],
                                          sh, sw, s);
      else
        cuda::upsample_bilinear2d_backward(gc.dtype(), gc.data_ptr(), dx.data_ptr(), P, in[2], in[3], out[0],
                                           out[1], align_corners, sh, sw, s);
      break;
#endif
      unsupported_device(op, dy.device());
    }
  }
  return dx.to(dy.dtype());
}

}  // namespace

Tensor upsample_nearest2d(const Tensor& x, std::array<int64_t, 2> output_size, Scales2d scales) {
  return run_forward(x, output_size, false, scales, Kind::nearest, "upsample_nearest2d");
}
Tensor upsample_nearest2d_backward(const Tensor& dy, const Shape& input_shape, Scales2d scales) {
  return run_backward(dy, input_shape, false, scales, Kind::nearest, "upsample_nearest2d_backward");
}
Tensor upsample_bilinear2d(const Tensor& x, std::array<int64_t, 2> output_size, bool align_corners, Scales2d scales) {
  return run_forward(x, output_size, align_corners, scales, Kind::bilinear, "upsample_bilinear2d");
}
Tensor upsample_bilinear2d_backward(const Tensor& dy, const Shape& input_shape, bool align_corners,
                                    Scales2d scales) {
  return run_backward(dy, input_shape, align_corners, scales, Kind::bilinear, "upsample_bilinear2d_backward");
}

Tensor interpolate(const Tensor& x, std::optional<std::array<int64_t, 2>> size,
                   std::optional<std::array<double, 2>> scale_factor, InterpolateMode mode, bool align_corners) {
  const char* op = "interpolate";
  check_input(x, op);
  KILN_CHECK(size.has_value() != scale_factor.has_value(), op, ": exactly one of size and scale_factor must be given");
  std::array<int64_t, 2> out;
  Scales2d scales;
  if (size) {
    out = *size;
  } else {
    check_scales(scale_factor, op);
    for (int i = 0; i < 2; ++i) out[size_t(i)] = int64_t(std::floor(double(x.size(2 + i)) * (*scale_factor)[size_t(i)]));
    scales = scale_factor;
  }
  check_size(out, op);
  if (mode == InterpolateMode::nearest) return upsample_nearest2d(x, out, scales);
  return upsample_bilinear2d(x, out, align_corners, scales);
}

}  // namespace kiln
