// decode_image: our header check first, then stb, then a check that stb decoded what the header
// declared (Note [Untrusted images]).
#include "kiln/data/image_io.h"

#include <algorithm>
#include <cstring>
#include <fstream>
#include <memory>
#include <vector>

#include "kiln/data/stb_decode.h"
#include "kiln/kernels/error.h"
#include "kiln/tensor/creation.h"

namespace kiln::data {

Tensor decode_image(const void* data, size_t size, const std::string& source, int channels, const ImageLimits& limits) {
  KILN_CHECK(channels == 1 || channels == 3, "decode_image: ", source, ": channels must be 1 or 3, got ", channels);
  const ImageHeader h = read_image_header(data, size, source, limits);
  // stb's largest buffers are the decoded image at the file's depth, (PNG) the filtered rows with
  // one filter byte each, (JPEG) one plane per component; allow those with slack, refuse more.
  const int64_t file_bytes = h.width * h.height * h.channels * h.bytes_per_sample;
  // JPEG planes are padded to whole MCUs (at most 32 pixels more each way), with 2-byte
  // coefficients for progressive files.
  const int64_t padded = (h.width + 32) * (h.height + 32);
  const int64_t max_alloc = 2 * std::max(file_bytes, padded * 4) + (1 << 20);
  detail::StbImage img = detail::stb_decode(static_cast<const uint8_t*>(data), size, channels, size_t(max_alloc));
  std::unique_ptr<uint8_t, void (*)(uint8_t*)> owner(img.pixels, detail::stb_free);
  KILN_CHECK(img.pixels != nullptr, "decode_image: ", source, ": ", format_name(h.format), " ", h.width, "x",
             h.height, " could not be decoded: ", img.error);
  KILN_CHECK(img.width == h.width && img.height == h.height, "decode_image: ", source, ": decoded ", img.width, "x",
             img.height, " but the ", format_name(h.format), " header declares ", h.width, "x", h.height);
  Tensor out = empty({h.height, h.width, channels}, DType::u8);
  std::memcpy(out.data<uint8_t>(), img.pixels, size_t(h.height * h.width * channels));
  return out;
}

Tensor read_image(const std::string& path, int channels, const ImageLimits& limits) {
  std::ifstream f(path, std::ios::binary | std::ios::ate);
  KILN_CHECK(f.good(), "read_image: cannot open ", path);
  const std::streamoff size = f.tellg();
  KILN_CHECK(size >= 0, "read_image: cannot read the size of ", path);
  KILN_CHECK(size <= limits.max_file_bytes, "read_image: ", path, " has ", int64_t(size),
             " bytes, over the limit of ", limits.max_file_bytes);
  std::vector<char> buf(static_cast<size_t>(size));
  f.seekg(0);
  if (size > 0) f.read(buf.data(), size);
  KILN_CHECK(f.good() && f.gcount() == size, "read_image: reading ", path, " failed after ", int64_t(f.gcount()), " bytes");
  return decode_image(buf.data(), buf.size(), path, channels, limits);
}

}  // namespace kiln::data
