#include "fixtures.h"

#include <cmath>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

namespace kiln::test {
namespace {
DType parse_dtype(const std::string& s) {
  if (s == "F32") return DType::f32;
  if (s == "F64") return DType::f64;
  if (s == "F16") return DType::f16;
  if (s == "BF16") return DType::bf16;
  if (s == "I64") return DType::i64;
  if (s == "I32") return DType::i32;
  if (s == "U8") return DType::u8;
  if (s == "BOOL") return DType::b8;
  KILN_FAIL("fixture: unknown dtype ", s);
}
}  // namespace

std::map<std::string, Tensor> load_fixture(const std::string& name) {
  std::string path = std::string(KILN_FIXTURE_DIR) + "/" + name + ".safetensors";
  std::ifstream f(path, std::ios::binary);
  KILN_CHECK(f.good(), "fixture: cannot open ", path);
  std::stringstream ss;
  ss << f.rdbuf();
  std::string buf = ss.str();
  KILN_CHECK(buf.size() >= 8, "fixture: ", path, " is too short");
  uint64_t hlen = 0;
  std::memcpy(&hlen, buf.data(), 8);
  KILN_CHECK(hlen <= buf.size() - 8, "fixture: header length ", hlen, " exceeds file size in ", path);
  auto header = nlohmann::json::parse(buf.substr(8, hlen));
  const char* data = buf.data() + 8 + hlen;
  size_t data_len = buf.size() - 8 - hlen;
  std::map<std::string, Tensor> out;
  for (auto& [key, val] : header.items()) {
    if (key == "__metadata__") continue;
    DType d = parse_dtype(val["dtype"]);
    Shape shape;
    for (auto& s : val["shape"]) shape.push_back(s.get<int64_t>());
    uint64_t b = val["data_offsets"][0], e = val["data_offsets"][1];
    KILN_CHECK(b <= e && e <= data_len && e - b == uint64_t(shape.numel() * dtype_size(d)),
               "fixture: bad offsets for ", key, " in ", path);
    out[key] = from_blob(data + b, shape, d);
  }
  return out;
}

double fixture_scalar(const std::map<std::string, Tensor>& f, const std::string& key) {
  auto it = f.find(key);
  KILN_CHECK(it != f.end(), "fixture: no entry '", key, "'");
  return it->second.item<double>();
}

Tol default_tol(DType d) {
  switch (d) {
    case DType::f64: return {1e-7, 1e-7};
    case DType::f32: return {1.3e-6, 1e-5};
    case DType::f16: return {1e-3, 1e-5};
    case DType::bf16: return {1.6e-2, 1e-5};
    default: return {0, 0};
  }
}

::testing::AssertionResult tensors_close(const Tensor& actual, const Tensor& expected, double rtol, double atol) {
  if (!actual.defined() || !expected.defined()) return ::testing::AssertionFailure() << "undefined tensor";
  if (actual.shape() != expected.shape())
    return ::testing::AssertionFailure() << "shape " << actual.shape() << " != expected " << expected.shape();
  auto a = actual.to_vector<double>();
  auto e = expected.to_vector<double>();
  double worst = 0;
  int64_t worst_i = -1;
  int64_t bad = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    bool both_nan = std::isnan(a[i]) && std::isnan(e[i]);
    bool same_inf = std::isinf(a[i]) && a[i] == e[i];
    if (both_nan || same_inf) continue;
    double err = std::fabs(a[i] - e[i]);
    double allowed = atol + rtol * std::fabs(e[i]);
    if (!(err <= allowed)) {
      ++bad;
      double excess = std::isnan(err) ? INFINITY : err / (allowed > 0 ? allowed : 1e-300);
      if (excess > worst || worst_i < 0) {
        worst = excess;
        worst_i = int64_t(i);
      }
    }
  }
  if (bad == 0) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << bad << " of " << a.size() << " elements differ (rtol " << rtol
                                       << ", atol " << atol << "); worst at flat index " << worst_i << ": got "
                                       << a[size_t(worst_i)] << ", expected " << e[size_t(worst_i)];
}

::testing::AssertionResult tensors_close(const Tensor& actual, const Tensor& expected) {
  Tol t = default_tol(actual.dtype());
  return tensors_close(actual, expected, t.rtol, t.atol);
}

::testing::AssertionResult tensors_equal(const Tensor& actual, const Tensor& expected) {
  return tensors_close(actual, expected, 0, 0);
}

double normalised_squared_error(const Tensor& actual, const Tensor& expected) {
  auto a = actual.to_vector<double>();
  auto e = expected.to_vector<double>();
  KILN_CHECK(a.size() == e.size(), "normalised_squared_error: ", a.size(), " vs ", e.size(), " elements");
  double num = 0, den = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    if ((std::isnan(a[i]) && std::isnan(e[i])) || (std::isinf(e[i]) && a[i] == e[i])) continue;
    if (!std::isfinite(a[i]) || !std::isfinite(e[i])) return INFINITY;
    num += (a[i] - e[i]) * (a[i] - e[i]);
    den += e[i] * e[i];
  }
  // An all-zero expected tensor has no scale to normalise by: the absolute error is what counts.
  return den > 0 ? num / den : num;
}

::testing::AssertionResult tensors_nse_close(const Tensor& actual, const Tensor& expected, double max_nse) {
  if (!actual.defined() || !expected.defined()) return ::testing::AssertionFailure() << "undefined tensor";
  if (actual.shape() != expected.shape())
    return ::testing::AssertionFailure() << "shape " << actual.shape() << " != expected " << expected.shape();
  double nse = normalised_squared_error(actual, expected);
  if (nse <= max_nse) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "normalised squared error " << nse << " > " << max_nse;
}

Tensor make_noncontiguous(const Tensor& t) {
  if (t.dim() == 0) return t;
  Shape wide = t.shape();
  wide.back() *= 2;
  Tensor w = zeros(wide, t.dtype(), t.device());
  Tensor v = w.slice(-1, 0, wide.back(), 2);
  v.copy_(t);
  return v;
}

}  // namespace kiln::test
