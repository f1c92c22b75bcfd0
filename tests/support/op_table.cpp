#include "support/op_table.h"

#include <algorithm>
#include <cctype>
#include <random>

namespace kiln::test {

int64_t Ref::index(const std::vector<int64_t>& idx) const {
  int64_t flat = 0;
  for (int d = 0; d < shape.size(); ++d) flat = flat * shape[d] + idx[size_t(d)];
  return flat;
}

std::vector<RowParam> all_row_params() {
  std::vector<RowParam> p;
  for (size_t i = 0; i < op_table().size(); ++i) p.push_back({i, op_table()[i].name});
  return p;
}

std::string row_param_name(const ::testing::TestParamInfo<RowParam>& info) {
  std::string s = info.param.name;
  for (char& ch : s)
    if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
  return s + "_" + std::to_string(info.param.row);
}

std::vector<OpRow> with_parity(std::vector<OpRow> rows, Parity p) {
  for (auto& r : rows) r.parity = p;
  return rows;
}

Ref to_ref(const Tensor& t) { return Ref(t.shape(), t.to_vector<double>()); }

Tensor from_ref(const Ref& r, DType dtype) { return from_vector(r.v, r.shape).to(dtype); }

Ref ref_map(const Ref& a, const std::function<double(double)>& f) {
  Ref o(a.shape);
  for (size_t i = 0; i < a.v.size(); ++i) o.v[i] = f(a.v[i]);
  return o;
}

namespace {
// Flat index into `r` (right-aligned broadcast) of output multi-index idx of shape out.
int64_t bcast_index(const Ref& r, const Shape& out, const std::vector<int64_t>& idx) {
  int64_t flat = 0;
  int off = out.size() - r.shape.size();
  for (int d = 0; d < r.shape.size(); ++d) {
    int64_t i = r.shape[d] == 1 ? 0 : idx[size_t(d + off)];
    flat = flat * r.shape[d] + i;
  }
  return flat;
}
bool next_index(std::vector<int64_t>& idx, const Shape& s) {
  for (int d = s.size() - 1; d >= 0; --d) {
    if (++idx[size_t(d)] < s[d]) return true;
    idx[size_t(d)] = 0;
  }
  return false;
}
}  // namespace

Ref ref_zip3(const Ref& a, const Ref& b, const Ref& c, const std::function<double(double, double, double)>& f) {
  Shape out = broadcast_shapes(broadcast_shapes(a.shape, b.shape, "ref"), c.shape, "ref");
  Ref o(out);
  if (o.numel() == 0) return o;
  std::vector<int64_t> idx(size_t(out.size()), 0);
  int64_t k = 0;
  do {
    o.v[size_t(k++)] = f(a.v[size_t(bcast_index(a, out, idx))], b.v[size_t(bcast_index(b, out, idx))],
                         c.v[size_t(bcast_index(c, out, idx))]);
  } while (next_index(idx, out));
  return o;
}

Ref ref_zip(const Ref& a, const Ref& b, const std::function<double(double, double)>& f) {
  Ref one(Shape{}, {0.0});
  return ref_zip3(a, b, one, [&](double x, double y, double) { return f(x, y); });
}

Ref ref_reduce(const Ref& a, std::vector<int64_t> dims, bool keepdim,
               const std::function<double(const std::vector<double>&)>& f) {
  int n = a.shape.size();
  std::vector<bool> red(size_t(n), dims.empty());
  for (int64_t d : dims) red[size_t(wrap_dim(d, n, "ref_reduce"))] = true;
  Shape kept = a.shape;
  for (int d = 0; d < n; ++d)
    if (red[size_t(d)]) kept[d] = 1;
  Ref o(kept);
  std::vector<std::vector<double>> groups(size_t(kept.numel()));
  if (a.numel() > 0) {
    std::vector<int64_t> idx(size_t(n), 0);
    int64_t k = 0;
    do {
      int64_t flat = 0;
      for (int d = 0; d < n; ++d) flat = flat * kept[d] + (red[size_t(d)] ? 0 : idx[size_t(d)]);
      groups[size_t(flat)].push_back(a.v[size_t(k++)]);
    } while (next_index(idx, a.shape));
  }
  for (size_t i = 0; i < groups.size(); ++i) o.v[i] = f(groups[i]);
  if (!keepdim) {
    Shape s;
    for (int d = 0; d < n; ++d)
      if (!red[size_t(d)]) s.push_back(a.shape[d]);
    o.shape = s;
  }
  return o;
}

std::vector<OpRow>& op_table() {
  static std::vector<OpRow> rows;
  return rows;
}

OpRegistrar::OpRegistrar(std::vector<OpRow> rows) {
  for (auto& r : rows) op_table().push_back(std::move(r));
}

Tensor random_tensor(const Shape& shape, DType dtype, Domain domain, uint64_t seed) {
  std::mt19937_64 gen(seed);
  std::vector<double> v(size_t(shape.numel()));
  std::uniform_real_distribution<double> u01(0.0, 1.0);
  for (auto& x : v) {
    double r = u01(gen);
    if (dtype == DType::b8) {
      x = r < 0.5 ? 0 : 1;
    } else if (is_integral(dtype)) {
      x = dtype == DType::u8 ? std::floor(r * 11) : std::floor(r * 11) - 5;
      if (domain == Domain::positive || domain == Domain::nonzero) x = std::floor(r * 5) + 1;
    } else {
      switch (domain) {
        case Domain::positive: x = 0.1 + 2.9 * r; break;
        case Domain::unit: x = -0.95 + 1.9 * r; break;
        case Domain::nonzero: x = (r < 0.5 ? -1 : 1) * (0.5 + 2.5 * u01(gen)); break;
        default: x = -3 + 6 * r; break;
      }
    }
  }
  return from_vector(v, shape).to(dtype);
}

std::vector<Tensor> make_inputs(const OpRow& row, size_t case_index, DType dtype, uint64_t seed) {
  const auto& shapes = row.cases[case_index];
  if (row.make) return row.make(shapes, dtype, seed);
  std::vector<Tensor> in;
  for (size_t i = 0; i < shapes.size(); ++i) {
    Domain d = i < row.domains.size() ? row.domains[i] : Domain::any;
    in.push_back(random_tensor(shapes[i], dtype, d, seed * 7919 + i));
  }
  return in;
}

}  // namespace kiln::test
