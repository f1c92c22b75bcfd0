// Container parsers for PNG, JPEG and BMP: only what is needed to know the image's size and that
// the file is whole, see Note [Untrusted images] in image_header.h. Every read goes through
// Reader, which checks bounds, so a hostile file can only produce an error.
#include "kiln/data/image_header.h"

#include <array>
#include <cstring>

#include "kiln/kernels/error.h"

namespace kiln::data {

const char* format_name(ImageFormat f) {
  switch (f) {
    case ImageFormat::png: return "PNG";
    case ImageFormat::jpeg: return "JPEG";
    case ImageFormat::bmp: return "BMP";
  }
  return "?";
}

namespace {

// Bounds-checked big/little-endian reads over the file image.
struct Reader {
  const uint8_t* p;
  size_t size;
  const std::string& source;
  const char* format;

  void need(size_t pos, size_t n, const char* what) const {
    KILN_CHECK(pos <= size && n <= size - pos, "decode_image: ", source, ": ", format, " file is truncated (",
               what, " needs bytes ", pos, "..", pos + n, ", the file has ", size, ")");
  }
  uint32_t be16(size_t pos) const { return uint32_t(p[pos]) << 8 | p[pos + 1]; }
  uint32_t be32(size_t pos) const { return be16(pos) << 16 | be16(pos + 2); }
  uint32_t le16(size_t pos) const { return uint32_t(p[pos + 1]) << 8 | p[pos]; }
  uint32_t le32(size_t pos) const { return le16(pos + 2) << 16 | le16(pos); }
};

[[noreturn]] void fail(const Reader& r, const std::string& what) {
  KILN_FAIL("decode_image: ", r.source, ": ", r.format, " ", what);
}

// The PNG chunk CRC (ISO 3309 / ITU-T V.42 CRC-32, reflected polynomial 0xEDB88320).
uint32_t crc32(const uint8_t* p, size_t n) {
  static const std::array<uint32_t, 256> table = [] {
    std::array<uint32_t, 256> t{};
    for (uint32_t i = 0; i < 256; ++i) {
      uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
      t[i] = c;
    }
    return t;
  }();
  uint32_t c = 0xFFFFFFFFu;
  for (size_t i = 0; i < n; ++i) c = table[(c ^ p[i]) & 0xFF] ^ (c >> 8);
  return c ^ 0xFFFFFFFFu;
}

// Chunks: u32 length, 4-letter type, data, CRC over type + data. IHDR first, PLTE before IDAT for
// palette images, at least one IDAT, IEND last; a file that ends before IEND is truncated.
ImageHeader parse_png(const Reader& r) {
  ImageHeader h{ImageFormat::png};
  bool have_ihdr = false, have_plte = false, have_idat = false;
  int color_type = 0;
  size_t pos = 8;
  for (int index = 0;; ++index) {
    r.need(pos, 8, "a chunk header");
    const uint32_t len = r.be32(pos);
    char type[5] = {0};
    std::memcpy(type, r.p + pos + 4, 4);
    for (int i = 0; i < 4; ++i) {
      const char c = type[i];
      if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')))
        fail(r, detail::str_cat("chunk at byte ", pos, " has an invalid type (byte ", int(uint8_t(c)), ")"));
    }
    if (len > 0x7FFFFFFFu) fail(r, detail::str_cat("chunk '", type, "' declares length ", len, " (> 2^31 - 1)"));
    r.need(pos + 8, size_t(len) + 4, "chunk data and CRC");
    const uint32_t crc = r.be32(pos + 8 + len);
    if (crc32(r.p + pos + 4, size_t(len) + 4) != crc) fail(r, detail::str_cat("chunk '", type, "' at byte ", pos, " has a bad CRC"));
    const uint8_t* d = r.p + pos + 8;
    const std::string t(type);
    if (index == 0 && t != "CgBI") {  // Apple's CgBI chunk may precede IHDR; stb accepts it
      if (t != "IHDR") fail(r, "file does not start with an IHDR chunk (found '" + t + "')");
    }
    if (t == "IHDR") {
      if (have_ihdr) fail(r, "file has two IHDR chunks");
      if (len != 13) fail(r, detail::str_cat("IHDR chunk has length ", len, " (expected 13)"));
      have_ihdr = true;
      h.width = r.be32(pos + 8);
      h.height = r.be32(pos + 12);
      const int depth = d[8];
      color_type = d[9];
      bool depth_ok = false;
      switch (color_type) {
        case 0: depth_ok = depth == 1 || depth == 2 || depth == 4 || depth == 8 || depth == 16; h.channels = 1; break;
        case 2: depth_ok = depth == 8 || depth == 16; h.channels = 3; break;
        case 3: depth_ok = depth == 1 || depth == 2 || depth == 4 || depth == 8; h.channels = 4; break;
        case 4: depth_ok = depth == 8 || depth == 16; h.channels = 2; break;
        case 6: depth_ok = depth == 8 || depth == 16; h.channels = 4; break;
        default: fail(r, detail::str_cat("IHDR has an invalid colour type ", color_type));
      }
      if (!depth_ok) fail(r, detail::str_cat("IHDR has bit depth ", depth, ", invalid for colour type ", color_type));
      h.bytes_per_sample = depth == 16 ? 2 : 1;
      if (d[10] != 0 || d[11] != 0 || d[12] > 1)
        fail(r, detail::str_cat("IHDR has unknown compression / filter / interlace methods ", int(d[10]), "/",
                                int(d[11]), "/", int(d[12])));
    } else if (!have_ihdr) {
      if (index > 0) fail(r, "chunk '" + t + "' comes before IHDR");
    } else if (t == "PLTE") {
      if (len == 0 || len % 3 != 0 || len > 768) fail(r, detail::str_cat("PLTE chunk has length ", len));
      have_plte = true;
    } else if (t == "IDAT") {
      if (color_type == 3 && !have_plte) fail(r, "palette image has IDAT before PLTE");
      have_idat = true;
    } else if (t == "IEND") {
      if (!have_idat) fail(r, "file has no IDAT chunk");
      return h;
    } else if (!(type[0] & 0x20)) {  // upper-case first letter: a critical chunk we do not know
      fail(r, "file has an unknown critical chunk '" + t + "'");
    }
    pos += 12 + size_t(len);
  }
}

// DHT payload: tables of [class << 4 | id], 16 code counts, the symbols. The counts must describe a
// prefix code (no length over-subscribed) of at most 256 symbols.
void parse_dht(const Reader& r, const uint8_t* d, size_t n, bool (&have_table)[2][4]) {
  size_t i = 0;
  while (i < n) {
    if (n - i < 17) fail(r, "DHT segment ends inside a table header");
    const int tc = d[i] >> 4, th = d[i] & 15;
    if (tc > 1 || th > 3) fail(r, detail::str_cat("DHT table class ", tc, " id ", th, " is invalid"));
    uint32_t total = 0, code = 0;
    for (int len = 1; len <= 16; ++len) {
      const uint32_t count = d[i + len];
      total += count;
      code += count;
      if (code > (1u << len)) fail(r, detail::str_cat("DHT table ", tc, "/", th, " has too many codes of length ", len));
      code <<= 1;
    }
    if (total > 256 || n - i - 17 < total) fail(r, detail::str_cat("DHT table ", tc, "/", th, " has ", total, " symbols"));
    have_table[tc][th] = true;
    i += 17 + total;
  }
}

// Segments: FF marker [u16 length incl. itself, payload]. After SOS the entropy-coded data runs
// to the next marker that is not a stuffed FF00 or a restart FFD0..FFD7. A file must have exactly
// one frame (SOF0 baseline, SOF1 extended or SOF2 progressive: what stb decodes), a scan after it,
// and end with EOI.
ImageHeader parse_jpeg(const Reader& r) {
  ImageHeader h{ImageFormat::jpeg};
  bool have_sof = false, have_sos = false, progressive = false;
  bool have_table[2][4] = {};  // [DC=0 / AC=1][id]: defined by a DHT segment so far
  size_t pos = 2;
  while (true) {
    r.need(pos, 2, "a marker");
    if (r.p[pos] != 0xFF) fail(r, detail::str_cat("expected a marker at byte ", pos, ", found byte ", int(r.p[pos])));
    while (true) {  // fill bytes
      r.need(pos, 2, "a marker");
      if (r.p[pos + 1] != 0xFF) break;
      ++pos;
    }
    const int m = r.p[pos + 1];
    pos += 2;
    if (m == 0xD9) break;                                    // EOI
    if ((m >= 0xD0 && m <= 0xD7) || m == 0x01) continue;    // standalone markers
    if (m == 0xD8 || m == 0x00) fail(r, detail::str_cat("unexpected marker ", m, " at byte ", pos - 2));
    r.need(pos, 2, "a segment length");
    const uint32_t len = r.be16(pos);
    if (len < 2) fail(r, detail::str_cat("segment ", m, " at byte ", pos - 2, " has length ", len));
    r.need(pos, len, "a segment");
    const uint8_t* d = r.p + pos + 2;
    const bool is_sof = m >= 0xC0 && m <= 0xCF && m != 0xC4 && m != 0xC8 && m != 0xCC;
    if (is_sof) {
      if (m != 0xC0 && m != 0xC1 && m != 0xC2)
        fail(r, detail::str_cat("frame type SOF", m - 0xC0, " is not supported (only baseline, extended, progressive)"));
      if (have_sof) fail(r, "file has more than one frame (SOF) segment");
      have_sof = true;
      progressive = m == 0xC2;
      if (len < 8) fail(r, detail::str_cat("SOF segment has length ", len));
      if (d[0] != 8) fail(r, detail::str_cat("sample precision ", int(d[0]), " is not supported (only 8)"));
      h.height = r.be16(pos + 3);
      h.width = r.be16(pos + 5);
      const int nc = d[5];
      if (nc != 1 && nc != 3 && nc != 4) fail(r, detail::str_cat("frame has ", nc, " components (1, 3 or 4 supported)"));
      if (len != 8 + 3u * uint32_t(nc)) fail(r, detail::str_cat("SOF segment has length ", len, " for ", nc, " components"));
      for (int c = 0; c < nc; ++c) {
        const int hs = d[7 + 3 * c] >> 4, vs = d[7 + 3 * c] & 15, tq = d[8 + 3 * c];
        if (hs < 1 || hs > 4 || vs < 1 || vs > 4 || tq > 3)
          fail(r, detail::str_cat("component ", c, " has sampling ", hs, "x", vs, " and table ", tq));
      }
      h.channels = nc;
    }
    if (m == 0xC4) parse_dht(r, d, len - 2, have_table);
    pos += len;
    if (m == 0xDA) {  // SOS: header, then entropy-coded data
      if (!have_sof) fail(r, "scan (SOS) before the frame (SOF)");
      if (len < 3 || d[0] < 1 || d[0] > 4 || len != 6 + 2u * d[0]) fail(r, detail::str_cat("SOS segment has length ", len));
      // Every Huffman table the scan decodes with must have been defined (stb 2.27 would read an
      // undefined one from uninitialised memory). Progressive scans: DC first scans (Ss = 0,
      // Ah = 0) use DC tables, DC refinements none, AC scans (Ss > 0) AC tables.
      const int ns = d[0], ss = d[1 + 2 * ns], ah = d[3 + 2 * ns] >> 4;
      for (int c = 0; c < ns; ++c) {
        const int td = d[2 + 2 * c] >> 4, ta = d[2 + 2 * c] & 15;
        const bool need_dc = progressive ? ss == 0 && ah == 0 : true;
        const bool need_ac = progressive ? ss > 0 : true;
        if ((need_dc && (td > 3 || !have_table[0][td])) || (need_ac && (ta > 3 || !have_table[1][ta])))
          fail(r, detail::str_cat("scan at byte ", pos - len - 2, " uses an undefined Huffman table (DC ", td, ", AC ", ta, ")"));
      }
      have_sos = true;
      while (true) {
        r.need(pos, 2, "entropy-coded data");
        if (r.p[pos] == 0xFF && r.p[pos + 1] != 0x00 && !(r.p[pos + 1] >= 0xD0 && r.p[pos + 1] <= 0xD7)) break;
        ++pos;
      }
    }
  }
  if (!have_sof) fail(r, "file has no frame (SOF) segment");
  if (!have_sos) fail(r, "file has no scan (SOS)");
  return h;
}

// BITMAPFILEHEADER (14 bytes: "BM", size, reserved, pixel offset) + an info header of 12 (core,
// u16 sizes) or 40/56/108/124 bytes (i32 sizes; a negative height means top-down rows).
// Uncompressed or BITFIELDS only (stb does not decode RLE); the pixel rows must fit in the file.
ImageHeader parse_bmp(const Reader& r) {
  ImageHeader h{ImageFormat::bmp};
  r.need(0, 18, "the file header");
  const uint32_t offset = r.le32(10);
  const uint32_t hsz = r.le32(14);
  if (hsz != 12 && hsz != 40 && hsz != 56 && hsz != 108 && hsz != 124)
    fail(r, detail::str_cat("info header size ", hsz, " is not supported"));
  r.need(14, hsz, "the info header");
  uint32_t planes, bpp, compression = 0;
  if (hsz == 12) {
    h.width = r.le16(18);
    h.height = r.le16(20);
    planes = r.le16(22);
    bpp = r.le16(24);
  } else {
    const int32_t w = int32_t(r.le32(18)), ht = int32_t(r.le32(22));
    if (w <= 0) fail(r, detail::str_cat("info header has width ", w));
    if (ht == INT32_MIN) fail(r, detail::str_cat("info header has height ", ht));
    h.width = w;
    h.height = ht < 0 ? -int64_t(ht) : ht;
    planes = r.le16(26);
    bpp = r.le16(28);
    compression = r.le32(30);
  }
  if (planes != 1) fail(r, detail::str_cat("info header has ", planes, " planes (expected 1)"));
  if (bpp != 1 && bpp != 4 && bpp != 8 && bpp != 16 && bpp != 24 && bpp != 32)
    fail(r, detail::str_cat("bit count ", bpp, " is not supported"));
  if (compression != 0 && !(compression == 3 && (bpp == 16 || bpp == 32)))
    fail(r, detail::str_cat("compression ", compression, " with ", bpp, " bits is not supported"));
  // Palette entries (3 bytes in core files, 4 otherwise) and the 3 BITFIELDS masks after a 40-byte
  // header sit between the info header and the pixels.
  uint64_t min_offset = 14 + uint64_t(hsz) + (hsz == 40 && compression == 3 ? 12 : 0);
  if (bpp <= 8) min_offset += hsz == 12 ? 3 : 4;
  if (offset < min_offset) fail(r, detail::str_cat("pixel data offset ", offset, " is inside the headers (needs >= ", min_offset, ")"));
  h.channels = 4;
  // Sizes are checked against the limits by the caller; check them here first too so that the
  // row arithmetic below stays small.
  if (h.width == 0 || h.height == 0 || h.width > kMaxImageSide || h.height > kMaxImageSide)
    fail(r, detail::str_cat("has dimensions ", h.width, "x", h.height));
  const uint64_t row = (uint64_t(h.width) * bpp + 31) / 32 * 4;
  r.need(offset, row * uint64_t(h.height), "the pixel rows");
  return h;
}

}  // namespace

ImageHeader read_image_header(const void* data, size_t size, const std::string& source, const ImageLimits& limits) {
  KILN_CHECK(data != nullptr || size == 0, "decode_image: ", source, ": null data with size ", size);
  KILN_CHECK(limits.max_side >= 1 && limits.max_side <= kMaxImageSide && limits.max_pixels >= 1 && limits.max_bytes >= 1,
             "decode_image: limits out of range: max_side ", limits.max_side, " (at most ", kMaxImageSide,
             "), max_pixels ", limits.max_pixels, ", max_bytes ", limits.max_bytes);
  const auto* p = static_cast<const uint8_t*>(data);
  KILN_CHECK(size > 0, "decode_image: ", source, ": the file is empty");
  static const uint8_t png_sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
  ImageHeader h;
  if (size >= 8 && std::memcmp(p, png_sig, 8) == 0) {
    h = parse_png(Reader{p, size, source, "PNG"});
  } else if (size >= 3 && p[0] == 0xFF && p[1] == 0xD8 && p[2] == 0xFF) {
    h = parse_jpeg(Reader{p, size, source, "JPEG"});
  } else if (size >= 2 && p[0] == 'B' && p[1] == 'M') {
    h = parse_bmp(Reader{p, size, source, "BMP"});
  } else {
    KILN_FAIL("decode_image: ", source, ": not a PNG, JPEG or BMP file (unknown signature, ", size, " bytes)");
  }
  const char* f = format_name(h.format);
  KILN_CHECK(h.width > 0 && h.height > 0, "decode_image: ", source, ": ", f, " declares dimensions ", h.width, "x",
             h.height, " (must be positive)");
  KILN_CHECK(h.width <= limits.max_side && h.height <= limits.max_side, "decode_image: ", source, ": ", f,
             " dimensions ", h.width, "x", h.height, " exceed the limit of ", limits.max_side, " per side");
  KILN_CHECK(h.width * h.height <= limits.max_pixels, "decode_image: ", source, ": ", f, " dimensions ", h.width,
             "x", h.height, " exceed the limit of ", limits.max_pixels, " pixels");
  const int64_t bytes = h.width * h.height * h.channels * h.bytes_per_sample;
  KILN_CHECK(bytes <= limits.max_bytes, "decode_image: ", source, ": ", f, " image ", h.width, "x", h.height, "x",
             h.channels, " needs ", bytes, " bytes to decode, over the limit of ", limits.max_bytes);
  return h;
}

}  // namespace kiln::data
