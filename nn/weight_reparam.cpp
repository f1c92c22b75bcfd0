// spectral_norm and weight_norm (Note [Weight re-parametrisation] in weight_reparam.h).
#include "kiln/nn/weight_reparam.h"

#include <numeric>
#include <vector>

#include "kiln/autograd/ops.h"
#include "kiln/nn/conv.h"
#include "kiln/nn/linear.h"
#include "kiln/tensor/ops.h"

namespace kiln::nn {

namespace {

// The member the layer's forward reads its weight from.
Tensor& weight_member(Module& m, const char* who) {
  if (auto* l = dynamic_cast<Linear*>(&m)) return l->weight;
  if (auto* c1 = dynamic_cast<Conv1d*>(&m)) return c1->weight;
  if (auto* c2 = dynamic_cast<Conv2d*>(&m)) return c2->weight;
  if (auto* ct = dynamic_cast<ConvTranspose2d*>(&m)) return ct->weight;
  KILN_FAIL(who, ": ", m.type_name(), " is not a Linear or convolution layer");
}

// w with `dim` moved first, viewed [w.size(dim), rest] (autograd ops, so it works for both the
// raw power iteration and the recorded weight).
Tensor as_matrix(const Tensor& w, int64_t dim) {
  Shape order{dim};
  for (int64_t d = 0; d < w.dim(); ++d)
    if (d != dim) order.push_back(d);
  Tensor p = dim == 0 ? w : ag::permute(w, order);
  const int64_t h = w.size(dim);
  return ag::reshape(p, {h, h == 0 ? 0 : w.numel() / h});
}

// a / max(|a|, eps)
Tensor normalize(const Tensor& a, double eps) { return kiln::div(a, kiln::clamp_min(kiln::norm(a), eps)); }

// The 2-norm over every dim but `dim` (kept as size-1 dims), or of the whole tensor.
Tensor norm_except(const Tensor& v, std::optional<int64_t> dim) {
  if (!dim) return ag::norm(v);
  Shape dims;
  for (int64_t d = 0; d < v.dim(); ++d)
    if (d != *dim) dims.push_back(d);
  if (dims.empty()) return ag::abs(v);  // a 1-d weight: one element per slice
  return ag::norm(v, 2, dims, /*keepdim=*/true);
}

}  // namespace

void spectral_norm(Module& layer, const SpectralNormOptions& o) {
  Tensor& slot = weight_member(layer, "spectral_norm");
  KILN_CHECK(o.n_power_iterations >= 0, "spectral_norm: n_power_iterations must be >= 0, got ", o.n_power_iterations);
  KILN_CHECK(o.eps > 0, "spectral_norm: eps must be positive, got ", o.eps);
  const int64_t dim = o.dim ? *o.dim : (dynamic_cast<ConvTranspose2d*>(&layer) ? 1 : 0);
  KILN_CHECK(dim >= 0 && dim < slot.dim(), "spectral_norm: dim ", dim, " out of range for a weight of shape ",
             slot.shape());
  Tensor w = layer.unregister_parameter("weight");
  const Tensor orig = layer.register_parameter("weight_orig", w);
  {
    ag::NoGradGuard ng;
    Tensor mat = as_matrix(orig, dim);
    layer.register_buffer("weight_u", normalize(kiln::randn({mat.size(0)}, orig.dtype(), o.gen), o.eps));
    layer.register_buffer("weight_v", normalize(kiln::randn({mat.size(1)}, orig.dtype(), o.gen), o.eps));
  }
  slot = orig;
  const int64_t n_iter = o.n_power_iterations;
  const double eps = o.eps;
  layer.register_forward_pre_hook([dim, n_iter, eps](Module& m, std::vector<Tensor>&) {
    const Tensor& wo = m.param("weight_orig");
    Tensor u = m.buffer("weight_u"), v = m.buffer("weight_v");
    {
      ag::NoGradGuard ng;
      if (m.is_training() && n_iter > 0) {
        Tensor mat = as_matrix(wo, dim);
        for (int64_t i = 0; i < n_iter; ++i) {
          v.copy_(normalize(kiln::matmul(mat.t(), u), eps));
          u.copy_(normalize(kiln::matmul(mat, v), eps));
        }
      }
      // The backward uses these values; the buffers may change again before it runs.
      u = u.clone();
      v = v.clone();
    }
    Tensor sigma = ag::dot(u, ag::matmul(as_matrix(wo, dim), v));
    weight_member(m, "spectral_norm") = ag::div(wo, sigma);
  });
}

void weight_norm(Module& layer, std::optional<int64_t> dim) {
  Tensor& slot = weight_member(layer, "weight_norm");
  KILN_CHECK(!dim || (*dim >= 0 && *dim < slot.dim()), "weight_norm: dim ", dim ? *dim : -1,
             " out of range for a weight of shape ", slot.shape());
  Tensor w = layer.unregister_parameter("weight");
  Tensor g0;
  {
    ag::NoGradGuard ng;
    g0 = norm_except(w, dim).contiguous();
  }
  // PyTorch's registration order: weight_g, then weight_v.
  const Tensor g = layer.register_parameter("weight_g", g0);
  const Tensor v = layer.register_parameter("weight_v", w);
  auto compute = [dim](const Tensor& gv, const Tensor& vv) { return ag::mul(vv, ag::div(gv, norm_except(vv, dim))); };
  {
    ag::NoGradGuard ng;
    slot = compute(g, v);
  }
  layer.register_forward_pre_hook([compute](Module& m, std::vector<Tensor>&) {
    weight_member(m, "weight_norm") = compute(m.param("weight_g"), m.param("weight_v"));
  });
}

}  // namespace kiln::nn
