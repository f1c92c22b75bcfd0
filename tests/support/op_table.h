#pragma once
// The op table (DESIGN.md section 6): one row per op drives every generic check.
//
// Each row names the op, lists shape cases (one shape per input; include 0, 1, primes,
// broadcasting and large), the dtypes to run, the value domain of each input, a `run` that calls
// kiln, and a `ref` that computes the expected result in float64 from the input values with
// plain loops (never with the kiln op under test). tests/tensor/test_op_table.cpp checks every
// row: forward vs reference for contiguous and non-contiguous inputs;
// tests/tensor/test_op_table_cuda.cpp checks CPU-vs-CUDA parity of every row (Note [CUDA parity]
// there) and tests/autograd/ the float64 gradient checks over the same rows.
//
// Rows are added from any test file with a static registrar:
//   static test::OpRegistrar reg({ OpRow{...}, ... });
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "support/fixtures.h"

namespace kiln::test {

// A float64 reference tensor: row-major values and a shape.
struct Ref {
  Shape shape;
  std::vector<double> v;
  Ref() = default;
  Ref(const Shape& s) : shape(s), v(size_t(s.numel()), 0.0) {}
  Ref(const Shape& s, std::vector<double> vals) : shape(s), v(std::move(vals)) {}
  int64_t numel() const { return int64_t(v.size()); }
  // Flat row-major index of a multi-index.
  int64_t index(const std::vector<int64_t>& idx) const;
};
Ref to_ref(const Tensor& t);
Tensor from_ref(const Ref& r, DType dtype);

// Elementwise map; zip of two or three refs with numpy broadcasting.
Ref ref_map(const Ref& a, const std::function<double(double)>& f);
Ref ref_zip(const Ref& a, const Ref& b, const std::function<double(double, double)>& f);
Ref ref_zip3(const Ref& a, const Ref& b, const Ref& c, const std::function<double(double, double, double)>& f);
// Reduction over `dims` (empty = all) with keepdim; f folds the list of values of one output
// element into one value.
Ref ref_reduce(const Ref& a, std::vector<int64_t> dims, bool keepdim,
               const std::function<double(const std::vector<double>&)>& f);

// How CPU-vs-CUDA parity is judged for a row (issue 3's tolerances): elementwise closeness per
// element (rtol/atol per dtype), or, for results that accumulate many terms (reductions, GEMM,
// convolutions, normalisation, backward passes that sum), the normalised squared error
// sum((cuda - cpu)^2) / sum(cpu^2), which does not punish cancellation in single elements.
enum class Parity { elementwise, accumulated };

enum class Domain {
  any,       // uniform in (-3, 3)
  positive,  // uniform in (0.1, 3)
  unit,      // uniform in (-0.95, 0.95)
  nonzero,   // |x| in (0.5, 3), random sign
  index,     // integer indices: supplied by the row's own `make` function
};

struct OpRow {
  std::string name;
  std::vector<std::vector<Shape>> cases;
  std::function<Tensor(const std::vector<Tensor>&)> run;
  std::function<Ref(const std::vector<Ref>&)> ref;
  std::vector<DType> dtypes = {DType::f32, DType::f64};
  std::vector<Domain> domains = {};  // per input; missing entries mean Domain::any
  std::optional<Tol> tol = std::nullopt;  // overrides default_tol(output dtype)
  // Custom input maker (e.g. for index tensors): (case shapes, dtype, seed) -> inputs.
  std::function<std::vector<Tensor>(const std::vector<Shape>&, DType, uint64_t)> make = nullptr;
  bool check_noncontiguous = true;
  // Rows of differentiable ops; the autograd issue adds a gradient check for each.
  bool differentiable = false;
  Parity parity = Parity::elementwise;
};

std::vector<OpRow>& op_table();
// One row of the table as a test parameter (both table drivers instantiate over every row).
struct RowParam {
  size_t row;
  std::string name;
};
inline void PrintTo(const RowParam& p, std::ostream* os) { *os << p.name; }
std::vector<RowParam> all_row_params();
// A gtest-safe test name: the row's name with non-alphanumerics as '_', then its index.
std::string row_param_name(const ::testing::TestParamInfo<RowParam>& info);

// The rows with their parity metric set to p (for a file whose rows all accumulate).
std::vector<OpRow> with_parity(std::vector<OpRow> rows, Parity p);
struct OpRegistrar {
  explicit OpRegistrar(std::vector<OpRow> rows);
};

// Deterministic random inputs for one case of a row (std::mt19937_64, independent of kiln's RNG).
std::vector<Tensor> make_inputs(const OpRow& row, size_t case_index, DType dtype, uint64_t seed);
// A random tensor in a domain (integer dtypes get small integers, bool random bits).
Tensor random_tensor(const Shape& shape, DType dtype, Domain domain, uint64_t seed);

}  // namespace kiln::test
