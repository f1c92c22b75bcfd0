// The op benchmark runner (ops_runner.h, Note [Op benchmark figures]).
#include "ops_runner.h"

#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>

#include "kiln/kernels/cuda/allocator.h"
#include "kiln/kernels/cuda/check.h"
#include "kiln/tensor/creation.h"

namespace kiln::bench::gpu {

namespace {

std::string json_escape(const std::string& s) {
  std::string o;
  for (char ch : s) {
    if (ch == '"' || ch == '\\') o += '\\';
    o += ch;
  }
  return o;
}

std::string one_line(std::string s) {
  std::replace(s.begin(), s.end(), '\n', ' ');
  std::replace(s.begin(), s.end(), '|', '/');
  return s;
}

int64_t input_bytes(const OpCase& c) {
  int64_t b = 0;
  for (const OpInput& in : c.inputs) b += gpu::DeviceArena::aligned(size_t(in.shape.numel()) * dtype_size(in.dtype));
  return std::max<int64_t>(b, 1);
}

// `sets` copies of the case's inputs as kiln CUDA tensors, random data (never zeros).
std::vector<Inputs> make_sets(const OpCase& c, int sets, uint64_t& seed) {
  std::vector<Inputs> out(static_cast<size_t>(sets));
  for (Inputs& set : out)
    for (const OpInput& in : c.inputs) {
      Tensor t = empty(in.shape, in.dtype, kCUDA);
      fill_random(t.data_ptr(), t.numel(), in.dtype, in.lo, in.hi, ++seed);
      set.push_back(t);
    }
  KILN_CUDA_CHECK(cudaDeviceSynchronize());
  return out;
}

// Compute-bound cases alternate kiln and the vendor in this many rounds (each with a share of the
// batches) and average the medians, so a clock or thermal drift does not favour one side.
constexpr int kRounds = 2;

OpResult run_case(const OpCase& c, const BenchArgs& args, int64_t l2_bytes, uint64_t& seed) {
  OpResult r;
  // Memory kiln cached for earlier cases goes back to CUDA, so this case (and cuDNN's workspace,
  // which is not kiln's) sees the whole device.
  kiln::cuda::empty_cache();
  size_t free_b = 0, total_b = 0;
  KILN_CUDA_CHECK(cudaMemGetInfo(&free_b, &total_b));
  const int64_t per_set = input_bytes(c);
  int sets = rotation_sets(per_set, l2_bytes);
  // Leave room for the outputs kiln allocates per call and the vendor's buffers.
  while (sets > 1 && double(per_set) * sets > 0.4 * double(free_b)) --sets;
  r.sets = sets;
  std::vector<Inputs> data;
  try {
    data = make_sets(c, sets, seed);
  } catch (const std::exception& e) {  // kiln's CUDA tensors could not be made: nothing to time
    r.kiln_error = "making the inputs: " + one_line(e.what());
    if (c.vendor) r.vendor_error = "no inputs";
    return r;
  }
  auto kiln_call = [&](int s) { c.kiln(data[size_t(s)]); };

  if (!c.vendor) {
    try {
      r.kiln_s = time_rotated(kiln_call, sets, args.batches).median_s;
    } catch (const std::exception& e) {
      r.kiln_error = one_line(e.what());
    }
    return r;
  }
  std::function<void(int)> vendor_call;
  try {
    vendor_call = c.vendor(data, &r.vendor_note);
  } catch (const std::exception& e) {
    r.vendor_error = one_line(e.what());
  }
  const int per_round = std::max(1, args.batches / kRounds);
  double kiln_sum = 0, vendor_sum = 0;
  for (int round = 0; round < kRounds; ++round) {
    if (r.kiln_error.empty()) {
      try {
        kiln_sum += time_rotated(kiln_call, sets, per_round).median_s;
      } catch (const std::exception& e) {
        r.kiln_error = one_line(e.what());
      }
    }
    if (vendor_call && r.vendor_error.empty()) {
      try {
        vendor_sum += time_rotated(vendor_call, sets, per_round).median_s;
      } catch (const std::exception& e) {
        r.vendor_error = one_line(e.what());
      }
    }
  }
  if (r.kiln_error.empty()) r.kiln_s = kiln_sum / kRounds;
  if (vendor_call && r.vendor_error.empty()) r.vendor_s = vendor_sum / kRounds;
  KILN_CUDA_CHECK(cudaDeviceSynchronize());
  return r;
}

// The figure a case is judged by (Note [Op benchmark figures]): fraction of the copy bandwidth,
// or vendor time / kiln time; negative when it cannot be computed.
double figure(const OpCase& c, const OpResult& r, double bw) {
  if (r.kiln_s <= 0) return -1;
  if (c.vendor) return r.vendor_s > 0 ? r.vendor_s / r.kiln_s : -1;
  return c.bytes / r.kiln_s / bw;
}

std::string fmt(const char* f, double v) {
  char b[256];
  std::snprintf(b, sizeof b, f, v);
  return b;
}

std::string table_row(const OpCase& c, const OpResult& r, double bw) {
  const double fig = figure(c, r, bw);
  std::string kiln_t = r.kiln_s > 0 ? fmt("%.1f", r.kiln_s * 1e6) : "failed";
  std::string rate = "—", ceiling = "—", vendor_t = "—", ratio = "—", met = "—";
  if (r.kiln_s > 0) rate = c.vendor ? fmt("%.1f TFLOP/s", c.flops / r.kiln_s / 1e12) : fmt("%.0f GB/s", c.bytes / r.kiln_s / 1e9);
  if (c.vendor && r.vendor_s > 0) vendor_t = fmt("%.1f", r.vendor_s * 1e6);
  else if (c.vendor) vendor_t = "failed";
  if (fig >= 0) {
    ceiling = fmt("%.1f%%", 100 * fig);
    met = fig >= c.goal ? "yes" : "no";
    if (c.vendor) ratio = fmt("%.3fx", fig);
  }
  const std::string goal = c.vendor ? fmt(">= %.0f%% of ", 100 * c.goal) + c.vendor_name
                                    : fmt(">= %.0f%% of copy bw", 100 * c.goal);
  std::ostringstream o;
  o << "| " << c.group << " | " << c.name << " | " << dtype_name(c.dtype) << " | " << c.shapes << " | " << r.sets
    << " | " << kiln_t << " | " << rate << " | " << ceiling << " | " << vendor_t << " | " << ratio << " | " << goal
    << " | " << met << " |\n";
  return o.str();
}

std::string sizes_json(const GpuInfo& info, double bw, const std::vector<OpCase>& cases) {
  std::ostringstream js;
  js << "{\n  \"gpu\": \"" << json_escape(info.name) << "\",\n  \"l2_bytes\": " << info.l2_bytes
     << ",\n  \"copy_bw_gbs\": " << fmt("%.1f", bw / 1e9) << ",\n  \"cases\": [";
  for (size_t i = 0; i < cases.size(); ++i) {
    const OpCase& c = cases[i];
    js << (i ? ",\n" : "\n") << "    {\"group\": \"" << c.group << "\", \"case\": \"" << json_escape(c.name)
       << "\", \"op\": \"" << c.op << "\", \"dtype\": \"" << dtype_name(c.dtype) << "\", \"shapes\": \""
       << json_escape(c.shapes) << "\",\n     \"inputs\": [";
    for (size_t k = 0; k < c.inputs.size(); ++k) {
      const OpInput& in = c.inputs[k];
      js << (k ? ", " : "") << "{\"shape\": [";
      for (int d = 0; d < in.shape.size(); ++d) js << (d ? ", " : "") << in.shape[d];
      js << "], \"dtype\": \"" << dtype_name(in.dtype) << "\", \"lo\": " << in.lo << ", \"hi\": " << in.hi << "}";
    }
    js << "],\n     \"params\": {" << c.params << "}, \"bytes\": " << fmt("%.0f", c.bytes)
       << ", \"flops\": " << fmt("%.0f", c.flops) << ", \"goal\": " << c.goal << "}";
  }
  js << "\n  ]\n}\n";
  return js.str();
}

bool write_file(const std::string& path, const std::string& text) {
  std::ofstream f(path);
  f << text;
  f.close();
  if (!f.good()) std::fprintf(stderr, "bench_ops_cuda: cannot write %s\n", path.c_str());
  return f.good();
}

// Per group: goals met / cases measured, the median figure, and failures.
std::string headline(const std::vector<OpCase>& cases, const std::vector<OpResult>& results, double bw) {
  std::vector<std::string> order;
  std::map<std::string, std::vector<double>> figs;
  std::map<std::string, int> met, failed;
  std::map<std::string, std::string> unit;
  for (size_t i = 0; i < cases.size(); ++i) {
    const OpCase& c = cases[i];
    if (!figs.count(c.group)) order.push_back(c.group);
    auto& f = figs[c.group];
    unit[c.group] = c.vendor ? "of " + c.vendor_name : "of copy bw";
    const double fig = figure(c, results[i], bw);
    if (fig < 0) {
      ++failed[c.group];
      continue;
    }
    f.push_back(fig);
    met[c.group] += fig >= c.goal;
  }
  std::string h;
  for (const std::string& g : order) {
    auto f = figs[g];
    if (!h.empty()) h += "; ";
    h += g + " " + std::to_string(met[g]) + "/" + std::to_string(f.size()) + " met";
    if (!f.empty()) {
      std::sort(f.begin(), f.end());
      h += fmt(" (median %.0f%% ", 100 * f[f.size() / 2]) + unit[g] + ")";
    }
    if (failed[g]) h += ", " + std::to_string(failed[g]) + " failed";
  }
  return h;
}

}  // namespace

std::string shape_str(const Shape& s) {
  std::string o;
  for (int i = 0; i < s.size(); ++i) {
    if (i) o += 'x';
    o += std::to_string(s[i]);
  }
  return o;
}

int run_op_cases(const std::vector<OpCase>& all_cases, const BenchArgs& args) {
  std::vector<OpCase> cases;
  const char* filter = std::getenv("KILN_BENCH_OPS_FILTER");  // a substring of "group case dtype"
  for (const OpCase& c : all_cases) {
    const std::string key = c.group + " " + c.name + " " + dtype_name(c.dtype);
    if (!filter || !*filter || key.find(filter) != std::string::npos) cases.push_back(c);
  }
  const GpuInfo info = gpu_info();
  std::fprintf(stderr, "bench_ops_cuda: %s; measuring the copy bandwidth...\n", info.describe().c_str());
  const double bw = d2d_copy_bandwidth(size_t(1) << 30, args.quick ? 5 : 25);
  if (!args.sizes_out.empty() && !write_file(args.sizes_out, sizes_json(info, bw, cases))) return 1;

  std::ostringstream md;
  md << "# kiln tensor ops on " << info.name << "\n\n";
  md << "GPU: " << info.describe() << ".\n\n";
  md << fmt("Copy bandwidth: %.1f GB/s (device to device, 1 GiB, read + write, median).\n\n", bw / 1e9);
  md << "Median time per call over " << args.batches << " batches of >= 2 ms (Note [GPU timing] in "
     << "bench/cuda/gpu_bench.h), inputs rotated among `sets` copies (>= 4x the L2 size between visits), random data. "
     << "Memory-bound cases: `kiln rate` counts the minimal traffic (inputs read once, outputs written once) and "
     << "`of ceiling` is that over the copy bandwidth. GEMM and conv: 2 FLOPs per multiply-add, kiln against the same "
     << "call made directly through cuBLAS (cublasGemmEx, FP32 compute without TF32, f32 accumulation for f16/bf16) "
     << "or cuDNN (fastest algorithm of cudnnFind*AlgorithmEx, FMA math for f32), alternating in " << kRounds
     << " rounds; `of ceiling` and `vendor / kiln` are the vendor's time over kiln's (goal: within 5%).\n\n";
  md << "| group | case | dtype | shapes | sets | kiln (us) | kiln rate | of ceiling | vendor (us) | vendor / kiln | goal "
        "| met |\n";
  md << "|---|---|---|---|---|---|---|---|---|---|---|---|\n";
  std::string table = md.str();
  std::cout << table << std::flush;

  std::vector<OpResult> results;
  uint64_t seed = 7;
  for (const OpCase& c : cases) {
    std::fprintf(stderr, "bench_ops_cuda: %s %s %s %s...\n", c.group.c_str(), c.name.c_str(), dtype_name(c.dtype),
                 c.shapes.c_str());
    OpResult r = run_case(c, args, info.l2_bytes, seed);
    const std::string row = table_row(c, r, bw);
    std::cout << row << std::flush;
    table += row;
    results.push_back(r);
  }
  const std::vector<OpCase>& ran = cases;
  release_random_blocks();

  std::string notes;
  for (size_t i = 0; i < ran.size(); ++i) {
    const std::string id = ran[i].group + " / " + ran[i].name + " / " + dtype_name(ran[i].dtype) + " / " + ran[i].shapes;
    if (!results[i].kiln_error.empty()) notes += "- kiln failed: " + id + ": " + results[i].kiln_error + "\n";
    if (!results[i].vendor_error.empty()) notes += "- vendor failed: " + id + ": " + results[i].vendor_error + "\n";
    if (!results[i].vendor_note.empty()) notes += "- " + ran[i].vendor_name + ": " + id + ": " + results[i].vendor_note + "\n";
  }
  if (!notes.empty()) table += "\nNotes:\n\n" + notes;
  const std::string h = "\nheadline: " + headline(ran, results, bw) + "\n";
  std::cout << (notes.empty() ? "" : "\nNotes:\n\n" + notes) << h;
  table += h;
  if (!args.out_path.empty() && !write_file(args.out_path, table)) return 1;
  return 0;
}

}  // namespace kiln::bench::gpu
