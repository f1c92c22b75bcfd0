#pragma once
// A batch of images as one picture: tiles in rows x cols with a gap between them, as u8 pixels or
// written to a PNG file (the first piece of show_batch).
//
//   data::AugBatch out = data::augment(x, cfg, params);
//   data::write_png_grid("batch.png", data::decode(out.images, out.record));
//
// Input: a CPU batch [B, H, W, C] or [B, C, H, W] (GridOptions::layout; by default u8 is NHWC, as
// decoded, and floating point is NCHW, as data::decode returns it) with C = 1 (grey), 3 (RGB) or
// 4 (RGBA). u8 values are used as they are; floating-point values (f32, f16, bf16, f64) are taken
// as [0, 1], clamped to it (NaN -> 0) and rounded to the nearest of 0..255 (halves up).
// Output: u8 [GH, GW, C] with GH = rows * H + (rows - 1) * gap, GW = cols * W + (cols - 1) * gap;
// sample b sits at tile (b / cols, b % cols); the gaps and the unused tiles of the last row hold
// `background` in every channel.
#include <cstdint>
#include <string>

#include "kiln/tensor/tensor.h"

namespace kiln::data {

enum class GridLayout { by_dtype, nhwc, nchw };

struct GridOptions {
  int64_t cols = 0;              // tiles per row; 0: ceil(sqrt(B)) (rows = ceil(B / cols))
  int64_t gap = 2;               // pixels between tiles
  uint8_t background = 255;      // value of gap and empty-tile pixels
  GridLayout layout = GridLayout::by_dtype;  // by_dtype: u8 -> NHWC, floating point -> NCHW
};

// The grid as u8 [GH, GW, C]. Throws kiln::Error for a batch that is not 4-d, empty, of 0-sized
// images, with a channel count other than 1, 3 or 4, of another dtype, or not on the CPU.
Tensor image_grid(const Tensor& images, const GridOptions& options = {});

// Writes image_grid(images, options) to `path` as an 8-bit PNG (grey, RGB or RGBA as C says).
// Throws kiln::Error as image_grid does and when the file cannot be written.
void write_png_grid(const std::string& path, const Tensor& images, const GridOptions& options = {});

// u8 [H, W, C] (C = 1, 3 or 4) as an 8-bit PNG file, e.g. the output of image_grid.
void write_png(const std::string& path, const Tensor& image);

}  // namespace kiln::data
