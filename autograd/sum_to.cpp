#include "kiln/autograd/sum_to.h"

#include "kiln/kernels/error.h"
#include "kiln/tensor/reduce.h"

namespace kiln::ag {

Tensor sum_to(const Tensor& grad, const Shape& shape) {
  if (grad.shape() == shape) return grad;
  const int lead = grad.dim() - shape.size();
  KILN_CHECK(lead >= 0, "sum_to: gradient shape ", grad.shape().str(), " has fewer dims than ", shape.str());
  Shape dims;
  for (int d = 0; d < grad.dim(); ++d) {
    if (d < lead) {
      dims.push_back(d);
      continue;
    }
    const int64_t want = shape[d - lead];
    if (want == grad.size(d)) continue;
    KILN_CHECK(want == 1, "sum_to: gradient shape ", grad.shape().str(), " cannot be reduced to ", shape.str());
    dims.push_back(d);
  }
  Tensor r = kiln::sum(grad, dims, /*keepdim=*/true);
  return r.reshape(shape);
}

}  // namespace kiln::ag
