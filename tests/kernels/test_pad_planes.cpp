// kernels/cpu/pad_planes.h: every compiled ISA copy of the plane padding against a plain placement,
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
  const cpu::Isa best = cpu::detected_isa();
  check_isa<float>("baseline", cpu::baseline::pad_planes_f32, cases);
  check_isa<double>("baseline", cpu::baseline::pad_planes_f64, cases);
  if (int(best) >= int(cpu::Isa::avx2)) {
    check_isa<float>("avx2", cpu::avx2::pad_planes_f32, cases);
    check_isa<double>("avx2", cpu::avx2::pad_planes_f64, cases);
  }
  if (int(best) >= int(cpu::Isa::avx512)) {
    check_isa<float>("avx512", cpu::avx512::pad_planes_f32, cases);
    check_isa<double>("avx512", cpu::avx512::pad_planes_f64, cases);
  }
}

}  // namespace
}  // namespace kiln::test
