// decode_image / read_image: real MNIST PNGs, round trips through Debian's stb_image_write, and
// hostile files, which must give a kiln::Error that names the file and the problem (never a crash).
#include <gtest/gtest.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "kiln/data/image_io.h"
#include "kiln/tensor/ops.h"
#include "support/fixtures.h"

#define STB_IMAGE_WRITE_STATIC
#define STB_IMAGE_WRITE_IMPLEMENTATION
#if defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#endif
#include <stb/stb_image_write.h>
#if defined(__GNUC__)
#pragma GCC diagnostic pop
#endif

using namespace kiln;
using Bytes = std::vector<uint8_t>;

namespace {

void append(void* ctx, void* data, int n) {
  auto* out = static_cast<Bytes*>(ctx);
  out->insert(out->end(), static_cast<uint8_t*>(data), static_cast<uint8_t*>(data) + n);
}

// A deterministic w x h x c pattern with every byte value in use.
Bytes pattern(int w, int h, int c) {
  Bytes px(size_t(w) * h * c);
  for (size_t i = 0; i < px.size(); ++i) px[i] = uint8_t((i * 37 + i / 7) & 0xFF);
  return px;
}
// A smooth image (JPEG is lossy; smooth content keeps the error small).
Bytes gradient(int w, int h, int c) {
  Bytes px(size_t(w) * h * c);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x)
      for (int k = 0; k < c; ++k) px[(size_t(y) * w + x) * c + k] = uint8_t(40 + 3 * x + 2 * y + 20 * k);
  return px;
}

Bytes write_png(int w, int h, int c, const Bytes& px) {
  Bytes out;
  EXPECT_NE(stbi_write_png_to_func(append, &out, w, h, c, px.data(), w * c), 0);
  return out;
}
Bytes write_bmp(int w, int h, int c, const Bytes& px) {
  Bytes out;
  EXPECT_NE(stbi_write_bmp_to_func(append, &out, w, h, c, px.data()), 0);
  return out;
}
Bytes write_jpg(int w, int h, int c, const Bytes& px) {
  Bytes out;
  EXPECT_NE(stbi_write_jpg_to_func(append, &out, w, h, c, px.data(), 100), 0);
  return out;
}

Tensor decode(const Bytes& b, int channels = 3, const data::ImageLimits& limits = {}) {
  return data::decode_image(b.data(), b.size(), "test.img", channels, limits);
}

uint32_t crc32(const uint8_t* p, size_t n) {
  uint32_t c = 0xFFFFFFFFu;
  for (size_t i = 0; i < n; ++i) {
    c ^= p[i];
    for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
  }
  return ~c;
}
void put_be32(Bytes& b, size_t pos, uint32_t v) {
  for (int i = 0; i < 4; ++i) b[pos + i] = uint8_t(v >> (24 - 8 * i));
}
uint32_t get_be32(const Bytes& b, size_t pos) {
  return uint32_t(b[pos]) << 24 | uint32_t(b[pos + 1]) << 16 | uint32_t(b[pos + 2]) << 8 | b[pos + 3];
}
void put_le32(Bytes& b, size_t pos, uint32_t v) {
  for (int i = 0; i < 4; ++i) b[pos + i] = uint8_t(v >> (8 * i));
}
// Offset of the first PNG chunk of this type; recompute_crc fixes its CRC after an edit.
size_t find_chunk(const Bytes& b, const char* type) {
  for (size_t pos = 8; pos + 8 <= b.size(); pos += 12 + get_be32(b, pos))
    if (std::memcmp(&b[pos + 4], type, 4) == 0) return pos;
  ADD_FAILURE() << "no chunk " << type;
  return 0;
}
void recompute_crc(Bytes& b, size_t chunk) {
  const uint32_t len = get_be32(b, chunk);
  put_be32(b, chunk + 8 + len, crc32(&b[chunk + 4], len + 4));
}
// The PNG with its IHDR width and height replaced (CRC kept valid).
Bytes png_with_size(uint32_t w, uint32_t h) {
  Bytes b = write_png(4, 3, 1, pattern(4, 3, 1));
  const size_t ihdr = find_chunk(b, "IHDR");
  put_be32(b, ihdr + 8, w);
  put_be32(b, ihdr + 12, h);
  recompute_crc(b, ihdr);
  return b;
}

std::string error_of(const Bytes& b, int channels = 3, const data::ImageLimits& limits = {}) {
  try {
    decode(b, channels, limits);
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

#define EXPECT_DECODE_ERROR(bytes, needle)                                     \
  do {                                                                         \
    const std::string msg = error_of(bytes);                                   \
    EXPECT_NE(msg.find("test.img"), std::string::npos) << msg;                 \
    EXPECT_NE(msg.find(needle), std::string::npos) << msg;                     \
  } while (0)

}  // namespace

TEST(ImageIo, RealMnistPngs) {
  // ../shared/data beside the checkout; KILN_SHARED_DATA points elsewhere (e.g. from a worktree).
  const char* env = std::getenv("KILN_SHARED_DATA");
  const std::string root = std::string(env && *env ? env : KILN_SHARED_DATA_DIR) + "/mnist_tiny";
  if (!std::filesystem::exists(root + "/train/3/7.png")) GTEST_SKIP() << root << " is absent";
  // Values read with python3-pil (Image.open(f).load()[x, y]) when this test was written.
  struct Px { int y, x, v; };
  const std::vector<std::pair<std::string, std::vector<Px>>> cases = {
      {"train/3/7.png", {{5, 11, 38}, {10, 20, 252}, {14, 14, 253}, {24, 12, 24}, {0, 0, 0}}},
      {"valid/7/0.png", {{7, 6, 84}, {10, 11, 17}, {13, 18, 254}, {26, 13, 18}, {0, 0, 0}}},
  };
  for (const auto& [name, pixels] : cases) {
    Tensor grey = data::read_image(root + "/" + name, 1);
    ASSERT_EQ(grey.shape(), (Shape{28, 28, 1})) << name;
    EXPECT_EQ(grey.dtype(), DType::u8);
    const uint8_t* g = grey.data<uint8_t>();
    for (const Px& p : pixels) EXPECT_EQ(g[p.y * 28 + p.x], p.v) << name << " at y " << p.y << " x " << p.x;
    Tensor rgb = data::read_image(root + "/" + name, 3);
    ASSERT_EQ(rgb.shape(), (Shape{28, 28, 3}));
    for (int k = 0; k < 3; ++k) EXPECT_TRUE(test::tensors_equal(rgb.narrow(2, k, 1), grey)) << name << " channel " << k;
  }
}

TEST(ImageIo, PngRoundTrip) {
  for (int c : {1, 3}) {
    const Bytes px = pattern(37, 23, c);
    Tensor t = decode(write_png(37, 23, c, px), c);
    ASSERT_EQ(t.shape(), (Shape{23, 37, c}));
    EXPECT_EQ(Bytes(t.data<uint8_t>(), t.data<uint8_t>() + px.size()), px) << c << " channels";
  }
  // Grey files give three equal channels when RGB is asked for.
  const Bytes px = pattern(5, 9, 1);
  Tensor t = decode(write_png(5, 9, 1, px), 3);
  ASSERT_EQ(t.shape(), (Shape{9, 5, 3}));
  for (size_t i = 0; i < px.size(); ++i)
    for (int k = 0; k < 3; ++k) EXPECT_EQ(t.data<uint8_t>()[i * 3 + k], px[i]);
}

TEST(ImageIo, BmpAndJpegRoundTrip) {
  const Bytes px = pattern(13, 7, 3);
  Tensor b = decode(write_bmp(13, 7, 3, px), 3);
  ASSERT_EQ(b.shape(), (Shape{7, 13, 3}));
  EXPECT_EQ(Bytes(b.data<uint8_t>(), b.data<uint8_t>() + px.size()), px);

  const Bytes smooth = gradient(24, 16, 3);
  Tensor j = decode(write_jpg(24, 16, 3, smooth), 3);
  ASSERT_EQ(j.shape(), (Shape{16, 24, 3}));
  int worst = 0;
  for (size_t i = 0; i < smooth.size(); ++i) worst = std::max(worst, std::abs(int(j.data<uint8_t>()[i]) - int(smooth[i])));
  EXPECT_LE(worst, 8) << "quality-100 JPEG of a smooth gradient";
}

TEST(ImageIo, BmpTopDownRowsAreFlipped) {
  const Bytes px = pattern(6, 5, 3);
  Bytes bmp = write_bmp(6, 5, 3, px);  // bottom-up rows
  Tensor up = decode(bmp);
  // The same bytes declared top-down (negative height) give the rows in reverse order.
  put_le32(bmp, 22, uint32_t(-5));
  Tensor down = decode(bmp);
  ASSERT_EQ(down.shape(), (Shape{5, 6, 3}));
  EXPECT_TRUE(test::tensors_equal(down, flip(up, {0})));
}

TEST(ImageIo, EmptyTruncatedAndWrongMagic) {
  EXPECT_DECODE_ERROR(Bytes{}, "empty");
  EXPECT_DECODE_ERROR(Bytes({'G', 'I', 'F', '8', '9', 'a', 1, 0, 1, 0}), "not a PNG, JPEG or BMP");
  const Bytes png = write_png(16, 16, 3, pattern(16, 16, 3));
  for (size_t cut : {size_t(7), size_t(8), size_t(12), size_t(20), size_t(33), size_t(40), png.size() / 2,
                     png.size() - 12, png.size() - 1}) {
    const Bytes part(png.begin(), png.begin() + cut);
    if (cut < 8) EXPECT_DECODE_ERROR(part, "unknown signature");
    else EXPECT_DECODE_ERROR(part, "truncated");
  }
  const Bytes jpg = write_jpg(16, 16, 3, gradient(16, 16, 3));
  for (size_t cut : {size_t(3), size_t(20), jpg.size() / 2, jpg.size() - 2}) {
    EXPECT_DECODE_ERROR(Bytes(jpg.begin(), jpg.begin() + cut), "truncated");
  }
  const Bytes bmp = write_bmp(16, 16, 3, pattern(16, 16, 3));
  for (size_t cut : {size_t(10), size_t(30), size_t(54), bmp.size() - 1}) {
    EXPECT_DECODE_ERROR(Bytes(bmp.begin(), bmp.begin() + cut), "truncated");
  }
}

TEST(ImageIo, PngHostileHeaders) {
  EXPECT_DECODE_ERROR(png_with_size(0, 3), "must be positive");
  EXPECT_DECODE_ERROR(png_with_size(4, 0), "must be positive");
  EXPECT_DECODE_ERROR(png_with_size(100000, 3), "exceed the limit of 16384 per side");
  EXPECT_DECODE_ERROR(png_with_size(0x80000000u, 3), "exceed the limit");
  EXPECT_DECODE_ERROR(png_with_size(0xFFFFFFFFu, 0xFFFFFFFFu), "exceed the limit");
  EXPECT_DECODE_ERROR(png_with_size(16384, 16384), "pixels");  // within the side limit, 256 Mpixel
  // Declared larger than the pixel data holds: stb fails cleanly.
  EXPECT_DECODE_ERROR(png_with_size(1000, 1000), "could not be decoded");
  // An edited IHDR whose CRC was not fixed.
  Bytes b = write_png(4, 3, 1, pattern(4, 3, 1));
  b[16 + 3] = 9;
  EXPECT_DECODE_ERROR(b, "bad CRC");
  // A bad colour type / bit depth.
  b = write_png(4, 3, 1, pattern(4, 3, 1));
  const size_t ihdr = find_chunk(b, "IHDR");
  b[ihdr + 8 + 9] = 5;
  recompute_crc(b, ihdr);
  EXPECT_DECODE_ERROR(b, "colour type 5");
  // A chunk length above 2^31 - 1.
  b = write_png(4, 3, 1, pattern(4, 3, 1));
  put_be32(b, find_chunk(b, "IDAT"), 0x90000000u);
  EXPECT_DECODE_ERROR(b, "declares length");
  // The byte budget: a 16-bit RGBA 8000 x 8000 image needs 512 MB.
  b = png_with_size(8000, 8000);
  b[ihdr + 8 + 8] = 16;
  b[ihdr + 8 + 9] = 6;
  recompute_crc(b, ihdr);
  EXPECT_DECODE_ERROR(b, "over the limit");
}

TEST(ImageIo, PngCorruptZlibData) {
  const Bytes good = write_png(32, 32, 3, pattern(32, 32, 3));
  const size_t idat = find_chunk(good, "IDAT");
  const uint32_t len = get_be32(good, idat);
  int errors = 0;
  for (uint32_t at : {0u, 1u, 2u, len / 3, len / 2, len - 5}) {  // zlib header, deflate blocks, adler32
    for (uint8_t x : {uint8_t(0xFF), uint8_t(0x5A)}) {
      Bytes b = good;
      b[idat + 8 + at] ^= x;
      recompute_crc(b, idat);  // past our CRC check, so stb's inflate sees the damage
      try {
        Tensor t = decode(b);
        EXPECT_EQ(t.shape(), (Shape{32, 32, 3}));  // damage inflate could not see: still the right size
      } catch (const Error& e) {
        ++errors;
        EXPECT_NE(std::string(e.what()).find("test.img"), std::string::npos) << e.what();
      }
    }
  }
  EXPECT_GT(errors, 0);
  // An IDAT with its deflate stream replaced by garbage.
  Bytes b = good;
  for (uint32_t i = 0; i < len; ++i) b[idat + 8 + i] = uint8_t(i * 131 + 7);
  recompute_crc(b, idat);
  EXPECT_DECODE_ERROR(b, "could not be decoded");
}

TEST(ImageIo, BmpHostileHeaders) {
  const Bytes good = write_bmp(8, 4, 3, pattern(8, 4, 3));
  auto with = [&](size_t pos, uint32_t v) {
    Bytes b = good;
    put_le32(b, pos, v);
    return b;
  };
  EXPECT_DECODE_ERROR(with(18, uint32_t(-8)), "width -8");
  EXPECT_DECODE_ERROR(with(18, 0), "width 0");
  EXPECT_DECODE_ERROR(with(22, 0x80000000u), "height -2147483648");
  EXPECT_DECODE_ERROR(with(22, 0), "dimensions");
  EXPECT_DECODE_ERROR(with(18, 1u << 30), "dimensions");
  EXPECT_DECODE_ERROR(with(22, uint32_t(-(1 << 30))), "dimensions");
  EXPECT_DECODE_ERROR(with(22, 5000), "truncated");  // more rows than the file holds
  EXPECT_DECODE_ERROR(with(10, 20), "inside the headers");
  EXPECT_DECODE_ERROR(with(14, 77), "info header size 77");
  EXPECT_DECODE_ERROR(with(30, 1), "compression 1");  // RLE8
  Bytes b = good;
  b[28] = 7;  // bits per pixel
  EXPECT_DECODE_ERROR(b, "bit count 7");
}

TEST(ImageIo, JpegHostileSegments) {
  const Bytes good = write_jpg(16, 8, 3, gradient(16, 8, 3));
  size_t sof = 0;
  for (size_t i = 2; i + 1 < good.size(); ++i)
    if (good[i] == 0xFF && good[i + 1] == 0xC0) { sof = i; break; }
  ASSERT_GT(sof, 0u);
  Bytes b = good;
  b[sof + 5] = b[sof + 6] = 0;  // height 0
  EXPECT_DECODE_ERROR(b, "must be positive");
  b = good;
  b[sof + 1] = 0xC3;  // lossless
  EXPECT_DECODE_ERROR(b, "SOF3");
  b = good;
  b[sof + 4] = 12;  // 12-bit samples
  EXPECT_DECODE_ERROR(b, "precision 12");
  b = good;
  b[sof + 9] = 2;  // 2 components
  EXPECT_DECODE_ERROR(b, "2 components");
  // A second frame segment.
  b = good;
  b.insert(b.begin() + long(sof), good.begin() + long(sof), good.begin() + long(sof) + 19);
  EXPECT_DECODE_ERROR(b, "more than one frame");
}

TEST(ImageIo, LimitsAndArguments) {
  const Bytes png = write_png(37, 23, 3, pattern(37, 23, 3));
  data::ImageLimits small;
  small.max_side = 30;
  EXPECT_NE(error_of(png, 3, small).find("limit of 30 per side"), std::string::npos);
  small = {};
  small.max_pixels = 800;
  EXPECT_NE(error_of(png, 3, small).find("limit of 800 pixels"), std::string::npos);
  small = {};
  small.max_side = 1 << 20;
  EXPECT_NE(error_of(png, 3, small).find("limits out of range"), std::string::npos);
  EXPECT_NE(error_of(png, 4).find("channels must be 1 or 3"), std::string::npos);
  EXPECT_KILN_ERROR(data::read_image("/nonexistent/x.png"), "cannot open");

  const std::string path = (std::filesystem::temp_directory_path() / "kiln_test_image_io.png").string();
  {
    std::FILE* f = std::fopen(path.c_str(), "wb");
    ASSERT_NE(f, nullptr);
    std::fwrite(png.data(), 1, png.size(), f);
    std::fclose(f);
  }
  EXPECT_EQ(data::read_image(path).shape(), (Shape{23, 37, 3}));
  data::ImageLimits tiny_file;
  tiny_file.max_file_bytes = 100;
  EXPECT_KILN_ERROR(data::read_image(path, 3, tiny_file), "over the limit of 100");
  std::filesystem::remove(path);
}

// The fuzzer's seed images (tests/fuzz/make_corpus.py, written by python3-pil): every variant stb
// decodes passes our header checks and decodes; the broken_* files are refused with an error.
TEST(ImageIo, FuzzSeedCorpus) {
  const std::filesystem::path dir = std::filesystem::path(KILN_FIXTURE_DIR) / ".." / "fuzz" / "corpus" / "image";
  ASSERT_TRUE(std::filesystem::is_directory(dir)) << dir;
  int good = 0, broken = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    const std::string name = e.path().filename().string();
    if (name.rfind("broken_", 0) == 0) {
      EXPECT_THROW(data::read_image(e.path().string()), Error) << name;
      ++broken;
    } else if (name.rfind("crash-", 0) == 0) {
      try {  // once crashed a fuzz target: now either decodes or is refused
        data::read_image(e.path().string());
      } catch (const Error&) {
      }
    } else {
      for (int c : {1, 3}) {
        Tensor t = data::read_image(e.path().string(), c);
        EXPECT_GT(t.size(0), 0) << name;
        EXPECT_EQ(t.size(2), c) << name;
      }
      ++good;
    }
  }
  EXPECT_GE(good, 10);
  EXPECT_GE(broken, 3);
}

// Found by fuzz_image: a progressive JPEG whose AC scan uses a Huffman table no DHT defined; stb
// 2.27 decoded it from uninitialised memory and read out of bounds. Now refused before stb.
TEST(ImageIo, JpegScanWithUndefinedHuffmanTable) {
  const std::string path = std::string(KILN_FIXTURE_DIR) + "/../fuzz/corpus/image/crash-jpeg-undefined-huffman-table";
  EXPECT_KILN_ERROR(data::read_image(path), "undefined Huffman table");
  // The same check on a valid file: drop its DHT segments and the first scan has no tables.
  const Bytes good = write_jpg(16, 8, 3, gradient(16, 8, 3));
  Bytes b(good.begin(), good.begin() + 2);
  for (size_t pos = 2; pos + 4 <= good.size();) {
    const size_t len = size_t(good[pos + 2]) << 8 | good[pos + 3];
    if (good[pos + 1] == 0xDA) {
      b.insert(b.end(), good.begin() + long(pos), good.end());
      break;
    }
    if (good[pos + 1] != 0xC4) b.insert(b.end(), good.begin() + long(pos), good.begin() + long(pos + 2 + len));
    pos += 2 + len;
  }
  EXPECT_DECODE_ERROR(b, "undefined Huffman table");
}
