// libFuzzer target: data::decode_image on arbitrary bytes (PNG, JPEG, BMP). A kiln::Error is the
// expected answer to a bad file; a crash, a sanitizer report or another exception is a bug.
#include <cstddef>
#include <cstdint>

#include "kiln/data/image_io.h"
#include "kiln/kernels/error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // Smaller limits than the defaults keep each run fast; the checks are the same code.
  kiln::data::ImageLimits limits;
  limits.max_side = 4096;
  limits.max_pixels = 1 << 22;
  limits.max_bytes = 1 << 24;
  const int channels = size % 2 ? 1 : 3;
  try {
    kiln::Tensor t = kiln::data::decode_image(data, size, "fuzz", channels, limits);
    const auto* p = t.data<uint8_t>();
    size_t sum = 0;
    for (int64_t i = 0; i < t.numel(); ++i) sum += p[i];
    (void)sum;
  } catch (const kiln::Error&) {
  }
  return 0;
}
