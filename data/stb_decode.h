#pragma once
// The one place that calls stb_image (Debian's libstb-dev 2.27), built with PNG, JPEG and BMP only
// and no stdio. Callers check the file first (read_image_header); see Note [Untrusted images].
#include <cstddef>
#include <cstdint>
#include <string>

namespace kiln::data::detail {

struct StbImage {
  uint8_t* pixels = nullptr;  // height * width * channels u8, row-major HWC; free with stb_free
  int width = 0, height = 0;
  std::string error;          // stb's failure reason when pixels is null
};

// Decodes to `channels` (1 or 3) 8-bit channels. Every allocation stb makes during the call is
// refused (stb then fails cleanly) when it is larger than max_alloc bytes.
StbImage stb_decode(const uint8_t* data, size_t size, int channels, size_t max_alloc);
void stb_free(uint8_t* pixels);

}  // namespace kiln::data::detail
