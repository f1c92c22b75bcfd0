#pragma once
// The side-by-side timing harness shared by the bench/compare runners (DESIGN.md section 7): for
// every case it alternates rounds of kiln and the peer in one process, takes the median time per
// call of each, and reports ratio = peer time / kiln time (> 1: kiln is faster) plus throughput
// as a fraction of a ceiling measured in the same run.
#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstdio>
#include <fstream>
#include <functional>
#include <iostream>
#include <string>
#include <vector>

#include "kiln/kernels/cpu/parallel.h"

namespace kiln::bench::sbs {

// The options the simple runners share: --rounds N, --threads N (kiln's pool; the caller gives the
// peer the same count), --quick, --out FILE.md.
struct CommonOptions {
  std::string out_path;
  int rounds = 7;
  bool quick = false;
};
// Parses argv into o; prints the usage line and returns false on anything else.
inline bool parse_common_options(int argc, char** argv, const char* program, CommonOptions& o) {
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--rounds" && i + 1 < argc) o.rounds = std::max(1, std::atoi(argv[++i]));
    else if (a == "--out" && i + 1 < argc) o.out_path = argv[++i];
    else if (a == "--quick") o.quick = true;
    else if (a == "--threads" && i + 1 < argc) kiln::cpu::set_num_threads(std::max(1, std::atoi(argv[++i])));
    else {
      std::fprintf(stderr, "usage: %s [--rounds N] [--threads N] [--quick] [--out FILE.md]\n", program);
      return false;
    }
  }
  return true;
}

using Clock = std::chrono::steady_clock;

struct Case {
  std::string group;  // gemm, conv, elementwise, reduction, nn, overhead
  std::string name;
  double flops = 0;   // per call (0 when memory-bound)
  double bytes = 0;   // per call, minimal traffic (read + written)
  double goal = 1.0;  // the ratio this case should reach (peer time / kiln time)
  std::function<void()> kiln, torch;
};

struct Result {
  double kiln_s, torch_s;
};

inline double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

// Calls per timed batch so one batch takes about `target` seconds.
inline int calibrate(const std::function<void()>& f, double target) {
  auto t0 = Clock::now();
  f();
  double one = std::max(seconds_since(t0), 1e-9);
  return int(std::clamp(target / one, 1.0, 1e7));
}

inline double batch_time(const std::function<void()>& f, int calls) {
  auto t0 = Clock::now();
  for (int i = 0; i < calls; ++i) f();
  return seconds_since(t0) / calls;
}

inline double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

inline Result run_case(const Case& c, int rounds, double target) {
  // Warm up both sides (allocator caches, lazy initialisation), then calibrate.
  for (int i = 0; i < 2; ++i) {
    c.kiln();
    c.torch();
  }
  int nk = calibrate(c.kiln, target), nt = calibrate(c.torch, target);
  std::vector<double> tk, tt;
  for (int r = 0; r < rounds; ++r) {
    // Alternate which side goes first so drift in machine load hits both equally.
    if (r % 2 == 0) {
      tk.push_back(batch_time(c.kiln, nk));
      tt.push_back(batch_time(c.torch, nt));
    } else {
      tt.push_back(batch_time(c.torch, nt));
      tk.push_back(batch_time(c.kiln, nk));
    }
  }
  return {median(tk), median(tt)};
}

inline std::string fmt_time(double s) {
  char buf[32];
  if (s < 1e-6) std::snprintf(buf, sizeof buf, "%.0f ns", s * 1e9);
  else if (s < 1e-3) std::snprintf(buf, sizeof buf, "%.1f us", s * 1e6);
  else if (s < 1) std::snprintf(buf, sizeof buf, "%.2f ms", s * 1e3);
  else std::snprintf(buf, sizeof buf, "%.2f s", s);
  return buf;
}

// One markdown table row: | group | case | kiln | peer | ratio | goal | throughput | kiln of ceiling |
// peer of ceiling |. FLOP-counted cases are reported against `peak`, byte-counted ones against `bw`.
inline std::string table_row(const Case& c, const Result& r, double bw, double peak) {
  double ratio = r.torch_s / r.kiln_s;
  char thr[64] = "", frac[32] = "", tfrac[32] = "";
  if (c.flops > 0) {
    std::snprintf(thr, sizeof thr, "%.1f GFLOP/s", c.flops / r.kiln_s / 1e9);
    std::snprintf(frac, sizeof frac, "%.0f%%", 100 * c.flops / r.kiln_s / peak);
    std::snprintf(tfrac, sizeof tfrac, "%.0f%%", 100 * c.flops / r.torch_s / peak);
  } else if (c.bytes > 0) {
    std::snprintf(thr, sizeof thr, "%.1f GB/s", c.bytes / r.kiln_s / 1e9);
    std::snprintf(frac, sizeof frac, "%.0f%%", 100 * c.bytes / r.kiln_s / bw);
    std::snprintf(tfrac, sizeof tfrac, "%.0f%%", 100 * c.bytes / r.torch_s / bw);
  }
  char line[512];
  std::snprintf(line, sizeof line, "| %s | %s | %s | %s | %.2fx%s | %.2gx | %s | %s | %s |\n", c.group.c_str(),
                c.name.c_str(), fmt_time(r.kiln_s).c_str(), fmt_time(r.torch_s).c_str(), ratio,
                ratio >= c.goal ? "" : " (below)", c.goal, thr, frac, tfrac);
  return line;
}

// A table being printed and collected: add() prints one case's row (and counts whether it met its
// goal), finish() prints the summary and writes the whole table to out_path when one is given.
class Table {
 public:
  explicit Table(std::string header) : text_(std::move(header)) { std::cout << text_ << std::flush; }
  void add(const Case& c, const Result& r, double bw, double peak) {
    met_ += r.torch_s / r.kiln_s >= c.goal;
    ++total_;
    std::string line = table_row(c, r, bw, peak);
    std::cout << line << std::flush;
    text_ += line;
  }
  // A row formatted by the caller (for tables with other columns than table_row's), counted as
  // meeting its goal when `met`.
  void add_row(const std::string& line, bool met) {
    met_ += met;
    ++total_;
    std::cout << line << std::flush;
    text_ += line;
  }
  // Free text (notes under the table), printed and kept.
  void add_text(const std::string& text) {
    std::cout << text << std::flush;
    text_ += text;
  }
  // Returns the program's exit code: 1 when the file cannot be written.
  int finish(const std::string& out_path, const char* program) {
    char summary[128];
    std::snprintf(summary, sizeof summary, "\n%d of %d cases meet their goal.\n", met_, total_);
    std::cout << summary;
    text_ += summary;
    if (out_path.empty()) return 0;
    std::ofstream f(out_path);
    f << text_;
    if (!f.good()) {
      std::fprintf(stderr, "%s: cannot write %s\n", program, out_path.c_str());
      return 1;
    }
    return 0;
  }

 private:
  std::string text_;
  int met_ = 0, total_ = 0;
};

}  // namespace kiln::bench::sbs
