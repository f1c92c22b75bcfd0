#pragma once
// The packed MNIST_TINY file of tools/make_mnist_tiny.py, shared by the examples and the
// end-to-end test: "KILNMNT1", then the train and valid splits, each a u32 count n, n u8 labels
// (0 = "3", 1 = "7") and n * 784 u8 pixels. Every size is checked against the file.
#include <cstdint>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <utility>
#include <vector>

#include "kiln/kernels/error.h"
#include "kiln/tensor/ops.h"

namespace kiln::examples {

struct MnistSplit {
  Tensor x;  // [N, 1, 28, 28] f32, scaled to [0, 1] then normalised with MNIST's mean and std
  Tensor y;  // [N] i64
};

inline std::pair<MnistSplit, MnistSplit> load_mnist_tiny(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  KILN_CHECK(f.good(), "cannot open data file ", path);
  std::vector<char> buf((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  size_t pos = 0;
  auto take = [&](size_t n) {
    KILN_CHECK(pos + n <= buf.size(), "data file ", path, " is truncated at byte ", pos, " (needs ", n, " more)");
    const char* p = buf.data() + pos;
    pos += n;
    return p;
  };
  KILN_CHECK(std::memcmp(take(8), "KILNMNT1", 8) == 0, "data file ", path, " is not a packed MNIST_TINY file");
  auto split = [&]() {
    uint32_t n;
    std::memcpy(&n, take(4), 4);
    KILN_CHECK(n > 0 && n < 100000, "data file ", path, ": bad image count ", n);
    Tensor labels = from_blob(take(n), {int64_t(n)}, DType::u8).to(DType::i64);
    Tensor pixels = from_blob(take(size_t(n) * 784), {int64_t(n), 1, 28, 28}, DType::u8).to(DType::f32);
    return MnistSplit{div(sub(div(pixels, 255.0), 0.1307), 0.3081), labels};
  };
  MnistSplit train = split();
  MnistSplit valid = split();
  return {train, valid};
}

}  // namespace kiln::examples
