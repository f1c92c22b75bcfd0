#pragma once
// MNIST_TINY (3 vs 7) for the examples and the end-to-end test, from either
//  - the packed file of tools/make_mnist_tiny.py: "KILNMNP1", then the train and valid splits,
//    each a u32 count n, n u8 labels (0 = "3", 1 = "7") and n images, each a u32 byte length and
//    the original PNG file's bytes; every size is checked against the file; or
//  - a fastai-style folder DIR/{train,valid}/{3,7}/*.png (files in sorted name order).
// Every image is decoded at load time by data::decode_image, which checks the PNG before stb sees
// it (Note [Untrusted images] in data/image_header.h), and must be 28x28.
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <utility>
#include <vector>

#include "kiln/data/image_io.h"
#include "kiln/kernels/error.h"
#include "kiln/tensor/ops.h"

namespace kiln::examples {

struct MnistSplit {
  Tensor x;  // [N, 1, 28, 28] f32, scaled to [0, 1] then normalised with MNIST's mean and std
  Tensor y;  // [N] i64
};

namespace detail {

// Limits for 28x28 digits: anything much bigger is not an MNIST image.
inline data::ImageLimits mnist_limits() {
  data::ImageLimits l;
  l.max_side = 1024;
  l.max_pixels = 1 << 20;
  l.max_bytes = 16 << 20;
  l.max_file_bytes = 1 << 20;
  return l;
}

// Appends the 784 grey pixels of a decoded image to `pixels`.
inline void append_digit(const Tensor& img, const std::string& source, std::vector<uint8_t>& pixels) {
  KILN_CHECK(img.size(0) == 28 && img.size(1) == 28, "MNIST_TINY: ", source, " is ", img.size(1), "x", img.size(0),
             ", expected 28x28");
  const uint8_t* p = img.data<uint8_t>();
  pixels.insert(pixels.end(), p, p + 28 * 28);
}

inline MnistSplit make_split(const std::vector<uint8_t>& labels, const std::vector<uint8_t>& pixels) {
  const auto n = int64_t(labels.size());
  Tensor y = from_blob(labels.data(), {n}, DType::u8).to(DType::i64);
  Tensor x = from_blob(pixels.data(), {n, 1, 28, 28}, DType::u8).to(DType::f32);
  return MnistSplit{div(sub(div(x, 255.0), 0.1307), 0.3081), y};
}

inline std::pair<MnistSplit, MnistSplit> load_packed(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  KILN_CHECK(f.good(), "cannot open data file ", path);
  std::vector<char> buf((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  size_t pos = 0;
  auto take = [&](size_t n) {
    KILN_CHECK(n <= buf.size() - pos, "data file ", path, " is truncated at byte ", pos, " (needs ", n, " more)");
    const char* p = buf.data() + pos;
    pos += n;
    return p;
  };
  KILN_CHECK(buf.size() >= 8 && std::memcmp(take(8), "KILNMNP1", 8) == 0, "data file ", path,
             " is not a packed MNIST_TINY file (magic KILNMNP1; re-run tools/make_mnist_tiny.py)");
  const data::ImageLimits limits = mnist_limits();
  auto split = [&](const char* name) {
    uint32_t n;
    std::memcpy(&n, take(4), 4);
    KILN_CHECK(n > 0 && n < 100000, "data file ", path, ": bad image count ", n, " in split ", name);
    const auto* l = reinterpret_cast<const uint8_t*>(take(n));
    std::vector<uint8_t> labels(l, l + n), pixels;
    KILN_CHECK(std::all_of(labels.begin(), labels.end(), [](uint8_t v) { return v < 2; }), "data file ", path,
               ": a label of split ", name, " is not 0 or 1");
    pixels.reserve(size_t(n) * 784);
    for (uint32_t i = 0; i < n; ++i) {
      uint32_t len;
      std::memcpy(&len, take(4), 4);
      const std::string source = path + ":" + name + "[" + std::to_string(i) + "]";
      KILN_CHECK(len <= uint32_t(limits.max_file_bytes), "data file ", source, ": image of ", len, " bytes");
      append_digit(data::decode_image(take(len), len, source, 1, limits), source, pixels);
    }
    return make_split(labels, pixels);
  };
  MnistSplit train = split("train");
  MnistSplit valid = split("valid");
  KILN_CHECK(pos == buf.size(), "data file ", path, " has ", buf.size() - pos, " bytes after the valid split");
  return {train, valid};
}

inline MnistSplit load_folder_split(const std::filesystem::path& dir) {
  std::vector<uint8_t> labels, pixels;
  const data::ImageLimits limits = mnist_limits();
  for (uint8_t label : {0, 1}) {
    const std::filesystem::path cls = dir / (label == 0 ? "3" : "7");
    KILN_CHECK(std::filesystem::is_directory(cls), "MNIST_TINY folder: ", cls.string(), " is missing");
    std::vector<std::filesystem::path> files;
    for (const auto& e : std::filesystem::directory_iterator(cls))
      if (e.is_regular_file() && e.path().extension() == ".png") files.push_back(e.path());
    std::sort(files.begin(), files.end());
    KILN_CHECK(!files.empty(), "MNIST_TINY folder: no .png files in ", cls.string());
    for (const auto& file : files) {
      append_digit(data::read_image(file.string(), 1, limits), file.string(), pixels);
      labels.push_back(label);
    }
  }
  return make_split(labels, pixels);
}

}  // namespace detail

// `path`: the packed file, or a folder with train/ and valid/ (see above).
inline std::pair<MnistSplit, MnistSplit> load_mnist_tiny(const std::string& path) {
  if (std::filesystem::is_directory(path)) {
    const std::filesystem::path root(path);
    return {detail::load_folder_split(root / "train"), detail::load_folder_split(root / "valid")};
  }
  return detail::load_packed(path);
}

}  // namespace kiln::examples
