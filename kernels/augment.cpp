// Fused augmentation, host side shared by the CPU and CUDA entry points: argument checks (so both
// devices refuse the same calls with the same messages), the composition of a sample's geometry
// into one pixel-space homography (Note [Augmentation coordinate map]) and the point transform.
#include "kiln/kernels/augment.h"

#include <cmath>

#include "kiln/kernels/error.h"

namespace kiln {

namespace {

void mat3_mul(const double a[9], const double b[9], double out[9]) {
  double r[9];
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 3; ++j) r[i * 3 + j] = a[i * 3] * b[j] + a[i * 3 + 1] * b[3 + j] + a[i * 3 + 2] * b[6 + j];
  for (int k = 0; k < 9; ++k) out[k] = r[k];
}

// Inverse by the adjugate; false when singular.
bool mat3_inverse(const double m[9], double inv[9]) {
  const double c00 = m[4] * m[8] - m[5] * m[7], c01 = m[5] * m[6] - m[3] * m[8], c02 = m[3] * m[7] - m[4] * m[6];
  const double det = m[0] * c00 + m[1] * c01 + m[2] * c02;
  if (det == 0 || !std::isfinite(det)) return false;
  const double d = 1 / det;
  inv[0] = c00 * d;
  inv[1] = (m[2] * m[7] - m[1] * m[8]) * d;
  inv[2] = (m[1] * m[5] - m[2] * m[4]) * d;
  inv[3] = c01 * d;
  inv[4] = (m[0] * m[8] - m[2] * m[6]) * d;
  inv[5] = (m[2] * m[3] - m[0] * m[5]) * d;
  inv[6] = c02 * d;
  inv[7] = (m[1] * m[6] - m[0] * m[7]) * d;
  inv[8] = (m[0] * m[4] - m[1] * m[3]) * d;
  return true;
}

// The homography H (H[8] = 1) sending the four points src[i] to dst[i]: the 8 x 8 linear system of
// u = (a x + b y + c) / (g x + h y + 1), v = (d x + e y + f) / (g x + h y + 1), solved by Gaussian
// elimination with partial pivoting.
void homography_from_points(const double src[4][2], const double dst[4][2], double H[9]) {
  double A[8][9];
  for (int i = 0; i < 4; ++i) {
    const double x = src[i][0], y = src[i][1], u = dst[i][0], v = dst[i][1];
    const double r0[9] = {x, y, 1, 0, 0, 0, -u * x, -u * y, u};
    const double r1[9] = {0, 0, 0, x, y, 1, -v * x, -v * y, v};
    for (int k = 0; k < 9; ++k) {
      A[2 * i][k] = r0[k];
      A[2 * i + 1][k] = r1[k];
    }
  }
  for (int col = 0; col < 8; ++col) {
    int piv = col;
    for (int r = col + 1; r < 8; ++r)
      if (std::fabs(A[r][col]) > std::fabs(A[piv][col])) piv = r;
    KILN_CHECK(std::fabs(A[piv][col]) > 1e-12, "augment: degenerate perspective warp");
    if (piv != col)
      for (int k = 0; k < 9; ++k) std::swap(A[piv][k], A[col][k]);
    for (int r = 0; r < 8; ++r) {
      if (r == col) continue;
      const double f = A[r][col] / A[col][col];
      for (int k = col; k < 9; ++k) A[r][k] -= f * A[col][k];
    }
  }
  for (int k = 0; k < 8; ++k) H[k] = A[k][8] / A[k][k];
  H[8] = 1;
}

// Pixel -> normalised coordinate along an axis of n pixels, as [scale, offset] (affine_grid's base
// grid, Note [align_corners]), and its inverse.
void to_normalised(int64_t n, bool align_corners, double& s, double& t) {
  if (align_corners) {
    if (n <= 1) {
      s = 0, t = -1;
    } else {
      s = 2.0 / double(n - 1), t = -1;
    }
  } else {
    s = 2.0 / double(n), t = 1.0 / double(n) - 1;
  }
}
void to_pixels(int64_t n, bool align_corners, double& s, double& t) {
  if (align_corners)
    s = double(n - 1) / 2, t = double(n - 1) / 2;
  else
    s = double(n) / 2, t = double(n - 1) / 2;
}

// Crop [x0, x0 + w) of an axis of n pixels as a map of normalised coordinates (output -> input).
void crop_normalised(double x0, double w, int64_t n, bool align_corners, double& s, double& t) {
  if (align_corners) {
    if (n <= 1) {
      s = 1, t = 0;
    } else {
      s = (w - 1) / double(n - 1), t = (2 * x0 + w - 1) / double(n - 1) - 1;
    }
  } else {
    s = w / double(n), t = (2 * x0 + w) / double(n) - 1;
  }
}

bool finite_all(const float* v, int n) {
  for (int i = 0; i < n; ++i)
    if (!std::isfinite(v[i])) return false;
  return true;
}

void check_sample(const char* op, const AugImageArgs& a, const AugSampleParams& p, int64_t b) {
  KILN_CHECK(finite_all(p.affine, 9), op, ": sample ", b, ": affine matrix has a non-finite entry");
  KILN_CHECK(p.affine[6] == 0 && p.affine[7] == 0 && p.affine[8] == 1, op, ": sample ", b,
             ": affine matrix bottom row must be (0, 0, 1), got (", p.affine[6], ", ", p.affine[7], ", ", p.affine[8], ")");
  KILN_CHECK(std::isfinite(p.warp_x) && std::isfinite(p.warp_y) && std::fabs(p.warp_x) < 1 && std::fabs(p.warp_y) < 1,
             op, ": sample ", b, ": warp magnitudes must be in (-1, 1), got ", p.warp_x, ", ", p.warp_y);
  KILN_CHECK(finite_all(p.crop, 4), op, ": sample ", b, ": crop has a non-finite entry");
  if (p.crop[2] > 0 && p.crop[3] > 0) {
    const double tol = 1e-3;
    KILN_CHECK(p.crop[0] >= -tol && p.crop[1] >= -tol && p.crop[0] + p.crop[2] <= double(a.W) + tol &&
                   p.crop[1] + p.crop[3] <= double(a.H) + tol,
               op, ": sample ", b, ": crop (x0 ", p.crop[0], ", y0 ", p.crop[1], ", w ", p.crop[2], ", h ", p.crop[3],
               ") is outside the ", a.H, "x", a.W, " input");
  }
  KILN_CHECK(p.brightness > 0 && p.brightness < 1, op, ": sample ", b, ": brightness must be in (0, 1), got ",
             p.brightness);
  KILN_CHECK(p.contrast > 0 && std::isfinite(p.contrast), op, ": sample ", b, ": contrast must be positive, got ",
             p.contrast);
  KILN_CHECK(p.saturation >= 0 && std::isfinite(p.saturation), op, ": sample ", b,
             ": saturation must be non-negative, got ", p.saturation);
  KILN_CHECK(std::isfinite(p.hue), op, ": sample ", b, ": hue must be finite, got ", p.hue);
  if (p.saturation != 1 || p.hue != 0)
    KILN_CHECK(a.C == 3, op, ": sample ", b, ": saturation and hue need 3 channels, the images have ", a.C);
  KILN_CHECK(p.n_erase >= 0 && p.n_erase <= kAugMaxErase, op, ": sample ", b, ": n_erase must be in [0, ",
             kAugMaxErase, "], got ", p.n_erase);
  for (int k = 0; k < p.n_erase; ++k) {
    const int32_t* r = p.erase[k];
    KILN_CHECK(r[0] >= 0 && r[0] <= r[1] && r[1] <= a.OH && r[2] >= 0 && r[2] <= r[3] && r[3] <= a.OW, op,
               ": sample ", b, ": erase rectangle ", k, " (y ", r[0], "..", r[1], ", x ", r[2], "..", r[3],
               ") is outside the ", a.OH, "x", a.OW, " output");
  }
}

}  // namespace

void check_augment_args(const char* op, const AugImageArgs& a, const AugSampleParams* params) {
  KILN_CHECK(a.B >= 1, op, ": empty batch (B = ", a.B, ")");
  KILN_CHECK(a.C >= 1 && a.C <= kAugMaxChannels, op, ": channels must be in [1, ", kAugMaxChannels, "], got ", a.C);
  KILN_CHECK(a.H >= 1 && a.W >= 1, op, ": input size must be positive, got ", a.H, "x", a.W);
  KILN_CHECK(a.OH >= 1 && a.OW >= 1, op, ": output size must be positive, got ", a.OH, "x", a.OW);
  KILN_CHECK(a.in_dtype == DType::u8 || a.in_dtype == DType::f32, op, ": input dtype must be u8 or f32, got ",
             dtype_name(a.in_dtype));
  KILN_CHECK(a.out_dtype == DType::f32 || a.out_dtype == DType::f16 || a.out_dtype == DType::bf16, op,
             ": output dtype must be f32, f16 or bf16, got ", dtype_name(a.out_dtype));
  KILN_CHECK(a.in_layout == AugLayout::nchw || a.in_layout == AugLayout::nhwc, op, ": unknown input layout code ",
             int(a.in_layout));
  KILN_CHECK(a.out_layout == AugLayout::nchw || a.out_layout == AugLayout::nhwc, op,
             ": unknown output layout code ", int(a.out_layout));
  KILN_CHECK(a.interp == AugInterp::bilinear || a.interp == AugInterp::nearest || a.interp == AugInterp::bicubic, op,
             ": unknown interpolation code ", int(a.interp));
  KILN_CHECK(a.padding == GridSamplePadding::zeros || a.padding == GridSamplePadding::border ||
                 a.padding == GridSamplePadding::reflection,
             op, ": unknown padding code ", int(a.padding));
  if (a.normalize)
    for (int64_t c = 0; c < a.C; ++c)
      KILN_CHECK(std::isfinite(a.mean[c]) && a.std[c] > 0 && std::isfinite(a.std[c]), op, ": channel ", c,
                 ": normalisation needs a finite mean and a positive std, got mean ", a.mean[c], " std ", a.std[c]);
  KILN_CHECK(params != nullptr, op, ": no per-sample parameters");
  for (int64_t b = 0; b < a.B; ++b) check_sample(op, a, params[b], b);
}

void check_augment_mask_args(const char* op, const AugImageArgs& a, DType mask_dtype) {
  KILN_CHECK(a.B >= 1, op, ": empty batch (B = ", a.B, ")");
  KILN_CHECK(a.H >= 1 && a.W >= 1 && a.OH >= 1 && a.OW >= 1, op, ": sizes must be positive, got ", a.H, "x", a.W,
             " -> ", a.OH, "x", a.OW);
  KILN_CHECK(mask_dtype == DType::u8 || mask_dtype == DType::i32 || mask_dtype == DType::i64, op,
             ": mask dtype must be u8, i32 or i64, got ", dtype_name(mask_dtype));
}

void aug_pixel_map(const AugSampleParams& p, int64_t H, int64_t W, int64_t OH, int64_t OW, bool align_corners,
                   double P[9]) {
  double nx, tx, ny, ty;
  to_normalised(OW, align_corners, nx, tx);
  to_normalised(OH, align_corners, ny, ty);
  const double N[9] = {nx, 0, tx, 0, ny, ty, 0, 0, 1};
  double G[9] = {1, 0, 0, 0, 1, 0, 0, 0, 1};
  if (p.crop[2] > 0 && p.crop[3] > 0) {
    double sx, cx, sy, cy;
    crop_normalised(p.crop[0], p.crop[2], W, align_corners, sx, cx);
    crop_normalised(p.crop[1], p.crop[3], H, align_corners, sy, cy);
    const double Cm[9] = {sx, 0, cx, 0, sy, cy, 0, 0, 1};
    for (int k = 0; k < 9; ++k) G[k] = Cm[k];
  }
  double A[9];
  for (int k = 0; k < 9; ++k) A[k] = p.affine[k];
  mat3_mul(A, G, G);
  if (p.warp_x != 0 || p.warp_y != 0) {
    // fastai's Warp: the sampling coordinates at the corners moved to `targ` read the corners `orig`.
    const double xt = p.warp_x, yt = p.warp_y;
    const double orig[4][2] = {{-1, -1}, {-1, 1}, {1, -1}, {1, 1}};
    const double targ[4][2] = {{-1 - yt, -1 - xt}, {-1 + yt, 1 + xt}, {1 + yt, -1 + xt}, {1 - yt, 1 - xt}};
    double Hw[9];
    homography_from_points(targ, orig, Hw);
    mat3_mul(Hw, G, G);
  }
  double ux, sx0, uy, sy0;
  to_pixels(W, align_corners, ux, sx0);
  to_pixels(H, align_corners, uy, sy0);
  const double U[9] = {ux, 0, sx0, 0, uy, sy0, 0, 0, 1};
  mat3_mul(U, G, G);
  mat3_mul(G, N, P);
}

AugResolved aug_resolve(const AugSampleParams& p, const AugImageArgs& a) {
  double P[9];
  aug_pixel_map(p, a.H, a.W, a.OH, a.OW, a.align_corners, P);
  for (int k = 0; k < 9; ++k) {
    const double r = std::nearbyint(P[k]);
    if (std::fabs(P[k] - r) <= 1e-9 * std::fmax(1.0, std::fabs(P[k]))) P[k] = r;
  }
  AugResolved r{};
  const bool projective = !(P[6] == 0 && P[7] == 0 && P[8] == 1);
  for (int k = 0; k < 9; ++k) r.map[k] = float(P[k]);
  const double bright = std::fmin(std::fmax(double(p.brightness), 1e-7), 1 - 1e-7);
  r.bright_logit = float(std::log(bright / (1 - bright)));
  r.contrast = p.contrast;
  r.saturation = p.saturation;
  r.hue = p.hue;
  r.n_erase = p.n_erase;
  for (int k = 0; k < kAugMaxErase; ++k)
    for (int j = 0; j < 4; ++j) r.erase[k][j] = k < p.n_erase ? p.erase[k][j] : 0;
  r.noise_key[0] = uint32_t(p.noise_seed);
  r.noise_key[1] = uint32_t(p.noise_seed >> 32);
  r.flags = (projective ? kAugProjective : 0u) |
            ((p.brightness != 0.5f || p.contrast != 1.0f || p.saturation != 1.0f) ? kAugHasLighting : 0u) |
            (p.hue != 0.0f ? kAugHasHue : 0u);
  return r;
}

void augment_points(const AugSampleParams* params, int64_t B, int64_t N, int64_t H, int64_t W, int64_t OH,
                    int64_t OW, bool align_corners, const float* in, float* out, bool forward) {
  KILN_CHECK(B >= 0 && N >= 0, "augment_points: sizes must be non-negative, got B=", B, " N=", N);
  KILN_CHECK(H >= 1 && W >= 1 && OH >= 1 && OW >= 1, "augment_points: image sizes must be positive, got ", H, "x",
             W, " -> ", OH, "x", OW);
  for (int64_t b = 0; b < B; ++b) {
    double P[9], M[9];
    aug_pixel_map(params[b], H, W, OH, OW, align_corners, P);
    if (forward) {
      KILN_CHECK(mat3_inverse(P, M), "augment_points: sample ", b, ": the coordinate map is not invertible");
    } else {
      for (int k = 0; k < 9; ++k) M[k] = P[k];
    }
    for (int64_t i = 0; i < N; ++i) {
      const double x = in[(b * N + i) * 2], y = in[(b * N + i) * 2 + 1];
      const double u = M[0] * x + M[1] * y + M[2], v = M[3] * x + M[4] * y + M[5], w = M[6] * x + M[7] * y + M[8];
      out[(b * N + i) * 2] = w == 0 ? NAN : float(u / w);
      out[(b * N + i) * 2 + 1] = w == 0 ? NAN : float(v / w);
    }
  }
}

}  // namespace kiln
