#include "kiln/nn/dropout.h"

#include <sstream>

#include "kiln/autograd/dropout.h"

namespace kiln::nn {

namespace {
std::string p_repr(double p) {
  std::ostringstream s;
  s << "p=" << p << ", inplace=False";
  return s.str();
}
}  // namespace

Dropout::Dropout(double p_, Generator* g) : Module("Dropout"), p(p_), gen(g) {
  KILN_CHECK(p_ >= 0 && p_ <= 1, "Dropout: p must be in [0, 1], got ", p_);
}
Tensor Dropout::forward_impl(const Tensor& x) { return ag::dropout(x, p, is_training(), gen); }
std::string Dropout::extra_repr() const { return p_repr(p); }

Dropout2d::Dropout2d(double p_, Generator* g) : Module("Dropout2d"), p(p_), gen(g) {
  KILN_CHECK(p_ >= 0 && p_ <= 1, "Dropout2d: p must be in [0, 1], got ", p_);
}
Tensor Dropout2d::forward_impl(const Tensor& x) { return ag::dropout2d(x, p, is_training(), gen); }
std::string Dropout2d::extra_repr() const { return p_repr(p); }

}  // namespace kiln::nn
