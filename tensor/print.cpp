// Readable printing of tensors: values row by row, elided past 1000 elements (first and last
// three entries of each dimension), followed by shape, dtype and device.
#include <cmath>
#include <iomanip>
#include <sstream>

#include "kiln/tensor/tensor.h"

namespace kiln {
namespace {

constexpr int64_t kElideAbove = 1000;
constexpr int64_t kEdge = 3;

struct Printer {
  const std::vector<double>& v;
  const Shape& shape;
  bool elide;
  bool floating;
  int precision;
  std::ostringstream& os;

  void value(double x) {
    if (!floating) {
      os << int64_t(x);
    } else if (std::isnan(x)) {
      os << "nan";
    } else if (std::isinf(x)) {
      os << (x > 0 ? "inf" : "-inf");
    } else {
      os << std::fixed << std::setprecision(precision) << x;
    }
  }

  void rec(int d, int64_t base, int indent) {
    if (d == shape.size()) {
      value(v[size_t(base)]);
      return;
    }
    int64_t n = shape[d];
    int64_t inner = 1;
    for (int k = d + 1; k < shape.size(); ++k) inner *= shape[k];
    os << "[";
    for (int64_t i = 0; i < n; ++i) {
      if (elide && n > 2 * kEdge && i == kEdge) {
        os << (d + 1 == shape.size() ? "..., " : "...,\n" + std::string(size_t(indent + 1), ' '));
        i = n - kEdge - 1;
        continue;
      }
      rec(d + 1, base + i * inner, indent + 1);
      if (i + 1 < n) os << (d + 1 == shape.size() ? ", " : ",\n" + std::string(size_t(indent + 1), ' '));
    }
    os << "]";
  }
};

}  // namespace

std::string Tensor::str() const {
  if (!defined()) return "tensor(undefined)";
  std::ostringstream os;
  // to_vector brings a CUDA tensor to the host first (one synchronous copy, ordered after the work
  // queued on its stream), so the values printed are those the device computed.
  std::vector<double> v = numel() ? to_vector<double>() : std::vector<double>{};
  bool floating = is_floating(dtype());
  int precision = 4;
  if (floating) {
    double mx = 0;
    for (double x : v)
      if (std::isfinite(x)) mx = std::max(mx, std::fabs(x));
    if (mx >= 1e6 || (mx > 0 && mx < 1e-4)) precision = 8;
  }
  os << "tensor(";
  if (numel() == 0) {
    os << "[]";
  } else {
    Printer p{v, shape(), numel() > kElideAbove, floating, precision, os};
    p.rec(0, 0, 7);
  }
  os << ", shape=" << shape() << ", dtype=" << dtype_name(dtype()) << ", device=" << device() << ")";
  return os.str();
}

std::ostream& operator<<(std::ostream& os, const Tensor& t) { return os << t.str(); }

}  // namespace kiln
