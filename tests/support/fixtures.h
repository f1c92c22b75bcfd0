#pragma once
// Test support: golden fixtures and tensor comparison.
//
// Golden fixtures are written once by tools/golden/*.py with Debian's python3-torch and committed
// under tests/fixtures/<name>.safetensors (a JSON header of name -> dtype, shape, offsets, then
// raw little-endian data). Tests read them here and never need PyTorch.
#include <map>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "kiln/tensor/ops.h"

namespace kiln::test {

// All tensors of tests/fixtures/<name>.safetensors, by name.
std::map<std::string, Tensor> load_fixture(const std::string& name);

// Scalar value of a 1-element fixture tensor (for op parameters stored beside the data).
double fixture_scalar(const std::map<std::string, Tensor>& f, const std::string& key);

// Every dtype, for tests that sweep them all.
inline const std::vector<DType> kAllDTypes = {DType::f32, DType::f64, DType::f16, DType::bf16,
                                              DType::i64, DType::i32, DType::u8,  DType::b8};

// Tolerances PyTorch's testing uses by default, per dtype.
struct Tol {
  double rtol, atol;
};
Tol default_tol(DType d);

// Compares values (in f64) and shape; on failure reports the worst element's index and values.
::testing::AssertionResult tensors_close(const Tensor& actual, const Tensor& expected, double rtol, double atol);
::testing::AssertionResult tensors_close(const Tensor& actual, const Tensor& expected);  // default_tol(actual)
// Exact equality of values and shape (integers, indices, bools).
::testing::AssertionResult tensors_equal(const Tensor& actual, const Tensor& expected);

// Normalised squared error sum((a - e)^2) / sum(e^2) over all elements (the absolute sum((a - e)^2)
// when e is all zero; NaN / inf at the same places in both count as equal, elsewhere a non-finite
// value makes it infinite) and a check that it is <= max_nse.
double normalised_squared_error(const Tensor& actual, const Tensor& expected);
::testing::AssertionResult tensors_nse_close(const Tensor& actual, const Tensor& expected, double max_nse);

// The same values as t in a non-contiguous layout (every other element of a wider buffer).
Tensor make_noncontiguous(const Tensor& t);

// Evaluates an expression expecting kiln::Error whose message contains `needle`.
#define EXPECT_KILN_ERROR(stmt, needle)                                                       \
  do {                                                                                        \
    try {                                                                                     \
      (void)(stmt);                                                                           \
      ADD_FAILURE() << "expected kiln::Error containing \"" << (needle) << "\" from " #stmt;  \
    } catch (const ::kiln::Error& e__) {                                                      \
      EXPECT_NE(std::string(e__.what()).find(needle), std::string::npos)                      \
          << "message was: " << e__.what();                                                   \
    }                                                                                         \
  } while (0)

}  // namespace kiln::test
