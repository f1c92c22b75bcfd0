// stb_image's implementation lives in this file only, with private (static) linkage so that a
// program linking kiln and its own copy of stb does not clash.
#include "kiln/data/stb_decode.h"

#include <climits>
#include <cstdlib>

namespace kiln::data::detail {
namespace {
// The per-call allocation cap (Note [Untrusted images]): a corrupt zlib stream can ask the PNG
// decoder to grow its output far beyond the declared image; the cap turns that into an error.
thread_local size_t g_max_alloc = 0;
// Zeroed, because stb 2.27 allocates its JPEG decoder state with malloc and a file that uses a
// Huffman table it never defined would read that memory uninitialised (our header check refuses
// such files; zeroing makes any gap harmless: an all-zero table decodes without out-of-bounds reads).
void* capped_malloc(size_t n) { return n > g_max_alloc ? nullptr : std::calloc(n ? n : 1, 1); }
void* capped_realloc(void* p, size_t n) { return n > g_max_alloc ? nullptr : std::realloc(p, n); }
}  // namespace
}  // namespace kiln::data::detail

#define STBI_MALLOC(n) ::kiln::data::detail::capped_malloc(n)
#define STBI_REALLOC(p, n) ::kiln::data::detail::capped_realloc(p, n)
#define STBI_FREE(p) std::free(p)
#define STBI_ONLY_PNG
#define STBI_ONLY_JPEG
#define STBI_ONLY_BMP
#define STBI_NO_STDIO
#define STBI_NO_LINEAR
#define STBI_NO_HDR
#define STBI_MAX_DIMENSIONS (1 << 16)  // = kMaxImageSide
#define STB_IMAGE_STATIC
#define STB_IMAGE_IMPLEMENTATION
#if defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wsign-compare"
#pragma GCC diagnostic ignored "-Wimplicit-fallthrough"
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#if !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#endif
#include <stb/stb_image.h>
#if defined(__GNUC__)
#pragma GCC diagnostic pop
#endif

namespace kiln::data::detail {

StbImage stb_decode(const uint8_t* data, size_t size, int channels, size_t max_alloc) {
  StbImage out;
  if (size > size_t(INT_MAX)) {
    out.error = "file larger than 2 GiB";
    return out;
  }
  g_max_alloc = max_alloc;
  int file_channels = 0;
  out.pixels = stbi_load_from_memory(data, int(size), &out.width, &out.height, &file_channels, channels);
  g_max_alloc = 0;
  if (!out.pixels) {
    const char* why = stbi_failure_reason();
    out.error = why ? why : "unknown error";
  }
  return out;
}

void stb_free(uint8_t* pixels) { stbi_image_free(pixels); }

}  // namespace kiln::data::detail
