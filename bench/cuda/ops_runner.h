#pragma once
// The runner behind bench_ops_cuda: one OpCase per (op, dtype, shapes), its inputs made as kiln
// CUDA tensors filled with random data, timed per Note [GPU timing] (gpu_bench.h), optionally next
// to a vendor call (cuBLAS / cuDNN directly) on the same inputs; then the markdown table, the
// sizes JSON for bench/gpu/torch_ops.py and the headline.
//
// Note [Op benchmark figures]
// Memory-bound cases (elementwise, reductions, softmax and normalisations) count the minimal
// traffic of one call: every input read once and every output written once (`bytes`), and report
// it per second as a fraction of the device-to-device copy bandwidth measured in the same run
// (goal >= 85%, >= 80% for the softmax and normalisation group). Compute-bound cases (GEMM, conv)
// count 2 FLOPs per multiply-add (`flops`) and compare kiln's time with the vendor's own call on
// the same inputs: `vendor / kiln` = vendor time / kiln time (goal >= 0.95: within 5%). Higher is
// better for kiln in every column. A case whose kiln op throws is reported (the message under the
// table) and the run goes on: the vendor side and the other cases still produce figures.
#include <functional>
#include <string>
#include <vector>

#include "gpu_bench.h"
#include "kiln/tensor/tensor.h"

namespace kiln::bench::gpu {

// One input of a case: shape, dtype and the range of its uniform random values.
struct OpInput {
  Shape shape;
  DType dtype = DType::f32;
  float lo = -1.0f, hi = 1.0f;
};

using Inputs = std::vector<Tensor>;  // one input set, in OpCase::inputs order
// Makes the vendor's call for all input sets (planning, output buffers) and returns the call;
// may set *note (e.g. the algorithm cuDNN chose).
using VendorFactory =
    std::function<std::function<void(int set)>(const std::vector<Inputs>& sets, std::string* note)>;

struct OpCase {
  std::string group;   // "elementwise", "reduction", "softmax/norm", "matmul", "conv"
  std::string name;    // table cell, e.g. "sum dim -1"
  std::string op;      // what bench/gpu/torch_ops.py runs, e.g. "sum"
  DType dtype = DType::f32;
  std::string shapes;  // table cell, e.g. "16384x4096"
  std::string params;  // JSON object members for torch_ops.py, e.g. "\"dim\": [-1]"
  std::vector<OpInput> inputs;
  double bytes = 0;    // memory-bound: minimal traffic per call
  double flops = 0;    // compute-bound: FLOPs per call (then `vendor` is set)
  double goal = 0.85;  // fraction of copy bandwidth, or of the vendor's speed
  std::function<void(const Inputs&)> kiln;
  std::string vendor_name;  // "cuBLAS", "cuDNN"
  VendorFactory vendor;
};

struct OpResult {
  double kiln_s = 0, vendor_s = 0;  // 0 when not measured
  int sets = 0;
  std::string kiln_error, vendor_error, vendor_note;
};

// "16384x4096"
std::string shape_str(const Shape& s);

// Runs every case (stderr shows progress) and writes the table (out_path), the sizes JSON
// (sizes_path) when the paths are not empty; prints the table and "headline: ..." on stdout.
// Returns 0, or 1 when a file cannot be written.
int run_op_cases(const std::vector<OpCase>& cases, const BenchArgs& args);

}  // namespace kiln::bench::gpu
