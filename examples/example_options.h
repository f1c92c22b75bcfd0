#pragma once
// The command line shared by the MNIST_TINY examples: --epochs N (or a bare EPOCHS when the
// example allows it), --lr X, --batch N, --seed N, --threads N, --data FILE|DIR, --help, plus the
// options an example adds through `extra`.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>

#include "kiln/kernels/error.h"

namespace kiln::examples {

struct ExampleOptions {
  int epochs = 4;
  double lr = 0.05;
  int64_t batch = 64;
  uint64_t seed = 42;
  int threads = 0;
  std::string data;
};

// extra(option, value) handles an example's own options (value() reads the next argument) and
// returns false for an option it does not know. Unknown options are errors; --help prints `usage`
// and exits. The common values are range-checked.
inline void parse_example_options(int argc, char** argv, ExampleOptions& o, const char* usage,
                                  bool positional_epochs,
                                  const std::function<bool(const std::string&, const std::function<std::string()>&)>&
                                      extra = {}) {
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    std::function<std::string()> value = [&]() -> std::string {
      KILN_CHECK(i + 1 < argc, "option ", a, " needs a value");
      return argv[++i];
    };
    if (a == "--epochs") o.epochs = std::stoi(value());
    else if (a == "--lr") o.lr = std::stod(value());
    else if (a == "--batch") o.batch = std::stoll(value());
    else if (a == "--seed") o.seed = std::stoull(value());
    else if (a == "--threads") o.threads = std::stoi(value());
    else if (a == "--data") o.data = value();
    else if (a == "--help" || a == "-h") {
      std::puts(usage);
      std::exit(0);
    } else if (positional_epochs && !a.empty() && a[0] != '-') {
      o.epochs = std::stoi(a);
    } else if (!(extra && extra(a, value))) {
      KILN_FAIL("unknown option '", a, "' (see --help)");
    }
  }
  KILN_CHECK(o.epochs >= 1 && o.batch >= 1 && o.lr > 0, "options out of range: epochs ", o.epochs, ", batch ",
             o.batch, ", lr ", o.lr);
}

}  // namespace kiln::examples
