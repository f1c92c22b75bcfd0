// Resampling. Each output reads a fixed set of input pixels with fixed weights, so the gradient
// is the transposed resampling (the raw upsample_*_backward ops).
#include "kiln/autograd/interpolate.h"

namespace kiln::ag {

Tensor upsample_nearest2d(const Tensor& x, std::array<int64_t, 2> output_size, Scales2d scales) {
  Tensor y = kiln::upsample_nearest2d(x, output_size, scales);
  if (!any_requires_grad({&x})) return y;
  const Shape xs = x.shape();
  return record("upsample_nearest2d", {x}, y, [xs, scales](const Grads& g) -> std::vector<Tensor> {
    return {kiln::upsample_nearest2d_backward(g[0], xs, scales)};
  });
}

Tensor upsample_bilinear2d(const Tensor& x, std::array<int64_t, 2> output_size, bool align_corners,
                           Scales2d scales) {
  Tensor y = kiln::upsample_bilinear2d(x, output_size, align_corners, scales);
  if (!any_requires_grad({&x})) return y;
  const Shape xs = x.shape();
  return record("upsample_bilinear2d", {x}, y, [xs, align_corners, scales](const Grads& g) -> std::vector<Tensor> {
    return {kiln::upsample_bilinear2d_backward(g[0], xs, align_corners, scales)};
  });
}

Tensor interpolate(const Tensor& x, std::optional<std::array<int64_t, 2>> size,
                   std::optional<std::array<double, 2>> scale_factor, InterpolateMode mode, bool align_corners) {
  Tensor y = kiln::interpolate(x, size, scale_factor, mode, align_corners);
  if (!any_requires_grad({&x})) return y;
  // kiln::interpolate passes the scale factors (when given) on as the upsample's scales; the
  // backward must use the same source mapping.
  const Scales2d scales = size ? Scales2d() : Scales2d(scale_factor);
  const Shape xs = x.shape();
  return record("interpolate", {x}, y, [xs, scales, mode, align_corners](const Grads& g) -> std::vector<Tensor> {
    if (mode == InterpolateMode::nearest) return {kiln::upsample_nearest2d_backward(g[0], xs, scales)};
    return {kiln::upsample_bilinear2d_backward(g[0], xs, align_corners, scales)};
  });
}

}  // namespace kiln::ag
