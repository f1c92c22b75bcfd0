// GPU benchmark of kiln's tensor ops on CUDA tensors, through the public tensor API (the ops a
// model calls, with their checks, output allocation and dispatch), against the device's ceilings:
//   - elementwise (add, mul by a scalar, relu, gelu, casts, transpose copy) and reductions (sum,
//     amax, argmax, var, logsumexp, cumsum) at 16M and 64M elements: minimal traffic per second
//     as a fraction of the device-to-device copy bandwidth measured in the same run (goal >= 85%);
//   - softmax / log_softmax forward and backward, layer norm forward, batch norm training forward
//     (goal >= 80% of the copy bandwidth);
//   - matmul / bmm (f32 without TF32, f16, bf16) against cublasGemmEx called directly on the same
//     inputs, and conv2d forward / backward-data / backward-weight (f32, f16) against cuDNN with
//     the fastest algorithm of cudnnFind*AlgorithmEx (goal: within 5% of the vendor).
// Figures and goals: Note [Op benchmark figures] in ops_runner.h; timing: Note [GPU timing].
//
//   bench_ops_cuda [--quick] [--batches N] [--out FILE.md] [--sizes-out FILE.json]
//
// --quick keeps the smaller size of each family and 10 batches. --sizes-out lists every case (op,
// dtype, input shapes and ranges, parameters, bytes or FLOPs) so bench/gpu/torch_ops.py times
// PyTorch on the same ones; bench/gpu/combine_ops.py joins the two. KILN_BENCH_OPS_FILTER=text
// runs only the cases whose "group case dtype" contains text. Without a usable GPU it prints one
// line "no usable GPU: <why>" and exits 0 (a skip, not a failure).
#include <array>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "gpu_bench.h"
#include "kiln/tensor/ops.h"
#include "ops_runner.h"
#include "ops_vendor.h"

namespace {

using kiln::DType;
using kiln::Shape;
using kiln::Tensor;
using kiln::bench::gpu::ConvDirection;
using kiln::bench::gpu::ConvShape;
using kiln::bench::gpu::Inputs;
using kiln::bench::gpu::OpCase;
using kiln::bench::gpu::OpInput;
using kiln::bench::gpu::shape_str;
namespace gpu = kiln::bench::gpu;

double es(DType d) { return double(kiln::dtype_size(d)); }
std::string dims_json(const Shape& s) {
  std::string o = "[";
  for (int i = 0; i < s.size(); ++i) {
    if (i) o += ", ";
    o += std::to_string(s[i]);
  }
  return o + "]";
}

constexpr int64_t k16M = int64_t(1) << 24, k64M = int64_t(1) << 26;
constexpr double kBandwidthGoal = 0.85, kNormGoal = 0.80, kVendorGoal = 0.95;

// A memory-bound case over inputs of one shape.
OpCase bw_case(const std::string& group, const std::string& name, const std::string& op, DType dt,
               std::vector<OpInput> inputs, double bytes, std::string params,
               std::function<void(const Inputs&)> kiln_call) {
  OpCase c;
  c.group = group;
  c.name = name;
  c.op = op;
  c.dtype = dt;
  c.shapes = shape_str(inputs.at(0).shape);
  c.inputs = std::move(inputs);
  c.bytes = bytes;
  c.params = std::move(params);
  c.goal = group == "softmax/norm" ? kNormGoal : kBandwidthGoal;
  c.kiln = std::move(kiln_call);
  return c;
}

void add_elementwise(std::vector<OpCase>& cases, bool quick) {
  const std::vector<int64_t> sizes = quick ? std::vector<int64_t>{k16M} : std::vector<int64_t>{k16M, k64M};
  for (DType dt : {DType::f32, DType::bf16})
    for (int64_t n : sizes) {
      const Shape s{n};
      const double b = double(n) * es(dt);
      cases.push_back(bw_case("elementwise", "add", "add", dt, {{s, dt}, {s, dt}}, 3 * b, "",
                              [](const Inputs& in) { Tensor y = kiln::add(in[0], in[1]); }));
      cases.push_back(bw_case("elementwise", "mul scalar", "mul_scalar", dt, {{s, dt}}, 2 * b, "\"scalar\": 1.5",
                              [](const Inputs& in) { Tensor y = kiln::mul(in[0], 1.5); }));
      cases.push_back(bw_case("elementwise", "relu", "relu", dt, {{s, dt}}, 2 * b, "",
                              [](const Inputs& in) { Tensor y = kiln::relu(in[0]); }));
      cases.push_back(bw_case("elementwise", "gelu", "gelu", dt, {{s, dt}}, 2 * b, "\"approximate\": \"none\"",
                              [](const Inputs& in) { Tensor y = kiln::gelu(in[0]); }));
      // f32 -> bf16, and back for the bf16 row.
      const DType to = dt == DType::f32 ? DType::bf16 : DType::f32;
      cases.push_back(bw_case("elementwise", std::string("cast to ") + kiln::dtype_name(to), "cast", dt, {{s, dt}},
                              double(n) * (es(dt) + es(to)), std::string("\"to\": \"") + kiln::dtype_name(to) + "\"",
                              [to](const Inputs& in) { Tensor y = in[0].to(to); }));
    }
  for (DType dt : {DType::f32, DType::bf16})
    for (int64_t side : quick ? std::vector<int64_t>{4096} : std::vector<int64_t>{4096, 8192}) {
      const Shape s{side, side};
      cases.push_back(bw_case("elementwise", "transpose copy", "transpose_copy", dt, {{s, dt}},
                              2.0 * double(side * side) * es(dt), "",
                              [](const Inputs& in) { Tensor y = in[0].t().contiguous(); }));
    }
}

void add_reductions(std::vector<OpCase>& cases, bool quick) {
  const DType dt = DType::f32;
  for (int64_t n : quick ? std::vector<int64_t>{k16M} : std::vector<int64_t>{k16M, k64M}) {
    const double b = double(n) * es(dt);
    cases.push_back(bw_case("reduction", "sum all", "sum", dt, {{Shape{n}, dt}}, b + es(dt), "\"dim\": []",
                            [](const Inputs& in) { Tensor y = kiln::sum(in[0]); }));
    cases.push_back(bw_case("reduction", "amax all", "amax", dt, {{Shape{n}, dt}}, b + es(dt), "\"dim\": []",
                            [](const Inputs& in) { Tensor y = kiln::amax(in[0]); }));
  }
  // Rows of the row-wise reductions: 16384 x 4096 = 64M elements (16M in quick mode).
  const int64_t rows = quick ? 4096 : 16384, cols = 4096;
  const Shape s{rows, cols};
  const double b = double(rows * cols) * es(dt), out = double(rows) * es(dt);
  cases.push_back(bw_case("reduction", "sum dim -1", "sum", dt, {{s, dt}}, b + out, "\"dim\": [-1]",
                          [](const Inputs& in) { Tensor y = kiln::sum(in[0], {-1}); }));
  const Shape s0{cols, rows};  // 4096 x 16384 reduced over dim 0
  cases.push_back(bw_case("reduction", "sum dim 0", "sum", dt, {{s0, dt}}, b + out, "\"dim\": [0]",
                          [](const Inputs& in) { Tensor y = kiln::sum(in[0], {0}); }));
  cases.push_back(bw_case("reduction", "amax dim -1", "amax", dt, {{s, dt}}, b + out, "\"dim\": [-1]",
                          [](const Inputs& in) { Tensor y = kiln::amax(in[0], {-1}); }));
  cases.push_back(bw_case("reduction", "argmax dim -1", "argmax", dt, {{s, dt}}, b + double(rows) * 8, "\"dim\": -1",
                          [](const Inputs& in) { Tensor y = kiln::argmax(in[0], -1); }));
  cases.push_back(bw_case("reduction", "var dim -1", "var", dt, {{s, dt}}, b + out, "\"dim\": [-1], \"correction\": 1",
                          [](const Inputs& in) { Tensor y = kiln::var(in[0], {-1}); }));
  cases.push_back(bw_case("reduction", "logsumexp dim -1", "logsumexp", dt, {{s, dt}}, b + out, "\"dim\": [-1]",
                          [](const Inputs& in) { Tensor y = kiln::logsumexp(in[0], {-1}); }));
  cases.push_back(bw_case("reduction", "cumsum dim -1", "cumsum", dt, {{s, dt}}, 2 * b, "\"dim\": -1",
                          [](const Inputs& in) { Tensor y = kiln::cumsum(in[0], -1); }));
}

void add_softmax_norm(std::vector<OpCase>& cases, bool quick) {
  const std::string g = "softmax/norm";
  const std::vector<Shape> sm = quick ? std::vector<Shape>{{8192, 1024}} : std::vector<Shape>{{8192, 1024}, {4096, 32000}};
  for (DType dt : {DType::f32, DType::bf16}) {
    for (const Shape& s : sm) {
      const double b = double(s.numel()) * es(dt);
      cases.push_back(bw_case(g, "softmax fwd", "softmax", dt, {{s, dt}}, 2 * b, "\"dim\": -1",
                              [](const Inputs& in) { Tensor y = kiln::softmax(in[0], -1); }));
      cases.push_back(bw_case(g, "softmax bwd", "softmax_backward", dt, {{s, dt}, {s, dt, 0.001f, 1.0f}}, 3 * b,
                              "\"dim\": -1",
                              [](const Inputs& in) { Tensor y = kiln::softmax_backward(in[0], in[1], -1); }));
      cases.push_back(bw_case(g, "log_softmax fwd", "log_softmax", dt, {{s, dt}}, 2 * b, "\"dim\": -1",
                              [](const Inputs& in) { Tensor y = kiln::log_softmax(in[0], -1); }));
      cases.push_back(bw_case(g, "log_softmax bwd", "log_softmax_backward", dt, {{s, dt}, {s, dt, -10.0f, -0.01f}},
                              3 * b, "\"dim\": -1",
                              [](const Inputs& in) { Tensor y = kiln::log_softmax_backward(in[0], in[1], -1); }));
    }
    for (const Shape& s : quick ? std::vector<Shape>{{8192, 1024}} : std::vector<Shape>{{8192, 1024}, {8192, 4096}}) {
      const int64_t d = s[1];
      const Shape ws{d};
      // x read, y written, weight and bias read, mean and rstd (f32) written.
      const double bytes = 2.0 * double(s.numel()) * es(dt) + 2.0 * double(d) * es(dt) + 2.0 * double(s[0]) * 4;
      cases.push_back(bw_case(g, "layer_norm fwd", "layer_norm", dt, {{s, dt}, {ws, dt, 0.5f, 1.5f}, {ws, dt}}, bytes,
                              "\"normalized_shape\": [" + std::to_string(d) + "], \"eps\": 1e-05",
                              [d](const Inputs& in) { auto r = kiln::layer_norm(in[0], {d}, in[1], in[2], 1e-5); }));
    }
    // Batch norm, training: statistics over N, H, W per channel; weight, bias and the running
    // statistics in f32 (as mixed-precision training keeps them). Running stats are updated in place.
    const Shape x{64, 256, 28, 28}, c{256};
    const double bytes = 2.0 * double(x.numel()) * es(dt) + 8.0 * 256 * 4;  // x r, y w; 4 [C] r+w
    cases.push_back(bw_case(g, "batch_norm train fwd", "batch_norm", dt,
                            {{x, dt}, {c, DType::f32, 0.5f, 1.5f}, {c, DType::f32}, {c, DType::f32, -0.5f, 0.5f},
                             {c, DType::f32, 0.5f, 1.5f}},
                            bytes, "\"training\": true, \"momentum\": 0.1, \"eps\": 1e-05", [](const Inputs& in) {
                              auto r = kiln::batch_norm_forward(in[0], in[1], in[2], in[3], in[4], true, 0.1, 1e-5);
                            }));
  }
}

// C [batch, M, N] = A [batch, M, K] x B [batch, K, N]; kiln's matmul (mm for batch 1, bmm
// otherwise) against cublasGemmEx on the same A and B.
void add_matmul(std::vector<OpCase>& cases, bool quick) {
  struct G {
    int64_t batch, m, n, k;
  };
  std::vector<G> shapes = {{1, 4096, 4096, 4096}, {1, 8192, 8192, 1024}, {1, 64, 4096, 4096}, {32, 1024, 1024, 1024}};
  if (quick) shapes = {{1, 4096, 4096, 4096}, {1, 64, 4096, 4096}};
  for (DType dt : {DType::f32, DType::f16, DType::bf16})
    for (const G& g : shapes) {
      OpCase c;
      c.group = "matmul";
      const bool batched = g.batch > 1;
      c.name = batched ? "bmm" : "matmul";
      c.op = c.name;
      c.dtype = dt;
      const Shape a = batched ? Shape{g.batch, g.m, g.k} : Shape{g.m, g.k};
      const Shape b = batched ? Shape{g.batch, g.k, g.n} : Shape{g.k, g.n};
      const Shape out = batched ? Shape{g.batch, g.m, g.n} : Shape{g.m, g.n};
      c.shapes = shape_str(a) + " @ " + shape_str(b);
      c.inputs = {{a, dt}, {b, dt}};
      c.flops = 2.0 * double(g.batch) * double(g.m) * double(g.n) * double(g.k);
      c.goal = kVendorGoal;
      c.kiln = [batched](const Inputs& in) { Tensor y = batched ? kiln::bmm(in[0], in[1]) : kiln::matmul(in[0], in[1]); };
      c.vendor_name = "cuBLAS";
      c.vendor = [g, dt, out](const std::vector<Inputs>& sets, std::string*) {
        auto blas = std::make_shared<gpu::DirectGemm>();
        Tensor y = kiln::empty(out, dt, kiln::kCUDA);
        return std::function<void(int)>([blas, y, g, dt, &sets](int s) {
          const Inputs& in = sets[size_t(s)];
          blas->run(dt, g.batch, g.m, g.n, g.k, in[0].data_ptr(), in[1].data_ptr(), y.data_ptr());
        });
      };
      cases.push_back(std::move(c));
    }
}

// conv2d without bias, NCHW, against cuDNN with the best algorithm for each direction. Inputs:
// forward {x, w}, backward-data {dy, w}, backward-weight {dy, x}; the vendor writes one output.
void add_conv(std::vector<OpCase>& cases, bool quick) {
  std::vector<ConvShape> shapes = {{64, 64, 56, 56, 64, 3, 3, 1, 1}, {64, 256, 14, 14, 256, 3, 3, 1, 1},
                                   {64, 3, 224, 224, 64, 7, 7, 2, 3}};
  if (quick) shapes.resize(2);
  const std::pair<ConvDirection, const char*> dirs[] = {{ConvDirection::forward, "conv2d fwd"},
                                                        {ConvDirection::backward_data, "conv2d bwd data"},
                                                        {ConvDirection::backward_weight, "conv2d bwd weight"}};
  for (DType dt : {DType::f32, DType::f16})
    for (const ConvShape& cs : shapes)
      for (const auto& [dir, name] : dirs) {
        const Shape x{cs.n, cs.c, cs.h, cs.w}, w{cs.o, cs.c, cs.kh, cs.kw}, dy{cs.n, cs.o, cs.oh(), cs.ow()};
        OpCase c;
        c.group = "conv";
        c.name = name;
        c.op = dir == ConvDirection::forward ? "conv2d"
               : dir == ConvDirection::backward_data ? "conv2d_backward_data" : "conv2d_backward_weight";
        c.dtype = dt;
        c.shapes = "x " + shape_str(x) + ", w " + shape_str(w) + ", s" + std::to_string(cs.stride) + " p" +
                   std::to_string(cs.pad);
        c.params = "\"stride\": " + std::to_string(cs.stride) + ", \"padding\": " + std::to_string(cs.pad) +
                   ", \"x_shape\": " + dims_json(x) + ", \"w_shape\": " + dims_json(w);
        c.flops = cs.flops();
        c.goal = kVendorGoal;
        c.vendor_name = "cuDNN";
        const int64_t st = cs.stride, pd = cs.pad;
        switch (dir) {
          case ConvDirection::forward:
            c.inputs = {{x, dt}, {w, dt}};
            c.kiln = [st, pd](const Inputs& in) { Tensor y = kiln::conv2d(in[0], in[1], {}, st, pd); };
            break;
          case ConvDirection::backward_data:
            c.inputs = {{dy, dt}, {w, dt}};
            c.kiln = [x, st, pd](const Inputs& in) { Tensor y = kiln::conv2d_backward_data(in[0], in[1], x, st, pd); };
            break;
          case ConvDirection::backward_weight:
            c.inputs = {{dy, dt}, {x, dt}};
            c.kiln = [w, st, pd](const Inputs& in) {
              Tensor y = kiln::conv2d_backward_weight(in[0], in[1], w, st, pd);
            };
            break;
        }
        c.vendor = [cs, dt, dir, x, w, dy](const std::vector<Inputs>& sets, std::string* note) {
          const Shape out_shape = dir == ConvDirection::forward ? dy : dir == ConvDirection::backward_data ? x : w;
          Tensor out = kiln::empty(out_shape, dt, kiln::kCUDA);
          // Pointers (x, w, y) of set s in the roles DirectConv expects, the output in `out`.
          auto roles = [dir, out, &sets](int s) {
            const Inputs& in = sets[size_t(s)];
            void* o = out.data_ptr();
            switch (dir) {
              case ConvDirection::forward: return std::array<void*, 3>{in[0].data_ptr(), in[1].data_ptr(), o};
              case ConvDirection::backward_data: return std::array<void*, 3>{o, in[1].data_ptr(), in[0].data_ptr()};
              case ConvDirection::backward_weight: break;
            }
            return std::array<void*, 3>{in[1].data_ptr(), o, in[0].data_ptr()};
          };
          const auto p0 = roles(0);
          auto conv = std::make_shared<gpu::DirectConv>(cs, dt, dir, p0[0], p0[1], p0[2], size_t(1) << 30);
          *note = conv->describe();
          return std::function<void(int)>([conv, roles](int s) {
            const auto p = roles(s);
            conv->run(p[0], p[1], p[2]);
          });
        };
        cases.push_back(std::move(c));
      }
}

}  // namespace

int main(int argc, char** argv) {
  return gpu::bench_main(argc, argv, "bench_ops_cuda", true, [](const gpu::BenchArgs& args) {
    std::vector<OpCase> cases;
    add_elementwise(cases, args.quick);
    add_reductions(cases, args.quick);
    add_softmax_norm(cases, args.quick);
    add_matmul(cases, args.quick);
    add_conv(cases, args.quick);
    return gpu::run_op_cases(cases, args);
  });
}
