#pragma once
// Decoding PNG, JPEG and BMP images into u8 tensors, guarded against hostile files
// (Note [Untrusted images] in image_header.h).
#include <cstddef>
#include <string>

#include "kiln/data/image_header.h"
#include "kiln/tensor/tensor.h"

namespace kiln::data {

// Decodes an encoded image held in memory into a [H, W, channels] u8 CPU tensor (HWC, row-major),
// channels 1 (grey, luma of colour files) or 3 (RGB; grey files are repeated; alpha is dropped).
// The file is checked by read_image_header before stb sees it, and the decoded size must equal
// the header's. `source` names the file in errors (kiln::Error).
Tensor decode_image(const void* data, size_t size, const std::string& source = "<memory>", int channels = 3,
                    const ImageLimits& limits = {});

// Reads a file (at most limits.max_file_bytes) and decodes it with decode_image.
Tensor read_image(const std::string& path, int channels = 3, const ImageLimits& limits = {});

}  // namespace kiln::data
