// Batch -> one u8 picture -> PNG. The only stb_image_write translation unit in kiln; its functions
// are compiled `static` here (STB_IMAGE_WRITE_STATIC) so that another kiln file using stb (the
// image reader has its own stb_image unit) can never clash with these symbols at link time.
#include "kiln/data/image_grid.h"

#include <algorithm>
#include <climits>
#include <cmath>

#include "kiln/kernels/error.h"
#include "kiln/tensor/creation.h"

#if defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#pragma GCC diagnostic ignored "-Wsign-compare"
#pragma GCC diagnostic ignored "-Wunused-function"
#endif
#define STB_IMAGE_WRITE_STATIC
#define STB_IMAGE_WRITE_IMPLEMENTATION
#include <stb/stb_image_write.h>
#if defined(__GNUC__)
#pragma GCC diagnostic pop
#endif

namespace kiln::data {

namespace {

bool valid_channels(int64_t c) { return c == 1 || c == 3 || c == 4; }

// Note [Grid rounding]
// Floating-point pixels are in [0, 1] by convention (data::decode undoes the normalisation), but
// lighting and bicubic sampling can overshoot slightly, so they are clamped first. The rounding is
// floor(v * 255 + 0.5): halves go up, the same on every platform and rounding mode, and a value
// that came from a u8 k as k / 255.0f comes back as k exactly.
uint8_t to_u8(float v) {
  if (!(v > 0.0f)) return 0;  // also NaN
  if (v >= 1.0f) return 255;
  return uint8_t(std::floor(v * 255.0f + 0.5f));
}

}  // namespace

Tensor image_grid(const Tensor& images, const GridOptions& o) {
  KILN_CHECK(images.defined(), "image_grid: images are undefined");
  KILN_CHECK(images.device() == kCPU, "image_grid: images must be on the CPU");
  KILN_CHECK(images.dim() == 4, "image_grid: images must be a batch [B, H, W, C] or [B, C, H, W], got shape ",
             images.shape());
  const DType dt = images.dtype();
  KILN_CHECK(dt == DType::u8 || is_floating(dt), "image_grid: images must be u8 (0..255) or floating point (0..1), got ",
             dtype_name(dt));
  KILN_CHECK(o.cols >= 0, "image_grid: cols must be >= 0 (0: automatic), got ", o.cols);
  KILN_CHECK(o.gap >= 0, "image_grid: gap must be >= 0, got ", o.gap);
  const bool nhwc = o.layout == GridLayout::nhwc || (o.layout == GridLayout::by_dtype && dt == DType::u8);
  // Work on a contiguous NHWC view: the tile copy below is then one row of W * C bytes at a time.
  Tensor x = nhwc ? images : images.permute({0, 2, 3, 1});
  const int64_t B = x.size(0), H = x.size(1), W = x.size(2), C = x.size(3);
  KILN_CHECK(B >= 1, "image_grid: empty batch (B = 0) in shape ", images.shape());
  KILN_CHECK(H >= 1 && W >= 1, "image_grid: images of ", H, "x", W, " pixels (shape ", images.shape(), ", ",
             nhwc ? "NHWC" : "NCHW", ")");
  KILN_CHECK(valid_channels(C), "image_grid: ", C, " channels in shape ", images.shape(), " (read as ",
             nhwc ? "[B, H, W, C]" : "[B, C, H, W]", "); a PNG has 1, 3 or 4");
  int64_t cols = o.cols;
  if (cols == 0) {
    cols = int64_t(std::ceil(std::sqrt(double(B))));
    while (cols * cols < B) ++cols;  // guard against sqrt rounding down
  }
  cols = std::min(cols, B);
  const int64_t rows = (B + cols - 1) / cols;
  const int64_t GH = rows * H + (rows - 1) * o.gap, GW = cols * W + (cols - 1) * o.gap;
  KILN_CHECK(GH <= INT_MAX / 8 && GW <= INT_MAX / 8 && GW * C <= INT_MAX / 8, "image_grid: a ", GH, "x", GW,
             " grid is too large");

  Tensor grid = full({GH, GW, C}, int64_t(o.background), DType::u8);
  uint8_t* g = grid.data<uint8_t>();
  const int64_t grow = GW * C, trow = W * C;
  if (dt == DType::u8) {
    const Tensor s = x.contiguous();
    const uint8_t* src = s.data<uint8_t>();
    for (int64_t b = 0; b < B; ++b) {
      uint8_t* tile = g + (b / cols) * (H + o.gap) * grow + (b % cols) * (W + o.gap) * C;
      for (int64_t i = 0; i < H; ++i) std::copy_n(src + (b * H + i) * trow, trow, tile + i * grow);
    }
  } else {
    const Tensor s = x.to(DType::f32).contiguous();
    const float* src = s.data<float>();
    for (int64_t b = 0; b < B; ++b) {
      uint8_t* tile = g + (b / cols) * (H + o.gap) * grow + (b % cols) * (W + o.gap) * C;
      for (int64_t i = 0; i < H; ++i) {
        const float* r = src + (b * H + i) * trow;
        uint8_t* d = tile + i * grow;
        for (int64_t k = 0; k < trow; ++k) d[k] = to_u8(r[k]);
      }
    }
  }
  return grid;
}

void write_png(const std::string& path, const Tensor& image) {
  KILN_CHECK(image.defined() && image.device() == kCPU && image.dtype() == DType::u8 && image.dim() == 3,
             "write_png: the image must be a CPU u8 tensor [H, W, C]");
  const int64_t H = image.size(0), W = image.size(1), C = image.size(2);
  KILN_CHECK(H >= 1 && W >= 1 && valid_channels(C), "write_png: image of shape ", image.shape(),
             "; need H, W >= 1 and C = 1, 3 or 4");
  KILN_CHECK(H <= INT_MAX / 8 && W * C <= INT_MAX / 8, "write_png: a ", H, "x", W, " image is too large");
  const Tensor x = image.contiguous();
  const int ok = stbi_write_png(path.c_str(), int(W), int(H), int(C), x.data<uint8_t>(), int(W * C));
  KILN_CHECK(ok != 0, "write_png: cannot write ", path);
}

void write_png_grid(const std::string& path, const Tensor& images, const GridOptions& options) {
  write_png(path, image_grid(images, options));
}

}  // namespace kiln::data
