// kernels/cpu/pad_planes.h: every compiled ISA copy of the plane padding (and of the strided row
// scatter of the input gradient) against a plain placement,
// for the shapes the convolutions ask for (symmetric input padding; dy padded above/left by the
// taps' reach and below/right as far as the phases read), small planes (the AVX-512 expand-load
// path, including planes that are a whole number of vectors) and large ones (row by row), and
// chunks of fewer planes than the small-plane path takes.
#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "kiln/kernels/cpu/isa.h"
#include "kiln/kernels/cpu/pad_planes.h"

namespace kiln::test {
namespace {

// Runs fn(name) once per compiled ISA copy the CPU can run, with that copy selected for
// KILN_ISA_CALL (Note [ISA dispatch]).
template <class Fn>
void for_each_isa(Fn fn) {
  const cpu::Isa best = cpu::detected_isa();
  for (cpu::Isa isa : {cpu::Isa::baseline, cpu::Isa::avx2, cpu::Isa::avx512}) {
    if (int(isa) > int(best)) continue;
    cpu::set_cpu_isa(isa);
    fn(cpu::isa_name(isa));
  }
  cpu::set_cpu_isa(best);
}

struct PadCase {
  int64_t planes, H, W, top, left, Hp, Wp;
};

template <class T>
std::vector<T> placed(const std::vector<T>& src, const PadCase& c) {
  std::vector<T> out(size_t(c.planes * c.Hp * c.Wp), T(0));
  for (int64_t q = 0; q < c.planes; ++q)
    for (int64_t h = 0; h < c.H; ++h)
      for (int64_t w = 0; w < c.W; ++w)
        out[size_t((q * c.Hp + c.top + h) * c.Wp + c.left + w)] = src[size_t((q * c.H + h) * c.W + w)];
  return out;
}

template <class T, class Fn>
void check_isa(const char* isa, Fn pad, const std::vector<PadCase>& cases) {
  for (const PadCase& c : cases) {
    SCOPED_TRACE(std::string(isa) + " planes " + std::to_string(c.planes) + " " + std::to_string(c.H) + "x" +
                 std::to_string(c.W) + " at (" + std::to_string(c.top) + ", " + std::to_string(c.left) + ") in " +
                 std::to_string(c.Hp) + "x" + std::to_string(c.Wp));
    std::vector<T> src(size_t(c.planes * c.H * c.W));
    for (size_t i = 0; i < src.size(); ++i) src[i] = T(1 + i);  // no zeros: a dropped value shows
    // The destination starts as garbage, with a guard after it that must stay untouched.
    const size_t n = size_t(c.planes * c.Hp * c.Wp);
    std::vector<T> dst(n + 64, T(-7));
    pad(src.data(), c.planes, c.H, c.W, c.top, c.left, c.Hp, c.Wp, dst.data());
    const std::vector<T> want = placed(src, c);
    int bad = 0;
    for (size_t i = 0; i < n && bad < 5; ++i)
      if (dst[i] != want[i]) ++bad, ADD_FAILURE() << "element " << i << ": got " << dst[i] << ", want " << want[i];
    for (size_t i = n; i < dst.size(); ++i) ASSERT_EQ(dst[i], T(-7)) << "written past the last plane at " << i;
  }
}

TEST(PadPlanes, EveryIsaMatchesPlainPlacement) {
  const std::vector<PadCase> cases = {
      {64, 4, 4, 1, 1, 6, 6},      // simple_cnn's last layer: 36 values a plane
      {9, 2, 2, 1, 1, 4, 4},       // 16 values: one whole vector
      {5, 7, 7, 1, 1, 9, 9},       // 81 values
      {6, 14, 14, 1, 1, 16, 16},   // 256: whole vectors
      {4, 32, 32, 1, 1, 34, 34},   // xresnet's 32 x 32 maps (73 vectors)
      {3, 28, 28, 1, 1, 30, 30},
      {5, 2, 3, 1, 0, 4, 5},       // dy in an input gradient: above/left only, more below/right
      {7, 3, 5, 2, 2, 7, 8},
      {3, 5, 4, 0, 0, 6, 6},       // nothing above or left
      {2, 4, 4, 1, 1, 6, 6},       // fewer planes than the small-plane path takes
      {2, 40, 50, 3, 3, 46, 56},   // large planes: row by row
      {3, 20, 37, 1, 2, 23, 41},
  };
  for_each_isa([&](const char* isa) {
    check_isa<float>(isa, [](auto... a) { KILN_ISA_CALL(pad_planes_f32, a...); }, cases);
    check_isa<double>(isa, [](auto... a) { KILN_ISA_CALL(pad_planes_f64, a...); }, cases);
  });
}

struct ScatterCase {
  int64_t rows, n, src_stride, dst_stride, step, blocks = 1, src_block = 0, dst_block = 0;
};

template <class T, class Fn>
void check_scatter(const char* isa, Fn scatter) {
  const std::vector<ScatterCase> cases = {
      {7, 7, 16, 28, 2},   // simple_cnn's 14 x 14 input gradient: one phase's rows
      {4, 4, 6, 16, 2},    // 8 x 8: rows of 4
      {3, 1, 3, 4, 2},     // a single value per row
      {2, 8, 8, 32, 2},    {3, 16, 17, 64, 2}, {2, 17, 20, 70, 2},  // around whole vectors
      {2, 33, 40, 140, 2}, {3, 9, 9, 30, 3},   {2, 12, 12, 12, 1},
      {2, 2, 4, 8, 2, 5, 8, 40},    // several images: blocks of rows with their own strides
      {3, 7, 9, 28, 2, 3, 27, 200}, {2, 5, 6, 15, 3, 4, 12, 31},
  };
  for (const ScatterCase& c : cases) {
    SCOPED_TRACE(std::string(isa) + " blocks " + std::to_string(c.blocks) + " rows " + std::to_string(c.rows) +
                 " n " + std::to_string(c.n) + " step " + std::to_string(c.step));
    std::vector<T> src(size_t((c.blocks - 1) * c.src_block + c.rows * c.src_stride));
    for (size_t i = 0; i < src.size(); ++i) src[i] = T(1 + i);
    const size_t len = size_t((c.blocks - 1) * c.dst_block + (c.rows - 1) * c.dst_stride + (c.n - 1) * c.step + 1);
    std::vector<T> dst(len + 64, T(-7)), want(len + 64, T(-7));
    for (int64_t b = 0; b < c.blocks; ++b)
      for (int64_t r = 0; r < c.rows; ++r)
        for (int64_t i = 0; i < c.n; ++i)
          want[size_t(b * c.dst_block + r * c.dst_stride + i * c.step)] =
              src[size_t(b * c.src_block + r * c.src_stride + i)];
    scatter(src.data(), c.src_block, c.src_stride, c.blocks, c.rows, c.n, dst.data(), c.dst_block, c.dst_stride,
            c.step);
    int bad = 0;
    for (size_t i = 0; i < dst.size() && bad < 5; ++i)  // the slots between and after stay untouched
      if (dst[i] != want[i]) ++bad, ADD_FAILURE() << "element " << i << ": got " << dst[i] << ", want " << want[i];
  }
}

TEST(PadPlanes, EveryIsaScattersRowsInPlace) {
  for_each_isa([](const char* isa) {
    check_scatter<float>(isa, [](auto... a) { KILN_ISA_CALL(scatter_rows_f32, a...); });
    check_scatter<double>(isa, [](auto... a) { KILN_ISA_CALL(scatter_rows_f64, a...); });
  });
}

struct SplitCase {
  int64_t planes, H, W, top, left, Hq, Wq;
};

template <class T, class Fn>
void check_split(const char* isa, Fn split) {
  const std::vector<SplitCase> cases = {
      {3, 28, 28, 1, 1, 15, 15},   // simple_cnn's first layer: 30 x 30 padded
      {2, 14, 14, 1, 1, 8, 8},     {4, 7, 7, 1, 1, 5, 5},  {2, 64, 64, 1, 1, 33, 33},  // chunks of 16 columns
      {2, 5, 9, 0, 0, 3, 5},       // no padding
      {2, 11, 13, 3, 3, 9, 10},    // a 7x7 kernel's padding
      {1, 127, 121, 1, 1, 65, 62}, // rows of four chunks
      {2, 3, 40, 2, 1, 4, 22},     // more phase rows and columns than the padding needs
      {1, 6, 300, 1, 1, 4, 151},   // longer rows than the vector path takes
  };
  for (const SplitCase& c : cases) {
    SCOPED_TRACE(std::string(isa) + " " + std::to_string(c.H) + "x" + std::to_string(c.W) + " pad " +
                 std::to_string(c.top) + "," + std::to_string(c.left) + " phases " + std::to_string(c.Hq) + "x" +
                 std::to_string(c.Wq));
    std::vector<T> src(size_t(c.planes * c.H * c.W));
    for (size_t i = 0; i < src.size(); ++i) src[i] = T(1 + i);
    const size_t len = size_t(c.planes * 4 * c.Hq * c.Wq);
    std::vector<T> dst(len + 64, T(-7)), want(len + 64, T(-7));
    for (int64_t q = 0; q < c.planes; ++q)
      for (int64_t ph = 0; ph < 2; ++ph)
        for (int64_t pw = 0; pw < 2; ++pw)
          for (int64_t i = 0; i < c.Hq; ++i)
            for (int64_t j = 0; j < c.Wq; ++j) {
              const int64_t r = 2 * i + ph - c.top, col = 2 * j + pw - c.left;
              want[size_t(((q * 4 + ph * 2 + pw) * c.Hq + i) * c.Wq + j)] =
                  r >= 0 && r < c.H && col >= 0 && col < c.W ? src[size_t((q * c.H + r) * c.W + col)] : T(0);
            }
    split(src.data(), c.planes, c.H, c.W, c.top, c.left, c.Hq, c.Wq, dst.data());
    int bad = 0;
    for (size_t i = 0; i < dst.size() && bad < 5; ++i)  // nothing written past the phase planes
      if (dst[i] != want[i]) ++bad, ADD_FAILURE() << "element " << i << ": got " << dst[i] << ", want " << want[i];
  }
}

TEST(PadPlanes, EveryIsaSplitsStrideTwoPhases) {
  for_each_isa([](const char* isa) {
    check_split<float>(isa, [](auto... a) { KILN_ISA_CALL(split_phases2_f32, a...); });
    check_split<double>(isa, [](auto... a) { KILN_ISA_CALL(split_phases2_f64, a...); });
  });
}

}  // namespace
}  // namespace kiln::test
