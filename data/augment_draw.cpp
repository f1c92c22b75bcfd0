// The random draws of the batch augmentation: fastai's distributions and probabilities, from a
// counter-based stream per sample.
//
// Note [Augmentation draws]
// Sample i of epoch e under seed s reads the Philox4x32-10 words (kernels/philox.h)
//   word(k) = philox4x32_10(counter = (k / 4, lo32(i), hi32(i), lo32(e)), key = (lo32(s), hi32(s)))[k % 4]
// and every draw has its own fixed word number k (the kSlot* constants below), whether or not the
// other transforms are enabled. So a sample's parameters depend only on (seed, epoch, index) and
// the configuration: not on the batch it falls in, the thread count or the device. A uniform in
// [lo, hi) is lo + (hi - lo) * u24(word); "applied with probability p" is u24(word) < p (p = 1
// always, p = 0 never); an integer in [a, b] is a + floor(u * (b - a + 1)).
//
// fastai's semantics (fastai.vision.augment, 2.7): every transform is decided per sample and
// independently: flip (p = 0.5) or dihedral (p = 0.5, index uniform in 0..7), rotate, zoom, warp x,
// warp y (each p_affine), brightness, contrast (each p_lighting), saturation, hue, erasing. A
// transform not applied takes its neutral value. The affine matrix is flip @ rotate @ zoom
// (then kiln's shear @ translate), with fastai's aspect correction (_prepare_mat: m01 *= H / W,
// m10 *= W / H); the zoom centre is drawn even when the zoom is not applied (it has no effect then).
#include <cmath>

#include "kiln/data/augment.h"
#include "kiln/kernels/error.h"
#include "kiln/kernels/philox.h"

namespace kiln::data {

namespace {

enum Slot : uint32_t {
  kSlotFlip = 0, kSlotDihedralDo, kSlotDihedralIndex,
  kSlotWarpXDo, kSlotWarpX, kSlotWarpYDo, kSlotWarpY,
  kSlotRotateDo, kSlotRotate,
  kSlotZoomDo, kSlotZoom, kSlotZoomCol, kSlotZoomRow,
  kSlotShearDo, kSlotShear, kSlotTranslateDo, kSlotTranslateX, kSlotTranslateY,
  kSlotBrightDo, kSlotBright, kSlotContrastDo, kSlotContrast,
  kSlotSatDo, kSlotSat, kSlotHueDo, kSlotHue,
  kSlotCrop = 32,        // 10 attempts x (area, ratio), then (left, top)
  kSlotCropLeft = 52, kSlotCropTop,
  kSlotEraseDo = 56, kSlotEraseCount,
  kSlotErase = 60,       // kAugMaxErase x (area, aspect, row, col)
  kSlotNoise = 76,       // two words: the erasing noise key
};

class SampleStream {
 public:
  SampleStream(uint64_t seed, uint64_t epoch, uint64_t index) : seed_(seed), epoch_(epoch), index_(index) {}
  uint32_t word(uint32_t k) const {
    const Philox4 w = philox4x32_10(k / 4, uint32_t(index_), uint32_t(index_ >> 32), uint32_t(epoch_), uint32_t(seed_),
                                    uint32_t(seed_ >> 32));
    return w.v[k % 4];
  }
  double u(uint32_t k) const { return double(philox_u24(word(k))); }
  double uniform(uint32_t k, double lo, double hi) const { return lo + (hi - lo) * u(k); }
  bool happens(uint32_t k, double p) const { return u(k) < p; }
  int64_t randint(uint32_t k, int64_t a, int64_t b) const {  // inclusive
    return a + std::min<int64_t>(int64_t(std::floor(u(k) * double(b - a + 1))), b - a);
  }

 private:
  uint64_t seed_, epoch_, index_;
};

void mat_mul(double a[9], const double b[9]) {
  double r[9];
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 3; ++j) r[i * 3 + j] = a[i * 3] * b[j] + a[i * 3 + 1] * b[3 + j] + a[i * 3 + 2] * b[6 + j];
  for (int k = 0; k < 9; ++k) a[k] = r[k];
}

// fastai's RandomResizedCropGPU.before_call (training split): 10 attempts at a crop of a random
// area fraction and ratio inside the image, else the largest central crop with a ratio in range.
void draw_crop(const SampleStream& s, const AugConfig& c, int64_t H, int64_t W, float crop[4]) {
  const double w = double(W), h = double(H);
  for (uint32_t attempt = 0; attempt < 10; ++attempt) {
    const double area = s.uniform(kSlotCrop + 2 * attempt, c.min_scale, c.max_scale) * w * h;
    const double ratio =
        std::exp(s.uniform(kSlotCrop + 2 * attempt + 1, std::log(c.ratio_min), std::log(c.ratio_max)));
    const int64_t nw = std::llround(std::sqrt(area * ratio)), nh = std::llround(std::sqrt(area / ratio));
    if (nw <= W && nh <= H && nw >= 1 && nh >= 1) {
      crop[0] = float(s.randint(kSlotCropLeft, 0, W - nw));
      crop[1] = float(s.randint(kSlotCropTop, 0, H - nh));
      crop[2] = float(nw);
      crop[3] = float(nh);
      return;
    }
  }
  int64_t cw = W, ch = H;
  if (w / h < c.ratio_min)
    ch = std::max<int64_t>(1, int64_t(w / c.ratio_min));
  else if (w / h > c.ratio_max)
    cw = std::max<int64_t>(1, int64_t(h * c.ratio_max));
  crop[0] = float((W - cw) / 2);
  crop[1] = float((H - ch) / 2);
  crop[2] = float(cw);
  crop[3] = float(ch);
}

// fastai's RandomErasing._bounds / _slice over the output image.
void draw_erase(const SampleStream& s, const AugConfig& c, int64_t OH, int64_t OW, AugSampleParams& p) {
  const int count = int(s.randint(kSlotEraseCount, 1, c.erase_max_count));
  const double area = double(OH) * double(OW) / count;
  const double log_lo = std::log(c.erase_min_aspect), log_hi = std::log(1 / c.erase_min_aspect);
  auto slice = [&](double a, int64_t sz, uint32_t slot, int32_t& lo, int32_t& hi) {
    const int64_t bound = std::llround(std::sqrt(a));
    const int64_t loc = s.randint(slot, 0, std::max<int64_t>(sz - bound, 0));
    lo = int32_t(loc);
    hi = int32_t(std::min<int64_t>(loc + bound, sz));
  };
  p.n_erase = count;
  for (int k = 0; k < count; ++k) {
    const uint32_t base = kSlotErase + 4 * uint32_t(k);
    const double r_area = s.uniform(base, c.erase_sl, c.erase_sh) * area;
    const double aspect = std::exp(s.uniform(base + 1, log_lo, log_hi));
    slice(r_area * aspect, OH, base + 2, p.erase[k][0], p.erase[k][1]);
    slice(r_area / aspect, OW, base + 3, p.erase[k][2], p.erase[k][3]);
  }
}

}  // namespace

void set_geometry(AugSampleParams& p, const AugGeometry& g, int64_t H, int64_t W) {
  KILN_CHECK(H >= 1 && W >= 1, "set_geometry: image size must be positive, got ", H, "x", W);
  KILN_CHECK(g.dihedral >= 0 && g.dihedral < 8, "set_geometry: dihedral index must be in 0..7, got ", g.dihedral);
  KILN_CHECK(g.zoom > 0 && std::isfinite(g.zoom), "set_geometry: zoom must be positive, got ", g.zoom);
  const double deg = M_PI / 180;
  double m[9] = {1, 0, 0, 0, 1, 0, 0, 0, 1};
  if (g.flip) {
    const double f[9] = {-1, 0, 0, 0, 1, 0, 0, 0, 1};
    mat_mul(m, f);
  }
  if (g.dihedral != 0) {
    static const int xs[8] = {1, -1, 1, -1, -1, 1, 1, -1}, ys[8] = {1, 1, -1, 1, -1, -1, 1, -1};
    static const int m0[8] = {1, 1, 1, 0, 1, 0, 0, 0}, m1[8] = {0, 0, 0, 1, 0, 1, 1, 1};
    const int k = g.dihedral;
    const double d[9] = {double(xs[k] * m0[k]), double(xs[k] * m1[k]), 0, double(ys[k] * m1[k]),
                         double(ys[k] * m0[k]), 0, 0, 0, 1};
    mat_mul(m, d);
  }
  if (g.rotate != 0) {
    const double t = double(g.rotate) * deg;
    const double r[9] = {std::cos(t), std::sin(t), 0, -std::sin(t), std::cos(t), 0, 0, 0, 1};
    mat_mul(m, r);
  }
  if (g.zoom != 1) {
    const double sc = 1 / double(g.zoom);
    const double z[9] = {sc, 0, (1 - sc) * (2 * double(g.zoom_col) - 1), 0, sc, (1 - sc) * (2 * double(g.zoom_row) - 1),
                         0, 0, 1};
    mat_mul(m, z);
  }
  if (g.shear != 0) {
    const double sh[9] = {1, std::tan(double(g.shear) * deg), 0, 0, 1, 0, 0, 0, 1};
    mat_mul(m, sh);
  }
  if (g.translate_x != 0 || g.translate_y != 0) {
    const double tr[9] = {1, 0, 2 * double(g.translate_x), 0, 1, 2 * double(g.translate_y), 0, 0, 1};
    mat_mul(m, tr);
  }
  m[1] *= double(H) / double(W);
  m[3] *= double(W) / double(H);
  for (int k = 0; k < 9; ++k) p.affine[k] = float(m[k]);
}

std::vector<AugSampleParams> draw_params(const AugConfig& c, int64_t H, int64_t W, uint64_t seed, uint64_t epoch,
                                         int64_t first_sample_index, int64_t n) {
  check_config(c);
  KILN_CHECK(H >= 1 && W >= 1, "draw_params: image size must be positive, got ", H, "x", W);
  KILN_CHECK(n >= 0 && first_sample_index >= 0, "draw_params: n and first_sample_index must be non-negative, got ",
             n, " and ", first_sample_index);
  const int64_t OH = c.size.h > 0 ? c.size.h : H, OW = c.size.w > 0 ? c.size.w : W;
  std::vector<AugSampleParams> out(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    const SampleStream s(seed, epoch, uint64_t(first_sample_index + i));
    AugSampleParams& p = out[size_t(i)];
    AugGeometry g;
    g.flip = c.do_flip && !c.flip_vert && s.happens(kSlotFlip, 0.5);
    if (c.do_flip && c.flip_vert && s.happens(kSlotDihedralDo, 0.5)) g.dihedral = int(s.randint(kSlotDihedralIndex, 0, 7));
    if (c.max_warp > 0) {
      if (s.happens(kSlotWarpXDo, c.p_affine)) p.warp_x = float(s.uniform(kSlotWarpX, -c.max_warp, c.max_warp));
      if (s.happens(kSlotWarpYDo, c.p_affine)) p.warp_y = float(s.uniform(kSlotWarpY, -c.max_warp, c.max_warp));
    }
    if (c.max_rotate > 0 && s.happens(kSlotRotateDo, c.p_affine))
      g.rotate = float(s.uniform(kSlotRotate, -c.max_rotate, c.max_rotate));
    if ((c.min_zoom < 1 || c.max_zoom > 1) && s.happens(kSlotZoomDo, c.p_affine)) {
      g.zoom = float(s.uniform(kSlotZoom, c.min_zoom, c.max_zoom));
      g.zoom_col = float(s.u(kSlotZoomCol));
      g.zoom_row = float(s.u(kSlotZoomRow));
    }
    if (c.max_shear > 0 && s.happens(kSlotShearDo, c.p_affine))
      g.shear = float(s.uniform(kSlotShear, -c.max_shear, c.max_shear));
    if (c.max_translate > 0 && s.happens(kSlotTranslateDo, c.p_affine)) {
      g.translate_x = float(s.uniform(kSlotTranslateX, -c.max_translate, c.max_translate));
      g.translate_y = float(s.uniform(kSlotTranslateY, -c.max_translate, c.max_translate));
    }
    set_geometry(p, g, H, W);
    if (c.min_scale < 1 || c.max_scale < 1 || c.ratio_min != 1 || c.ratio_max != 1) draw_crop(s, c, H, W, p.crop);
    if (c.max_lighting > 0) {
      const double ml = c.max_lighting;
      if (s.happens(kSlotBrightDo, c.p_lighting))
        p.brightness = float(s.uniform(kSlotBright, 0.5 * (1 - ml), 0.5 * (1 + ml)));
      if (s.happens(kSlotContrastDo, c.p_lighting))
        p.contrast = float(std::exp(s.uniform(kSlotContrast, std::log(1 - ml), -std::log(1 - ml))));
    }
    if (c.max_saturation > 0 && s.happens(kSlotSatDo, c.p_saturation)) {
      const double ms = c.max_saturation;
      p.saturation = float(std::exp(s.uniform(kSlotSat, std::log(1 - ms), -std::log(1 - ms))));
    }
    if (c.max_hue > 0 && s.happens(kSlotHueDo, c.p_hue)) {
      const double mh = c.max_hue;
      p.hue = float(std::exp(s.uniform(kSlotHue, std::log(1 - mh), -std::log(1 - mh))));
    }
    if (c.p_erase > 0 && s.happens(kSlotEraseDo, c.p_erase)) draw_erase(s, c, OH, OW, p);
    p.noise_seed = uint64_t(s.word(kSlotNoise)) | (uint64_t(s.word(kSlotNoise + 1)) << 32);
  }
  return out;
}

}  // namespace kiln::data
