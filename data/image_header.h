#pragma once
// Reading an image file's container before any pixel is decoded (Note [Untrusted images]).
//
// read_image_header recognises PNG, JPEG and BMP by their signature, reads the width, height and
// channel count from the PNG IHDR chunk / the JPEG SOF segment / the BMP info header itself, walks
// the file's structure to its end (PNG chunks with their CRCs up to IEND, JPEG segments and scans
// up to EOI, BMP pixel array inside the file) and checks everything against ImageLimits. Any
// problem is a kiln::Error naming `source` and the problem; it never reads outside [data, data+size).
#include <cstddef>
#include <cstdint>
#include <string>

namespace kiln::data {

enum class ImageFormat { png, jpeg, bmp };
const char* format_name(ImageFormat f);

// Note [Untrusted images]: image files come from anywhere, and stb_image 2.27 (Debian's) has known
// crashers on malformed input. So every file is checked by our own parser first: only PNG, JPEG and
// BMP; dimensions read by us, never 0 and within these limits; the file complete and consistent.
// stb then decodes what passed, its allocations capped, and its result must match the header.
struct ImageLimits {
  int64_t max_side = 16384;           // width and height, each
  int64_t max_pixels = 64ll << 20;    // width * height (64 Mpixel)
  int64_t max_bytes = 256ll << 20;    // width * height * channels * bytes per sample, file or decoded
  int64_t max_file_bytes = 256ll << 20;  // the encoded file (read_image)
};
// The largest side stb is compiled to accept (STBI_MAX_DIMENSIONS); limits above it are refused.
inline constexpr int64_t kMaxImageSide = 1 << 16;

struct ImageHeader {
  ImageFormat format;
  int64_t width = 0;
  int64_t height = 0;
  int channels = 0;          // channels the file stores (palette PNG/BMP: 4, the most stb may expand to)
  int bytes_per_sample = 1;  // 2 for 16-bit PNG
};

ImageHeader read_image_header(const void* data, size_t size, const std::string& source,
                              const ImageLimits& limits = {});

}  // namespace kiln::data
