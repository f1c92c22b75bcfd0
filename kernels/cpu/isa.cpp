#include "kiln/kernels/cpu/isa.h"

#include <atomic>
#include <cstdlib>
#include <cstring>

namespace kiln::cpu {
namespace {

Isa detect() {
#if (defined(__GNUC__) || defined(__clang__)) && (defined(__x86_64__) || defined(__i386__))
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
      __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq") &&
      __builtin_cpu_supports("fma"))
    return Isa::avx512;
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return Isa::avx2;
#endif
  return Isa::baseline;
}

Isa capped(Isa want) {
  Isa have = detected_isa();
  return int(want) < int(have) ? want : have;
}

Isa initial() {
  Isa isa = detected_isa();
  if (const char* env = std::getenv("KILN_ISA")) {
    if (!std::strcmp(env, "baseline")) isa = capped(Isa::baseline);
    else if (!std::strcmp(env, "avx2")) isa = capped(Isa::avx2);
    else if (!std::strcmp(env, "avx512")) isa = capped(Isa::avx512);
  }
  return isa;
}

std::atomic<int>& current() {
  static std::atomic<int> v{int(initial())};
  return v;
}

}  // namespace

Isa detected_isa() {
  static const Isa isa = detect();
  return isa;
}
Isa cpu_isa() { return Isa(current().load(std::memory_order_relaxed)); }
void set_cpu_isa(Isa isa) { current().store(int(capped(isa))); }
const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::avx512: return "avx512";
    case Isa::avx2: return "avx2";
    default: return "baseline";
  }
}

}  // namespace kiln::cpu
